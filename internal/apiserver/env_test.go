package apiserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// testEnv is a real API server (fleetd's backend as internal/app builds it,
// without job workers, over a fresh migrated database) on an httptest
// listener, with one token per role.
type testEnv struct {
	pool   *pgxpool.Pool
	inv    *inventory.Store
	srv    *apiserver.Server
	ts     *httptest.Server
	tokens map[auth.Role]string
	logs   *observer.ObservedLogs
	rem    *remediate.Service
}

const testMaxBody = 64 << 10

func testConfig() config.Config {
	cfg := config.Default()
	cfg.API.MaxBodyBytes = testMaxBody
	cfg.Sites = map[string]config.Site{
		"emea": {Region: "eu", Timezone: "Europe/Amsterdam", HostKeyPolicy: "strict",
			MaintenanceWindow: config.MaintenanceWindow{Weekdays: []string{"sun"}, Start: "02:00", Duration: 2 * time.Hour}},
		"amer": {Region: "us", Timezone: "America/New_York", HostKeyPolicy: "strict"},
		"apjc": {Region: "apj", Timezone: "Asia/Singapore", HostKeyPolicy: "tofu"},
	}
	cfg.Credentials = map[string]config.Credential{"lab": {Username: "admin", PasswordEnv: "FLEETD_LAB_PASSWORD"}}
	return cfg
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvConfig(t, testConfig())
}

// newTestEnvConfig is newTestEnv with another config (e.g. allowed_networks).
func newTestEnvConfig(t *testing.T, cfg config.Config) *testEnv {
	t.Helper()
	ctx := context.Background()
	pool := testdb.New(t)
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)

	// Per role, a schedule to enable (en-ROLE, off) and one to disable
	// (dis-ROLE, on), for the route matrix.
	off, on := false, true
	for _, r := range auth.AllRoles() {
		cfg.Schedules = append(cfg.Schedules,
			config.Schedule{Name: "en-" + r.String(), Cron: "0 3 * * *", Selector: config.Selector{All: true}, Enabled: &off},
			config.Schedule{Name: "dis-" + r.String(), Cron: "0 3 * * *", Selector: config.Selector{All: true}, Enabled: &on})
	}
	cfg.Jobs.MaxAttempts = 2
	backend, err := app.New(ctx, app.Options{Config: cfg, Pool: pool, Log: log})
	require.NoError(t, err)
	srv, err := apiserver.New(backend.APIDeps())
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	e := &testEnv{pool: pool, inv: backend.Inventory, srv: srv, ts: ts, tokens: map[auth.Role]string{}, logs: logs,
		rem: backend.Remediation}
	for _, r := range auth.AllRoles() {
		tok, _, err := backend.Auth.Create(ctx, "test", "t-"+r.String(), r)
		require.NoError(t, err)
		e.tokens[r] = tok
	}
	return e
}

func (e *testEnv) client(t *testing.T, r auth.Role) *api.Client {
	t.Helper()
	c, err := api.NewClient(e.ts.URL, e.tokens[r])
	require.NoError(t, err)
	return c
}

// addDevice puts a device straight into the store.
func (e *testEnv) addDevice(t *testing.T, name, site string) {
	t.Helper()
	_, err := e.inv.Add(context.Background(), "seed", inventory.Device{Name: name, Kind: inventory.KindFTD,
		Site: site, Address: "127.0.0.1", Credential: "lab"})
	require.NoError(t, err)
}

// pendingHostKey makes the device present a fresh key under the strict
// policy, which records it as pending.
func (e *testEnv) pendingHostKey(t *testing.T, device string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	err = e.inv.CheckHostKey(context.Background(), device, "127.0.0.1:22", key, inventory.PolicyStrict)
	require.ErrorIs(t, err, inventory.ErrHostKeyUnknown)
	return ssh.FingerprintSHA256(key)
}

// raw sends a request with full control over headers and body.
func (e *testEnv) raw(t *testing.T, method, path, token, contentType, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}
