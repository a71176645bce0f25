package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
)

// repoFile is a path under the repository root (this file is four levels down).
func repoFile(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "..", ".."}, parts...)...)
}

// e2eServer is fleetd's real API (real stores, fresh database, the example
// config) on an httptest listener; it returns the URL and a token per role.
func e2eServer(t *testing.T) (string, map[auth.Role]string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(repoFile("config", "fleetd.example.yaml"))
	require.NoError(t, err)
	pool := testdb.New(t)
	backend, err := app.New(ctx, app.Options{Config: cfg, Pool: pool})
	require.NoError(t, err)
	srv, err := apiserver.New(backend.APIDeps())
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	tokens := map[auth.Role]string{}
	for _, r := range auth.AllRoles() {
		tok, _, err := backend.Auth.Create(ctx, "test", "e2e-"+r.String(), r)
		require.NoError(t, err)
		tokens[r] = tok
	}
	return ts.URL, tokens
}

// exampleDevices reads the names and sites of config/inventory.example.csv.
func exampleDevices(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(repoFile("config", "inventory.example.csv"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "name,") {
			continue
		}
		f := strings.Split(line, ",")
		out[f[0]] = f[2]
	}
	require.NotEmpty(t, out)
	return out
}

func TestEndToEndImportAndList(t *testing.T) {
	t.Parallel()
	server, tokens := e2eServer(t)
	home := t.TempDir()
	env := func(r auth.Role) map[string]string {
		return map[string]string{"FLEETCTL_SERVER": server, "FLEETCTL_TOKEN": tokens[r], "HOME": home}
	}
	want := exampleDevices(t)
	inventoryFile := repoFile("config", "inventory.example.csv")

	// A viewer may not import: 403, exit 1, the server's words.
	code, _, stderr := runCLI(t, env(auth.RoleViewer), "device", "import", inventoryFile)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "error: POST /v1/devices/import needs role operator or higher")

	// Dry run, then the real import, as an operator.
	code, stdout, stderr := runCLI(t, env(auth.RoleOperator), "device", "import", inventoryFile, "--dry-run", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var plan api.ImportResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &plan))
	require.True(t, plan.DryRun)
	require.Len(t, plan.Added, len(want))

	code, stdout, stderr = runCLI(t, env(auth.RoleOperator), "device", "import", inventoryFile)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, len(want), strings.Count(stdout, "add\t"), "piped: one tab-separated row per device: %s", stdout)
	require.Contains(t, stderr, "Imported "+inventoryFile+": ")

	// Table for people (a terminal): a header, then aligned rows.
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	vEnv := env(auth.RoleViewer)
	code = Main(context.Background(), []string{"device", "list"}, Env{IO: ios, Getenv: func(k string) string { return vEnv[k] }})
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, len(want)+1)
	require.Regexp(t, `^NAME +KIND +SITE +ADDRESS +CREDENTIAL +MODEL +VERSION +TAGS$`, lines[0])
	require.Regexp(t, `^fmc-amer-01 +fmc +amer +127\.1\.0\.4 +lab +- +- +env=lab;role=manager$`, lines[1])

	// And for pipes: no header, tab-separated.
	code, stdout, _ = runCLI(t, env(auth.RoleViewer), "device", "list")
	require.Equal(t, 0, code)
	lines = strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, len(want))
	for _, l := range lines {
		f := strings.Split(l, "\t")
		require.Len(t, f, 8)
		require.Equal(t, want[f[0]], f[2], "site of %s", f[0])
	}

	// JSON with docs/design.md's field names.
	code, stdout, _ = runCLI(t, env(auth.RoleViewer), "device", "list", "-o", "json")
	require.Equal(t, 0, code)
	var devs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &devs))
	require.Len(t, devs, len(want))
	for _, d := range devs {
		for _, k := range []string{"name", "kind", "site", "address", "credential", "tags", "managed_by"} {
			require.Contains(t, d, k)
		}
		require.Equal(t, want[d["name"].(string)], d["site"])
	}

	// Filters and show.
	code, stdout, _ = runCLI(t, env(auth.RoleViewer), "device", "list", "--site", "emea", "--kind", "ftd", "-o", "json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &devs))
	require.NotEmpty(t, devs)
	for _, d := range devs {
		require.Equal(t, "emea", d["site"])
		require.Equal(t, "ftd", d["kind"])
	}
	name := devs[0]["name"].(string)
	code, stdout, _ = runCLI(t, env(auth.RoleViewer), "device", "show", name)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "name:\t"+name+"\n")

	// Re-import changes nothing; rm removes one device, then it is gone (exit 1, 404).
	code, _, stderr = runCLI(t, env(auth.RoleOperator), "device", "import", inventoryFile)
	require.Equal(t, 0, code)
	require.Contains(t, stderr, "0 added, 0 changed, "+strconv.Itoa(len(want))+" unchanged")
	code, stdout, _ = runCLI(t, env(auth.RoleOperator), "device", "rm", name)
	require.Equal(t, 0, code)
	require.Equal(t, "Removed device "+name+"\n", stdout)
	code, _, stderr = runCLI(t, env(auth.RoleViewer), "device", "show", name)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `error: device "`+name+`": no such device`)

	// The audit trail names the operator token.
	code, stdout, _ = runCLI(t, env(auth.RoleAdmin), "audit", "list", "--action", "device.delete", "-o", "json")
	require.Equal(t, 0, code)
	var events []api.AuditEvent
	require.NoError(t, json.Unmarshal([]byte(stdout), &events))
	require.Len(t, events, 1)
	require.Equal(t, "e2e-operator", events[0].Actor)
	require.Equal(t, name, events[0].Target)

	// whoami via the config file instead of the environment.
	cfgFile := filepath.Join(t.TempDir(), "fleetctl.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("server: "+server+"\ntoken: "+tokens[auth.RoleApprover]+"\n"), 0o600))
	code, stdout, _ = runCLI(t, map[string]string{"FLEETCTL_CONFIG": cfgFile}, "whoami", "-o", "yaml")
	require.Equal(t, 0, code)
	require.Equal(t, "name: e2e-approver\nrole: approver\n", stdout)
}

func TestEndToEndBadInventory(t *testing.T) {
	t.Parallel()
	server, tokens := e2eServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(file, []byte("name,kind,site,address,credential\n"+
		"ok-01,ftd,emea,127.0.0.1,lab\n"+
		"bad kind,asa,emea,127.0.0.2,lab\n"+
		"x-01,ftd,nowhere,127.0.0.3,nocred\n"), 0o600))
	env := map[string]string{"FLEETCTL_SERVER": server, "FLEETCTL_TOKEN": tokens[auth.RoleOperator], "HOME": dir}
	code, stdout, stderr := runCLI(t, env, "device", "import", file)
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "error: bad.csv: ")
	require.Contains(t, stderr, "nothing was written")
	for _, loc := range []string{file + ":3: name: ", file + ":3: kind: ", file + ":4: site: ", file + ":4: credential: "} {
		require.Contains(t, stderr, loc)
	}
	code, stdout, _ = runCLI(t, env, "device", "list", "-o", "json")
	require.Equal(t, 0, code)
	require.Equal(t, "[]\n", stdout, "nothing was imported")

	env["FLEETCTL_TOKEN"] = tokens[auth.RoleOperator] + "x"
	code, _, stderr = runCLI(t, env, "device", "list")
	require.Equal(t, 1, code)
	require.Equal(t, "error: invalid or revoked token\nhint: check the token (--token, FLEETCTL_TOKEN or the config file)\n", stderr)
}
