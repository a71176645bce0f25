package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// pageSample is the role policy of one console route and a request that
// succeeds when the caller is allowed; resources an action changes are
// named after the calling role.
type pageSample struct {
	public  bool
	minRole auth.Role
	path    func(role string) string
	form    func(role string) url.Values
	setup   func(t *testing.T, e *testEnv, role string)
	want    int
	// unchanged proves a denied action had no effect.
	unchanged func(t *testing.T, e *testEnv, role string)
}

const e0RunID = "00000000-0000-4000-8000-000000000001"

func fixed(p string) func(string) string { return func(string) string { return p } }

var requestIDs sync.Map

// requestFor creates a pending restart of shared-01 requested by requester
// ("" = the calling role's own token name).
func requestFor(route, requester string) func(t *testing.T, e *testEnv, role string) {
	return func(t *testing.T, e *testEnv, role string) {
		name := requester
		if name == "" {
			name = "t-" + role
		}
		req, err := e.backend.Remediation.Create(context.Background(), remediate.Actor{Name: name, Role: "operator"},
			remediate.CreateRequest{Action: remediate.ActionRestartConnector, Devices: []string{"shared-01"}})
		require.NoError(t, err)
		requestIDs.Store(route+"/"+role, req.ID)
	}
}

func requestPath(route, suffix string) func(role string) string {
	return func(role string) string {
		id, _ := requestIDs.Load(route + "/" + role)
		return fmt.Sprintf("/ui/requests/%v%s", id, suffix)
	}
}

func requestState(route, want string) func(t *testing.T, e *testEnv, role string) {
	return func(t *testing.T, e *testEnv, role string) {
		id, _ := requestIDs.Load(route + "/" + role)
		var state string
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT state FROM remediation_requests WHERE id = $1`, id).Scan(&state))
		require.Equal(t, want, state, "a denied action must not change the request")
	}
}

func countOf(sql string) func(t *testing.T, e *testEnv, role string) {
	return func(t *testing.T, e *testEnv, role string) {
		var n int
		require.NoError(t, e.pool.QueryRow(context.Background(), sql, "t-"+role).Scan(&n))
		require.Zero(t, n, "a denied action must have no effect")
	}
}

func scheduleEnabled(prefix string, want bool) func(t *testing.T, e *testEnv, role string) {
	return func(t *testing.T, e *testEnv, role string) {
		var enabled bool
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT enabled FROM sweep_schedules WHERE name = $1`, prefix+role).Scan(&enabled))
		require.Equal(t, want, enabled)
	}
}

// pageSamples is the expected policy: the role of each console route is
// written here, so it never loosens by accident, and must equal the role
// of the API route it mirrors.
func pageSamples() map[string]pageSample {
	viewer, operator, approver := auth.RoleViewer, auth.RoleOperator, auth.RoleApprover
	return map[string]pageSample{
		"GET /ui/signin":   {public: true, path: fixed("/ui/signin"), want: 200},
		"POST /ui/signin":  {public: true}, // TestSignIn*
		"POST /ui/signout": {minRole: viewer, path: fixed("/ui/signout"), want: 303},

		"GET /ui/{$}":            {minRole: viewer, path: fixed("/ui/"), want: 200},
		"GET /ui/devices":        {minRole: viewer, path: fixed("/ui/devices?site=emea&health=unknown&tag=rack%3Dr1&q=shared&sort=health&desc=1"), want: 200},
		"GET /ui/devices/{name}": {minRole: viewer, path: fixed("/ui/devices/shared-01"), want: 200},
		"POST /ui/devices/{name}/diagnose": {minRole: operator, path: fixed("/ui/devices/shared-01/diagnose"), want: 303,
			unchanged: countOf(`SELECT count(*) FROM runs WHERE requested_by = $1`)},
		"POST /ui/devices/{name}/restart-connector": {minRole: operator, path: fixed("/ui/devices/shared-01/restart-connector"),
			form: func(string) url.Values { return url.Values{"reason": {"matrix"}} }, want: 303,
			unchanged: countOf(`SELECT count(*) FROM remediation_requests WHERE requested_by = $1 AND reason = 'matrix'`)},

		"GET /ui/runs":               {minRole: viewer, path: fixed("/ui/runs"), want: 200},
		"GET /ui/runs/{id}":          {minRole: viewer, path: fixed("/ui/runs/" + e0RunID), want: 200},
		"GET /ui/runs/{id}/progress": {minRole: viewer, path: fixed("/ui/runs/" + e0RunID + "/progress"), want: 200},

		"GET /ui/approvals":     {minRole: viewer, path: fixed("/ui/approvals"), want: 200},
		"GET /ui/requests/{id}": {minRole: viewer, setup: requestFor("get", "seed-requester"), path: requestPath("get", ""), want: 200},
		"POST /ui/requests/{id}/approve": {minRole: approver, setup: requestFor("approve", "seed-requester"),
			path: requestPath("approve", "/approve"), form: func(string) url.Values { return url.Values{"comment": {"ok"}} },
			want: 303, unchanged: requestState("approve", "pending")},
		"POST /ui/requests/{id}/reject": {minRole: approver, setup: requestFor("reject", "seed-requester"),
			path: requestPath("reject", "/reject"), form: func(string) url.Values { return url.Values{"reason": {"not now"}} },
			want: 303, unchanged: requestState("reject", "pending")},
		"POST /ui/requests/{id}/cancel": {minRole: operator, setup: requestFor("cancel", ""),
			path: requestPath("cancel", "/cancel"), want: 303, unchanged: requestState("cancel", "pending")},

		"GET /ui/audit":     {minRole: operator, path: fixed("/ui/audit?actor=seed"), want: 200},
		"GET /ui/schedules": {minRole: viewer, path: fixed("/ui/schedules"), want: 200},
		"POST /ui/schedules/{name}/enable": {minRole: operator, path: func(role string) string { return "/ui/schedules/en-" + role + "/enable" },
			want: 303, unchanged: scheduleEnabled("en-", false)},
		"POST /ui/schedules/{name}/disable": {minRole: operator, path: func(role string) string { return "/ui/schedules/dis-" + role + "/disable" },
			want: 303, unchanged: scheduleEnabled("dis-", true)},
	}
}

// TestPageRoleMatrix walks every console route × every role, and without
// a session.
func TestPageRoleMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addDevice(t, "shared-01", "emea")
	_, err := e.pool.Exec(context.Background(), `INSERT INTO runs (id, kind, requested_by, total) VALUES ($1, 'diagnose', 'seed', 0)`, e0RunID)
	require.NoError(t, err)
	samples := pageSamples()
	pages := e.backend.Console.Pages()
	seen := map[string]bool{}
	for _, p := range pages {
		key := p.Method + " " + p.Path
		seen[key] = true
		s, ok := samples[key]
		if !ok {
			t.Errorf("console route %s has no entry in pageSamples", key)
			continue
		}
		require.Equal(t, s.public, p.Public, key)
		require.Equal(t, s.minRole, p.Role, "%s: the role of %s in the API is %v, the test says %v", key, p.API, p.Role, s.minRole)
	}
	for key := range samples {
		require.True(t, seen[key], "pageSamples has %s, which is not a console route", key)
	}

	for _, p := range pages {
		key := p.Method + " " + p.Path
		s := samples[key]
		if s.path == nil {
			continue
		}
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			send := func(b *browser, role string) (*http.Response, string) {
				if p.Method == http.MethodGet {
					return b.get(s.path(role))
				}
				var form url.Values
				if s.form != nil {
					form = s.form(role)
				}
				return b.post(s.path(role), form)
			}
			if s.public {
				resp, _ := send(e.newBrowser(t), "anon")
				require.Equal(t, s.want, resp.StatusCode)
				return
			}
			// No session: a page redirects to sign-in, an action is refused.
			resp, _ := send(e.newBrowser(t), "anon")
			if p.Method == http.MethodGet {
				require.Equal(t, http.StatusSeeOther, resp.StatusCode)
				require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/signin?next="), resp.Header.Get("Location"))
			} else {
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			}
			for _, role := range auth.AllRoles() {
				name := role.String()
				if s.setup != nil {
					s.setup(t, e, name)
				}
				b := e.signIn(t, role)
				resp, body := send(b, name)
				if role.AtLeast(s.minRole) {
					require.Equal(t, s.want, resp.StatusCode, "role %s must be allowed: %s", name, body)
					continue
				}
				require.Equal(t, http.StatusForbidden, resp.StatusCode, "role %s must be denied", name)
				require.Contains(t, body, "needs role "+s.minRole.String())
				if s.unchanged != nil {
					s.unchanged(t, e, name)
				}
			}
		})
	}
}
