package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// TestStateChangeWithoutCSRFTokenIsRefused: every POST of a signed-in
// session needs the session's CSRF token; without it, or with another
// session's, nothing happens.
func TestStateChangeWithoutCSRFTokenIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addDevice(t, "csrf-01", "emea")
	admin := e.signIn(t, auth.RoleAdmin)
	other := e.signIn(t, auth.RoleAdmin)
	for name, token := range map[string]string{"missing": "", "wrong": "x", "another session's": other.csrf} {
		form := url.Values{"reason": {"csrf"}}
		if token != "" {
			form.Set("csrf", token)
		}
		resp, body := admin.postForm("/ui/devices/csrf-01/restart-connector", form)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
		require.Contains(t, body, "CSRF token is missing or wrong", name)
		resp, _ = admin.postForm("/ui/schedules/dis-admin/disable", form)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
		resp, _ = admin.postForm("/ui/signout", form)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
	}
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM remediation_requests`).Scan(&n))
	require.Zero(t, n)
	scheduleEnabled("dis-", true)(t, e, "admin")
	// The session survived the forged sign-outs.
	resp, _ := admin.get("/ui/")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// With the token it works.
	resp, body := admin.post("/ui/devices/csrf-01/restart-connector", url.Values{"reason": {"csrf"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)

	// Sign-in itself needs its form's token (login CSRF).
	b := e.newBrowser(t)
	resp, body = b.postForm("/ui/signin", url.Values{"token": {e.tokens[auth.RoleAdmin]}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Empty(t, b.c.Jar.Cookies(mustURL(t, e.ts.URL+"/ui/")), "no session without the form's token")
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// TestSessionExpires: idle timeout, absolute expiry, sign-out and the
// token's revocation each end a session.
func TestSessionExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.backend.Config.UI

	// Idle: used just before the timeout it lives on; unused past it, gone.
	b := e.signIn(t, auth.RoleViewer)
	e.clock.Advance(cfg.SessionIdle - time.Minute)
	resp, _ := b.get("/ui/")
	require.Equal(t, http.StatusOK, resp.StatusCode, "used within the idle timeout")
	e.clock.Advance(cfg.SessionIdle - time.Minute)
	resp, _ = b.get("/ui/")
	require.Equal(t, http.StatusOK, resp.StatusCode, "each use moves the idle expiry")
	e.clock.Advance(cfg.SessionIdle + time.Second)
	resp, _ = b.get("/ui/devices")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "idle too long")
	require.Equal(t, "/ui/signin?next=%2Fui%2Fdevices", resp.Header.Get("Location"))
	resp, body := b.post("/ui/schedules/en-viewer/enable", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)

	// Absolute: kept busy, it still ends at max age.
	b = e.signIn(t, auth.RoleViewer)
	for used := time.Duration(0); used < cfg.SessionMaxAge-cfg.SessionIdle; used += cfg.SessionIdle / 2 {
		e.clock.Advance(cfg.SessionIdle / 2)
		resp, _ = b.get("/ui/")
		require.Equal(t, http.StatusOK, resp.StatusCode, "busy session at %v", used)
	}
	e.clock.Advance(cfg.SessionIdle)
	resp, _ = b.get("/ui/")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "past max age")

	// Sign-out ends it on the server: the old cookie is worthless.
	b = e.signIn(t, auth.RoleViewer)
	cookies := b.c.Jar.Cookies(mustURL(t, e.ts.URL+"/ui/"))
	resp, _ = b.post("/ui/signout", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	replay := e.newBrowser(t)
	replay.c.Jar.SetCookies(mustURL(t, e.ts.URL+"/ui/"), cookies)
	resp, _ = replay.get("/ui/")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a signed-out session is gone")

	// Revoking the token ends its sessions at once.
	tok, _, err := e.backend.Auth.Create(context.Background(), "test", "t-revokeme", auth.RoleAdmin)
	require.NoError(t, err)
	b = e.newBrowser(t)
	b.signInWith(tok)
	require.NoError(t, e.backend.Auth.Revoke(context.Background(), "test", "t-revokeme"))
	resp, _ = b.get("/ui/")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "revoked token")

	// A bad token does not sign in.
	b = e.newBrowser(t)
	resp, body = b.get("/ui/signin")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, body = b.postForm("/ui/signin", url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}, "token": {"fleetd_nope"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, body, "invalid or revoked")

	// Only a hash of each session id is stored.
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM console_sessions`).Scan(&n))
	require.Positive(t, n)
	for _, c := range cookies {
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM console_sessions WHERE position(convert_to($1, 'UTF8') in id_hash) > 0`, c.Value).Scan(&n))
		require.Zero(t, n)
	}
}

// TestCookiesAndHeaders: the session cookie is HttpOnly, SameSite=Strict,
// and Secure under TLS; every page carries the strict CSP and no inline
// script or style.
func TestCookiesAndHeaders(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		e := newEnvWith(t, testConfig(), app.Options{}, tls)
		e.addDevice(t, "hdr-01", "emea")
		b := e.newBrowser(t)
		_, body := b.get("/ui/signin")
		resp, _ := b.postForm("/ui/signin", url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}, "token": {e.tokens[auth.RoleAdmin]}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "fleetd_session" {
				session = c
			}
		}
		require.NotNil(t, session)
		require.True(t, session.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, session.SameSite)
		require.Equal(t, "/ui/", session.Path)
		require.Equal(t, tls, session.Secure, "Secure exactly under TLS")
		require.Positive(t, session.MaxAge)

		_, body = b.get("/ui/")
		b.csrf = csrfRE.FindStringSubmatch(body)[1]
		for _, p := range []string{"/ui/", "/ui/devices", "/ui/devices/hdr-01", "/ui/runs", "/ui/approvals", "/ui/audit", "/ui/schedules", "/ui/signin", "/ui/nope"} {
			resp, body := b.get(p)
			csp := resp.Header.Get("Content-Security-Policy")
			require.Contains(t, csp, "script-src 'self'", p)
			require.Contains(t, csp, "style-src 'self'", p)
			require.Contains(t, csp, "default-src 'none'", p)
			require.NotContains(t, csp, "unsafe-inline", p)
			require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), p)
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), p)
			require.NotRegexp(t, `<script(\s[^>]*)?>[^<]`, body, "%s: inline script", p)
			for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
				require.Contains(t, m, `src="/ui/static/`, p)
			}
			require.NotContains(t, body, "<style", p)
			require.NotRegexp(t, `\sstyle=`, body, "%s: inline style attribute", p)
			require.NotRegexp(t, `\son[a-z]+=`, body, "%s: inline event handler", p)
		}
		resp, body = b.get("/ui/static/console.js")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, "data-poll")
	}
}

// TestApprovalTwoPersonRule: the requester sees why they cannot approve
// and their forged POST is refused by the remediation service; an
// approver who is not the requester approves with two clicks (page, button).
func TestApprovalTwoPersonRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addDevice(t, "two-01", "emea")
	approverTok, _, err := e.backend.Auth.Create(context.Background(), "test", "lead-2", auth.RoleApprover)
	require.NoError(t, err)

	// An approver requests the restart from the device page.
	requester := e.signIn(t, auth.RoleApprover)
	resp, body := requester.post("/ui/devices/two-01/restart-connector", url.Values{"reason": {"eventhandler down"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/ui/requests/"), loc)
	reqPath := strings.TrimSuffix(loc, "?done=requested")

	// The exact preview, and why the requester cannot approve.
	resp, body = requester.get(reqPath)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "You requested this: another approver must approve it (two-person rule).")
	require.NotContains(t, body, `id="approve"`)
	require.Contains(t, body, "two-01")
	require.Contains(t, body, "127.14.0.1")
	require.Contains(t, body, "SHA256:", "the frozen host key")
	require.Contains(t, body, "pmtool", "the commands")
	hash := regexp.MustCompile(`<code>(v2:[^<]+|[0-9a-f]{16,})</code>`).FindStringSubmatch(body)
	require.NotNil(t, hash, "params hash shown")

	// A forged approve is refused by the service, whatever the page showed.
	resp, body = requester.post(reqPath+"/approve", url.Values{"comment": {"me"}, "params_hash": {hash[1]}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, "self_approval")
	id := strings.TrimPrefix(reqPath, "/ui/requests/")
	var state string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT state FROM remediation_requests WHERE id = $1`, id).Scan(&state))
	require.Equal(t, "pending", state)

	// The Approvals page previews it, with the same reason instead of buttons.
	_, body = requester.get("/ui/approvals")
	require.Contains(t, body, `id="pending-`+id+`"`)
	require.Contains(t, body, "pmtool")
	require.Contains(t, body, "You requested this")
	require.NotContains(t, body, `action="/ui/requests/`+id+`/approve"`)

	// An operator sees that approving needs a higher role.
	op := e.signIn(t, auth.RoleOperator)
	_, body = op.get(reqPath)
	require.Contains(t, body, "Approving needs role approver or admin; you (t-operator) are operator.")

	// Another approver: a stale params hash is refused, the shown one approves.
	lead := e.newBrowser(t)
	lead.signInWith(approverTok)
	_, body = lead.get("/ui/approvals")
	require.Contains(t, body, `action="/ui/requests/`+id+`/approve"`, "approve from the Approvals page")
	_, body = lead.get(reqPath)
	require.Contains(t, body, `id="approve"`)
	resp, body = lead.post(reqPath+"/approve", url.Values{"params_hash": {"v2:stale"}})
	require.Equal(t, http.StatusConflict, resp.StatusCode, body)
	resp, _ = lead.post(reqPath+"/approve", url.Values{"comment": {"go"}, "params_hash": {hash[1]}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT state FROM remediation_requests WHERE id = $1`, id).Scan(&state))
	require.NotEqual(t, string(remediate.StatePending), state)
	_, body = lead.get(reqPath + "?done=approved")
	require.Contains(t, body, "Approved.")
	require.Contains(t, body, "lead-2")
}

// TestConsoleCanBeTurnedOff: ui.enabled false serves no console; the API
// is unchanged.
func TestConsoleCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.UI.Enabled = false
	e := newEnvWith(t, cfg, app.Options{}, false)
	require.Nil(t, e.backend.Console)
	b := e.newBrowser(t)
	resp, body := b.get("/ui/signin")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, `"not_found"`)
	resp, _ = b.get("/readyz")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
