package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/fleetd/fleetd"

// knownViolations are imports that break a rule of docs/design.md's package
// map today and are being removed (issue 11: pkg/ must not import internal/;
// fleetctl links only the API client). Each entry is "importer -> imported",
// module-relative. An entry that no longer occurs fails the test: delete it
// when its import goes, so that this list only shrinks. Never add to it to
// make a new import pass; change the design (and its table) instead.
var knownViolations = []string{}

// row is one line of the package map.
type row struct {
	pkg        string
	layer      string
	mayImport  []string // patterns: a path, or "x/..." for x and below
	importedBy []string // empty: anyone the rules allow
}

// pkgInfo is what `go list -json` says of a package (non-test imports only).
type pkgInfo struct {
	ImportPath string
	Imports    []string
}

func TestPackageMapListsEveryPackage(t *testing.T) {
	rows := packageMap(t)
	listed := map[string]bool{}
	for _, p := range goList(t) {
		listed[p.ImportPath] = true
	}
	var missing, extra []string
	for p := range listed {
		if _, ok := rows[p]; !ok {
			missing = append(missing, p)
		}
	}
	for p := range rows {
		if !listed[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	report(t, "packages of `go list ./...` without a row in docs/design.md's package map: add one", missing)
	report(t, "rows of docs/design.md's package map for packages that do not exist: remove or rename them", extra)
}

func TestImportsFollowThePackageMap(t *testing.T) {
	rows := packageMap(t)
	known := map[string]bool{}
	for _, v := range knownViolations {
		known[v] = false
	}
	var bad []string
	importers := map[string][]string{} // imported -> importers (non-test)
	for _, p := range goList(t) {
		r, ok := rows[p.ImportPath]
		if !ok {
			continue // TestPackageMapListsEveryPackage reports it
		}
		for _, imp := range fleetdImports(p) {
			importers[imp] = append(importers[imp], p.ImportPath)
			if matchesAny(r.mayImport, imp) {
				continue
			}
			edge := p.ImportPath + " -> " + imp
			if _, ok := known[edge]; ok {
				known[edge] = true
				continue
			}
			bad = append(bad, fmt.Sprintf("%s imports %s; its row allows %s", p.ImportPath, imp, describe(r.mayImport)))
		}
	}
	for imp, by := range importers {
		r, ok := rows[imp]
		if !ok || len(r.importedBy) == 0 {
			continue
		}
		for _, importer := range by {
			if !matchesAny(r.importedBy, importer) {
				bad = append(bad, fmt.Sprintf("%s imports %s, which only %s may import", importer, imp, describe(r.importedBy)))
			}
		}
	}
	for edge, seen := range known {
		if !seen {
			bad = append(bad, fmt.Sprintf("knownViolations lists %q, which no longer occurs: delete the entry", edge))
		}
	}
	sort.Strings(bad)
	report(t, "imports against docs/design.md's package map", bad)
}

// TestLayerRules states the rules of the issue in code, so that relaxing a
// row of the table cannot relax them silently.
func TestLayerRules(t *testing.T) {
	rows := packageMap(t)
	for _, r := range rows {
		if !strings.HasPrefix(r.pkg, "pkg/") {
			continue
		}
		for _, m := range r.mayImport {
			require.False(t, strings.HasPrefix(m, "internal"),
				"docs/design.md: %s may import %s, but no package under pkg/ may import internal/", r.pkg, m)
		}
	}
	for _, p := range []string{"pkg/runner", "pkg/diagnose"} {
		require.Empty(t, rows[p].mayImport, "docs/design.md: %s must import no fleetd package", p)
	}
	require.Equal(t, []string{"cmd/ftdsim"}, rows["pkg/sim"].importedBy,
		"docs/design.md: pkg/sim is imported only by cmd/ftdsim (and tests)")

	known := map[string]bool{}
	for _, v := range knownViolations {
		known[v] = true
	}
	for _, p := range goList(t) {
		for _, imp := range fleetdImports(p) {
			edge := p.ImportPath + " -> " + imp
			switch {
			case strings.HasPrefix(p.ImportPath, "pkg/") && strings.HasPrefix(imp, "internal/") && !known[edge]:
				t.Errorf("%s: no package under pkg/ may import internal/", edge)
			case (p.ImportPath == "pkg/runner" || p.ImportPath == "pkg/diagnose"):
				t.Errorf("%s: %s imports no fleetd package", edge, p.ImportPath)
			case imp == "pkg/sim" && p.ImportPath != "cmd/ftdsim":
				t.Errorf("%s: pkg/sim is imported only by cmd/ftdsim and tests", edge)
			}
		}
	}
}

// TestNoCitationsOutsideTheRepository fails when a file cites a document
// that is not in the repository: the design and device facts live in
// docs/design.md and docs/firepower.md, and every citation names them so.
func TestNoCitationsOutsideTheRepository(t *testing.T) {
	root := moduleRoot(t)
	self := filepath.ToSlash(filepath.Join("internal", "archtest", "archtest_test.go"))
	// Built from parts so that this file does not match itself.
	outside := []string{".." + "/shared", "/work" + "/", "DESIGN" + ".md", "STYLE" + ".md"}
	inRepo := []string{"firepower" + ".md", "design" + ".md"}
	var bad []string
	for _, f := range repoFiles(t, root) {
		if f == self {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil || bytes.IndexByte(data, 0) >= 0 {
			continue // unreadable (a submodule, a link) or binary
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			for _, s := range outside {
				if strings.Contains(line, s) {
					bad = append(bad, fmt.Sprintf("%s:%d: cites %q, outside the repository: %s", f, n, s, strings.TrimSpace(line)))
				}
			}
			for _, s := range inRepo {
				for i := 0; ; {
					j := strings.Index(line[i:], s)
					if j < 0 {
						break
					}
					at := i + j
					if !strings.HasSuffix(line[:at], "docs/") {
						bad = append(bad, fmt.Sprintf("%s:%d: cite %q as docs/%s: %s", f, n, s, s, strings.TrimSpace(line)))
					}
					i = at + len(s)
				}
			}
		}
	}
	report(t, "citations of files outside the repository (cite docs/design.md, docs/firepower.md)", bad)
}

// report fails t with one problem per line.
func report(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s (%d):\n\t%s", what, len(problems), strings.Join(problems, "\n\t"))
	}
}

func TestMatch(t *testing.T) {
	require.True(t, match("pkg/...", "pkg/sweep/cron"))
	require.True(t, match("pkg/...", "pkg"))
	require.False(t, match("pkg/...", "pkgx/a"))
	require.True(t, match("pkg/runs", "pkg/runs"))
	require.False(t, match("pkg/runs", "pkg/runs/x"))
}

// packageMap parses the table under "## Package map" in docs/design.md.
func packageMap(t *testing.T) map[string]row {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "docs", "design.md"))
	require.NoError(t, err)
	rows := map[string]row{}
	in := false
	for n, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.TrimSpace(line) == "## Package map"
			continue
		case !in || !strings.HasPrefix(line, "| `"):
			continue
		}
		cells := strings.Split(strings.TrimSpace(line), "|")
		require.Len(t, cells, 7, "docs/design.md:%d: want | Package | Layer | Owns | May import | Imported by |", n+1)
		pkgs := codeSpans(cells[1])
		require.Len(t, pkgs, 1, "docs/design.md:%d: one package per row", n+1)
		r := row{pkg: pkgs[0], layer: strings.TrimSpace(cells[2]),
			mayImport: codeSpans(cells[4]), importedBy: codeSpans(cells[5])}
		require.NotEmpty(t, strings.TrimSpace(cells[3]), "docs/design.md:%d: say what %s owns", n+1, r.pkg)
		if len(r.mayImport) == 0 {
			require.Equal(t, "—", strings.TrimSpace(cells[4]), "docs/design.md:%d: May import is a list of `paths` or —", n+1)
		}
		_, dup := rows[r.pkg]
		require.False(t, dup, "docs/design.md:%d: %s has two rows", n+1, r.pkg)
		rows[r.pkg] = r
	}
	require.NotEmpty(t, rows, "docs/design.md has no \"## Package map\" table")
	return rows
}

// codeSpans returns the `backticked` words of a cell.
func codeSpans(cell string) []string {
	var out []string
	parts := strings.Split(cell, "`")
	for i := 1; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	return out
}

var listed struct {
	pkgs []pkgInfo
	err  error
	done bool
}

// goList runs `go list -json ./...` once per test binary; paths are
// module-relative ("pkg/runs"; the module root itself would be "").
func goList(t *testing.T) []pkgInfo {
	t.Helper()
	if !listed.done {
		listed.done = true
		listed.pkgs, listed.err = runGoList(moduleRoot(t))
	}
	require.NoError(t, listed.err)
	return listed.pkgs
}

func runGoList(root string) ([]pkgInfo, error) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		p.ImportPath = rel(p.ImportPath)
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// fleetdImports are p's non-test imports inside the module, module-relative.
func fleetdImports(p pkgInfo) []string {
	var out []string
	for _, imp := range p.Imports {
		if imp == module || strings.HasPrefix(imp, module+"/") {
			out = append(out, rel(imp))
		}
	}
	return out
}

func rel(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
}

func match(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return pattern == path
}

func matchesAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

func describe(patterns []string) string {
	if len(patterns) == 0 {
		return "no fleetd package"
	}
	return strings.Join(patterns, ", ")
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	gomod := strings.TrimSpace(string(out))
	require.NotEmpty(t, gomod, "not inside the fleetd module")
	return filepath.Dir(gomod)
}

// repoFiles lists the files git tracks, and those it would track (untracked,
// not ignored), relative to root; outside a git checkout, every file below
// root except .git.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err == nil {
		var files []string
		for f := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrNotFound) {
		require.NoError(t, err)
	}
	var files []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			r, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(r))
		}
		return nil
	}))
	return files
}
