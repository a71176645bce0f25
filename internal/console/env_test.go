package console_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// testEnv is fleetd's API with the console, as internal/app builds it
// (without job workers), on an httptest listener, with a token per role
// and a clock the test moves.
type testEnv struct {
	backend *app.App
	pool    *pgxpool.Pool
	ts      *httptest.Server
	clock   *remediate.ManualClock
	tokens  map[auth.Role]string
}

func testConfig() config.Config {
	cfg := config.Default()
	cfg.Sites = map[string]config.Site{
		"emea": {Region: "eu", Timezone: "Europe/Amsterdam", HostKeyPolicy: "strict"},
		"amer": {Region: "us", Timezone: "America/New_York", HostKeyPolicy: "strict"},
	}
	cfg.Credentials = map[string]config.Credential{"lab": {Username: "admin", PasswordEnv: "FLEETD_LAB_PASSWORD"}}
	off, on := false, true
	for _, r := range auth.AllRoles() {
		cfg.Schedules = append(cfg.Schedules,
			config.Schedule{Name: "en-" + r.String(), Cron: "0 3 * * *", Selector: config.Selector{All: true}, Enabled: &off},
			config.Schedule{Name: "dis-" + r.String(), Cron: "0 3 * * *", Selector: config.Selector{All: true}, Enabled: &on})
	}
	return cfg
}

func newEnv(t testing.TB, opts ...func(*config.Config)) *testEnv {
	t.Helper()
	cfg := testConfig()
	for _, o := range opts {
		o(&cfg)
	}
	return newEnvWith(t, cfg, app.Options{}, false)
}

func newEnvWith(t testing.TB, cfg config.Config, o app.Options, tls bool) *testEnv {
	t.Helper()
	ctx := context.Background()
	clock := remediate.NewManualClock(time.Now())
	o.Config, o.Clock = cfg, clock
	if o.Pool == nil {
		o.Pool = testdb.New(t)
	}
	backend, err := app.New(ctx, o)
	require.NoError(t, err)
	srv, err := apiserver.New(backend.APIDeps())
	require.NoError(t, err)
	var ts *httptest.Server
	if tls {
		ts = httptest.NewTLSServer(srv.Handler())
	} else {
		ts = httptest.NewServer(srv.Handler())
	}
	t.Cleanup(ts.Close)
	e := &testEnv{backend: backend, pool: o.Pool, ts: ts, clock: clock, tokens: map[auth.Role]string{}}
	for _, r := range auth.AllRoles() {
		tok, _, err := backend.Auth.Create(ctx, "test", "t-"+r.String(), r)
		require.NoError(t, err)
		e.tokens[r] = tok
	}
	return e
}

// addDevice puts a device into the inventory with a pinned host key, so
// that remediation requests can freeze its identity.
func (e *testEnv) addDevice(t testing.TB, name, site string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.backend.Inventory.Add(ctx, "seed", inventory.Device{Name: name, Kind: inventory.KindFTD,
		Site: site, Address: "127.14.0.1", Credential: "lab", Tags: map[string]string{"rack": "r1"}})
	require.NoError(t, err)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	require.ErrorIs(t, e.backend.Inventory.CheckHostKey(ctx, name, "127.14.0.1:22", key, inventory.PolicyStrict),
		inventory.ErrHostKeyUnknown)
	_, err = e.pool.Exec(ctx, `UPDATE host_keys SET state = 'pinned', pinned_by = 'seed', pinned_at = now()
		WHERE device_id = (SELECT id FROM devices WHERE name = $1)`, name)
	require.NoError(t, err)
}

// browser is a cookie-keeping client signed in to the console.
type browser struct {
	t    testing.TB
	e    *testEnv
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// newBrowser is a client with a cookie jar that does not follow redirects
// (tests look at them).
func (e *testEnv) newBrowser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Transport: e.ts.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, e: e, c: c}
}

// signIn signs in with role's token and keeps the session's CSRF token.
func (e *testEnv) signIn(t testing.TB, role auth.Role) *browser {
	t.Helper()
	b := e.newBrowser(t)
	b.signInWith(e.tokens[role])
	return b
}

func (b *browser) signInWith(token string) {
	b.t.Helper()
	resp, body := b.get("/ui/signin")
	require.Equal(b.t, http.StatusOK, resp.StatusCode)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(b.t, m, "sign-in form has a CSRF token")
	resp, body = b.postForm("/ui/signin", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/ui/"}})
	require.Equal(b.t, http.StatusSeeOther, resp.StatusCode, body)
	resp, body = b.get("/ui/")
	require.Equal(b.t, http.StatusOK, resp.StatusCode, body)
	m = csrfRE.FindStringSubmatch(body)
	require.NotNil(b.t, m, "signed-in pages carry the CSRF token")
	b.csrf = m[1]
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.ts.URL+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

func (b *browser) postForm(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.ts.URL+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// post sends a form with the session's CSRF token.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf)
	return b.postForm(path, form)
}
