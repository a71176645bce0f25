package main

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/api"
)

func runFleetd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fleetd.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// startServe runs serve in the background and returns its base URL; the
// server stops (and serve's error is checked) when the test ends.
func startServe(t *testing.T, cfg config.Config, log *zap.Logger) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "graceful shutdown returns nil")
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop after its context was cancelled")
		}
	})
	return "http://" + addr.String()
}

func TestServeTokenAndMigrate(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	cfgFile := writeConfig(t, "database:\n  url: "+dbURL+"\napi:\n  listen: 127.0.0.1:0\n")
	cfg, err := config.Load(cfgFile)
	require.NoError(t, err)
	base := startServe(t, cfg, zap.NewNop())

	code, stdout, stderr := runFleetd(t, "token", "create", "--config", cfgFile, "--name", "ops", "--role", "approver")
	require.Equal(t, 0, code, stderr)
	token := strings.TrimSpace(stdout)
	require.Regexp(t, `^fleetd_[A-Za-z0-9_-]{43}$`, token, "stdout is the token alone, for $(...)")
	require.Contains(t, stderr, `created token "ops" with role approver; it is shown only this once`)

	c, err := api.NewClient(base, token)
	require.NoError(t, err)
	require.NoError(t, c.Ready(context.Background()))
	id, err := c.WhoAmI(context.Background())
	require.NoError(t, err)
	require.Equal(t, api.Identity{Name: "ops", Role: "approver"}, id)

	code, stdout, _ = runFleetd(t, "token", "list", "--config", cfgFile)
	require.Equal(t, 0, code)
	require.Regexp(t, `(?m)^ops +approver +local`, stdout)
	require.NotContains(t, stdout, token)

	code, stdout, _ = runFleetd(t, "token", "revoke", "ops", "--config", cfgFile)
	require.Equal(t, 0, code)
	require.Equal(t, "revoked token \"ops\"\n", stdout)
	_, err = c.WhoAmI(context.Background())
	var ae *api.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 401, ae.Status)

	// serve migrated the database; status says so.
	code, stdout, stderr = runFleetd(t, "migrate", "status", "--config", cfgFile)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `(?m)^fleetd +1 +001_foundation\.sql +yes`, stdout)
	require.NotRegexp(t, `(?m) no +-$`, stdout, "every migration is applied")
	code, stdout, _ = runFleetd(t, "migrate", "--config", cfgFile, "--log-level", "error")
	require.Equal(t, 0, code)
	require.Equal(t, "database is up to date\n", stdout)
}

func TestServeWarnsWithoutTLSOffLoopback(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Database.URL = testdb.URL(t)
	cfg.API.Listen = "0.0.0.0:0"
	core, logs := observer.New(zap.InfoLevel)
	startServe(t, cfg, zap.New(core))
	require.Equal(t, 1, logs.FilterMessageSnippet("WITHOUT TLS").Len())

	cfg.API.Listen = "127.0.0.1:0"
	core, logs = observer.New(zap.InfoLevel)
	startServe(t, cfg, zap.New(core))
	require.Equal(t, 0, logs.FilterMessageSnippet("WITHOUT TLS").Len())
	require.Equal(t, 1, logs.FilterMessage("API listening").Len())
}

func TestServeWarnsAboutUnrestrictedSitesAndCredentials(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Database.URL = testdb.URL(t)
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Sites = map[string]config.Site{
		"emea": {Region: "eu", Timezone: "UTC", HostKeyPolicy: "strict", RebootTimeout: time.Minute,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}},
		"amer": {Region: "us", Timezone: "UTC", HostKeyPolicy: "strict", RebootTimeout: time.Minute},
	}
	cfg.Credentials = map[string]config.Credential{
		"lab":  {Username: "admin", PasswordEnv: "X_PW"},
		"emea": {Username: "admin", PasswordEnv: "X_PW", Sites: []string{"emea"}},
	}
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zap.InfoLevel)
	startServe(t, cfg, zap.New(core))
	w := logs.FilterMessageSnippet("sites without allowed_networks").All()
	require.Len(t, w, 1)
	require.Equal(t, []any{"amer"}, w[0].ContextMap()["sites"])
	w = logs.FilterMessageSnippet("credentials without sites").All()
	require.Len(t, w, 1)
	require.Equal(t, []any{"lab"}, w[0].ContextMap()["credentials"])
}

func TestUsageAndConfigErrors(t *testing.T) {
	t.Parallel()
	good := writeConfig(t, "database:\n  url: postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1\n")
	bad := writeConfig(t, "databse:\n  url: x\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown command", []string{"srve"}, 2, `unknown command "srve" for "fleetd"`},
		{"unknown flag", []string{"serve", "--listen", "x"}, 2, "unknown flag: --listen"},
		{"token without name", []string{"token", "create", "--role", "admin"}, 2, "--name is required"},
		{"token bad role", []string{"token", "create", "--name", "x", "--role", "boss"}, 2, `unknown role "boss"`},
		{"migrate bad action", []string{"migrate", "sideways"}, 2, `unknown migrate action "sideways"`},
		{"bad log level", []string{"migrate", "status", "--config", good, "--log-level", "loud"}, 2, `log level "loud"`},
		{"config unknown key", []string{"migrate", "status", "--config", bad}, 1, "databse"},
		{"database down", []string{"migrate", "status", "--config", good}, 1, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runFleetd(t, tt.args...)
			require.Equal(t, tt.wantCode, code, stderr)
			require.Contains(t, stderr, tt.wantErr)
		})
	}
}
