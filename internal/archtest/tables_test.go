package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tableOwners says which package owns each table of migrations/*.sql: the
// one package whose non-test code may name it in SQL. Every other package
// reaches the table through the owner's store, or through an SQL building
// block the owner exports (a documented function returning a fragment, like
// inventory.JobDeviceSQL or runs.SummarySQL, whose text lives in the owner's
// files) when the caller's query must stay one round trip. A new table
// needs a row here. River's own tables (river_job, ...) are not in
// migrations/ and not checked: internal/jobs owns the client, and the few
// reads of river_job elsewhere (pkg/runs' reaper, pkg/metrics' gauges) use
// River's schema as River documents it.
var tableOwners = map[string]string{
	"sites":                "pkg/inventory",
	"credentials":          "pkg/inventory",
	"devices":              "pkg/inventory",
	"host_keys":            "pkg/inventory",
	"api_tokens":           "pkg/auth",
	"console_sessions":     "pkg/auth",
	"audit_events":         "pkg/audit",
	"runs":                 "pkg/runs",
	"run_devices":          "pkg/runs",
	"run_transcripts":      "pkg/runs",
	"device_status":        "pkg/runs",
	"run_leases":           "pkg/runs",
	"remediation_requests": "pkg/remediate",
	"remediation_devices":  "pkg/remediate",
	"remediation_steps":    "pkg/remediate",
	"sweep_schedules":      "pkg/sweep",
	"sweep_reports":        "pkg/sweep",
	"fleetd_replicas":      "internal/jobs",
}

// knownTableAccess are "package -> table" uses of another package's table
// that are being removed (issue 11). Like knownViolations, an entry that no
// longer occurs fails the test: delete it when its SQL goes, so that this
// list only shrinks. Never add to it to make new SQL pass: ask the owner's
// store (or its building block) instead.
var knownTableAccess = []string{}

// sqlTable finds a table named after an SQL keyword. The code writes SQL
// keywords in upper case, which keeps prose ("read from devices") out.
var sqlTable = regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|TABLE|ONLY)\s+([a-z_][a-z0-9_]*)\b`)

var createTable = regexp.MustCompile(`(?i)\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)`)

func TestTableOwnersCoverTheMigrations(t *testing.T) {
	root := moduleRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "migrations", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	created := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range createTable.FindAllStringSubmatch(string(data), -1) {
			created[m[1]] = true
		}
	}
	var missing, extra []string
	for tbl := range created {
		if _, ok := tableOwners[tbl]; !ok {
			missing = append(missing, tbl)
		}
	}
	for tbl := range tableOwners {
		if !created[tbl] {
			extra = append(extra, tbl)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	report(t, "tables created in migrations/ without an owner in tableOwners: add one", missing)
	report(t, "tableOwners lists tables no migration creates: remove them", extra)
	rows := packageMap(t)
	for tbl, owner := range tableOwners {
		_, ok := rows[owner]
		require.True(t, ok, "tableOwners: %s is owned by %s, which has no row in docs/design.md's package map", tbl, owner)
	}
}

// TestPackagesUseOnlyTheirOwnTables fails when a non-test Go file names, in
// an SQL string, a table another package owns.
func TestPackagesUseOnlyTheirOwnTables(t *testing.T) {
	root := moduleRoot(t)
	known := map[string]bool{}
	for _, v := range knownTableAccess {
		known[v] = false
	}
	var bad []string
	for _, f := range repoFiles(t, root) {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		pkg := filepath.ToSlash(filepath.Dir(f))
		if pkg == "migrations" {
			continue
		}
		for _, use := range sqlTables(t, filepath.Join(root, f)) {
			owner, ok := tableOwners[use.table]
			if !ok || owner == pkg {
				continue
			}
			edge := pkg + " -> " + use.table
			if _, ok := known[edge]; ok {
				known[edge] = true
				continue
			}
			bad = append(bad, fmt.Sprintf("%s:%d: names table %s, which %s owns: use its store", f, use.line, use.table, owner))
		}
	}
	for edge, seen := range known {
		if !seen {
			bad = append(bad, fmt.Sprintf("knownTableAccess lists %q, which no longer occurs: delete the entry", edge))
		}
	}
	sort.Strings(bad)
	report(t, "SQL naming another package's table", bad)
}

func TestSQLTables(t *testing.T) {
	got := func(s string) []string {
		var out []string
		for _, m := range sqlTable.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	require.Equal(t, []string{"run_devices", "runs", "devices", "host_keys"},
		got("FROM run_devices rd JOIN runs r ON r.id = rd.run_id\n\t\tLEFT JOIN devices d ON true LEFT JOIN host_keys hk"))
	require.Equal(t, []string{"device_status", "runs", "sweep_schedules"},
		got("INSERT INTO device_status AS s; UPDATE runs r SET; LOCK TABLE sweep_schedules IN"))
	require.Empty(t, got("select devices from the inventory: %w"))
}

type tableUse struct {
	table string
	line  int
}

// sqlTables returns the tables named in the string literals of a Go file,
// and those of pgx.Identifier{"table"} (CopyFrom's target).
func sqlTables(t *testing.T, path string) []tableUse {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	require.NoError(t, err)
	var out []tableUse
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CompositeLit:
			if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Identifier" {
				for _, e := range n.Elts {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							out = append(out, tableUse{s, fset.Position(lit.Pos()).Line})
						}
					}
				}
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(n.Value)
			if err != nil {
				return true
			}
			line := fset.Position(n.Pos()).Line
			for _, m := range sqlTable.FindAllStringSubmatchIndex(s, -1) {
				out = append(out, tableUse{s[m[2]:m[3]], line + strings.Count(s[:m[2]], "\n")})
			}
		}
		return true
	})
	return out
}
