package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// routeSample is the role policy of one route plus a request that succeeds
// when the caller is allowed. Resources a request changes are named after
// the calling role, so the roles' requests do not interfere.
type routeSample struct {
	public  bool
	minRole auth.Role
	path    func(role string) string
	body    func(role string) string // JSON; "" = no body
	setup   func(t *testing.T, e *testEnv, role string)
	want    int
	// unchanged, if set, proves a denied request had no effect.
	unchanged func(t *testing.T, e *testEnv, role string)
}

// e0RunID is a run the matrix test creates up front for the read routes.
const e0RunID = "00000000-0000-4000-8000-000000000001"

func fixed(p string) func(string) string { return func(string) string { return p } }

// routeSamples is the expected policy. A route missing here fails the test;
// so does a route whose MinRole differs from the one written here, so a role
// is never loosened by accident.
func routeSamples() map[string]routeSample {
	viewer, operator := auth.RoleViewer, auth.RoleOperator
	deviceExists := func(prefix string) func(t *testing.T, e *testEnv, role string) {
		return func(t *testing.T, e *testEnv, role string) {
			_, err := e.inv.Get(context.Background(), prefix+role)
			require.NoError(t, err, "denied request must not have removed %s%s", prefix, role)
		}
	}
	deviceAbsent := func(prefix string) func(t *testing.T, e *testEnv, role string) {
		return func(t *testing.T, e *testEnv, role string) {
			_, err := e.inv.Get(context.Background(), prefix+role)
			require.Error(t, err, "denied request must not have created %s%s", prefix, role)
		}
	}
	return map[string]routeSample{
		"GET /healthz": {public: true, path: fixed("/healthz"), want: 200},
		"GET /readyz":  {public: true, path: fixed("/readyz"), want: 200},

		"GET /v1/whoami": {minRole: viewer, path: fixed("/v1/whoami"), want: 200},
		"GET /v1/sites":  {minRole: viewer, path: fixed("/v1/sites"), want: 200},

		"GET /v1/devices": {minRole: viewer, path: fixed("/v1/devices?site=emea"), want: 200},
		"POST /v1/devices": {minRole: operator, path: fixed("/v1/devices"),
			body: func(role string) string {
				return fmt.Sprintf(`{"name":"add-%s","kind":"ftd","site":"emea","address":"10.0.0.1","credential":"lab"}`, role)
			},
			want: 201, unchanged: deviceAbsent("add-")},
		"POST /v1/devices/sync": {minRole: operator, path: fixed("/v1/devices/sync"),
			body: func(string) string { return `{"from":"no-such-fmc","dry_run":true}` }, want: 404},
		"POST /v1/devices/import": {minRole: operator, path: fixed("/v1/devices/import"),
			body: func(role string) string {
				csv := fmt.Sprintf("name,kind,site,address,credential\nimp-%s,ftd,amer,10.0.0.2,lab\n", role)
				b, _ := json.Marshal(map[string]any{"filename": "x.csv", "content": csv})
				return string(b)
			},
			want: 200, unchanged: deviceAbsent("imp-")},
		"GET /v1/devices/{name}": {minRole: viewer, path: fixed("/v1/devices/shared-01"), want: 200},
		"DELETE /v1/devices/{name}": {minRole: operator,
			path:  func(role string) string { return "/v1/devices/del-" + role },
			setup: func(t *testing.T, e *testEnv, role string) { e.addDevice(t, "del-"+role, "emea") },
			want:  200, unchanged: deviceExists("del-")},

		"GET /v1/hostkeys": {minRole: viewer, path: fixed("/v1/hostkeys?state=pending"), want: 200},
		"POST /v1/hostkeys/accept": {minRole: operator, path: fixed("/v1/hostkeys/accept"),
			body: func(role string) string { return fmt.Sprintf(`{"devices":["hk-%s"]}`, role) },
			setup: func(t *testing.T, e *testEnv, role string) {
				e.addDevice(t, "hk-"+role, "emea")
				e.pendingHostKey(t, "hk-"+role)
			},
			want: 200,
			unchanged: func(t *testing.T, e *testEnv, role string) {
				var state string
				require.NoError(t, e.pool.QueryRow(context.Background(),
					`SELECT h.state FROM host_keys h JOIN devices d ON d.id = h.device_id WHERE d.name = $1`, "hk-"+role).Scan(&state))
				require.Equal(t, "pending", state)
			}},

		"POST /v1/runs": {minRole: operator, path: fixed("/v1/runs"),
			body: func(role string) string { return `{"selector":{"devices":["shared-01"]}}` },
			want: 202,
			unchanged: func(t *testing.T, e *testEnv, role string) {
				var n int
				require.NoError(t, e.pool.QueryRow(context.Background(),
					`SELECT count(*) FROM runs WHERE requested_by = $1`, "t-"+role).Scan(&n))
				require.Zero(t, n, "denied request must not have created a run")
			}},
		"GET /v1/runs": {minRole: viewer, path: fixed("/v1/runs?limit=5"), want: 200},
		"GET /v1/runs/{id}": {minRole: viewer,
			path: func(role string) string { return "/v1/runs/" + e0RunID + "?devices=true" }, want: 200},
		"GET /v1/runs/{id}/diff": {minRole: viewer, path: fixed("/v1/runs/" + e0RunID + "/diff"), want: 200},
		"GET /v1/status":         {minRole: viewer, path: fixed("/v1/status?site=emea"), want: 200},
		"GET /v1/incidents":      {minRole: viewer, path: fixed("/v1/incidents?site=emea"), want: 200},

		"GET /v1/schedules": {minRole: viewer, path: fixed("/v1/schedules"), want: 200},
		"POST /v1/schedules/{name}/enable": {minRole: operator,
			path: func(role string) string { return "/v1/schedules/en-" + role + "/enable" },
			want: 200, unchanged: scheduleEnabled("en-", false)},
		"POST /v1/schedules/{name}/disable": {minRole: operator,
			path: func(role string) string { return "/v1/schedules/dis-" + role + "/disable" },
			want: 200, unchanged: scheduleEnabled("dis-", true)},
		"GET /metrics": {minRole: viewer, path: fixed("/metrics"), want: 200},

		"GET /v1/audit": {minRole: operator, path: fixed("/v1/audit?limit=10"), want: 200},

		"POST /v1/remediations": {minRole: operator, path: fixed("/v1/remediations"),
			body: func(role string) string {
				return `{"action":"restart-connector","devices":["shared-01"],"reason":"matrix"}`
			},
			want: 201,
			unchanged: func(t *testing.T, e *testEnv, role string) {
				var n int
				require.NoError(t, e.pool.QueryRow(context.Background(),
					`SELECT count(*) FROM remediation_requests WHERE requested_by = $1 AND reason = 'matrix'`, "t-"+role).Scan(&n))
				require.Zero(t, n, "denied request must not have created a remediation request")
			}},
		"GET /v1/remediations": {minRole: viewer, path: fixed("/v1/remediations?state=pending&limit=5"), want: 200},
		"GET /v1/remediations/{id}": {minRole: viewer,
			setup: remediationFor("get", "seed-requester"),
			path:  remediationPath("get", ""), want: 200},
		"POST /v1/remediations/{id}/approve": {minRole: auth.RoleApprover,
			setup: remediationFor("approve", "seed-requester"),
			path:  remediationPath("approve", "/approve"),
			body:  func(string) string { return `{"comment":"ok"}` },
			want:  200, unchanged: remediationState("approve", "pending")},
		"POST /v1/remediations/{id}/reject": {minRole: auth.RoleApprover,
			setup: remediationFor("reject", "seed-requester"),
			path:  remediationPath("reject", "/reject"),
			body:  func(string) string { return `{"reason":"not now"}` },
			want:  200, unchanged: remediationState("reject", "pending")},
		"POST /v1/remediations/{id}/cancel": {minRole: operator,
			// The caller's own request: requesters may cancel theirs.
			setup: remediationFor("cancel", ""),
			path:  remediationPath("cancel", "/cancel"),
			body:  func(string) string { return `{}` },
			want:  200, unchanged: remediationState("cancel", "pending")},
	}
}

// scheduleEnabled proves a denied enable/disable left the schedule as it was.
func scheduleEnabled(prefix string, want bool) func(t *testing.T, e *testEnv, role string) {
	return func(t *testing.T, e *testEnv, role string) {
		var enabled bool
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT enabled FROM sweep_schedules WHERE name = $1`, prefix+role).Scan(&enabled))
		require.Equal(t, want, enabled, "denied request must not have changed schedule %s%s", prefix, role)
	}
}

// remediationIDs holds the request each (route, role) of the matrix made.
var remediationIDs sync.Map

// remediationFor creates a pending restart request on shared-01 before a
// role's call, requested by requester ("" = the calling role's own name).
func remediationFor(route, requester string) func(t *testing.T, e *testEnv, role string) {
	return func(t *testing.T, e *testEnv, role string) {
		name := requester
		if name == "" {
			name = "t-" + role
		}
		req, err := e.rem.Create(context.Background(), remediate.Actor{Name: name, Role: "operator"},
			remediate.CreateRequest{Action: remediate.ActionRestartConnector, Devices: []string{"shared-01"}})
		require.NoError(t, err)
		remediationIDs.Store(route+"/"+role, req.ID)
	}
}

func remediationPath(route, suffix string) func(role string) string {
	return func(role string) string {
		id, _ := remediationIDs.Load(route + "/" + role)
		return fmt.Sprintf("/v1/remediations/%v%s", id, suffix)
	}
}

func remediationState(route, want string) func(t *testing.T, e *testEnv, role string) {
	return func(t *testing.T, e *testEnv, role string) {
		id, _ := remediationIDs.Load(route + "/" + role)
		var state string
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT state FROM remediation_requests WHERE id = $1`, id).Scan(&state))
		require.Equal(t, want, state, "denied request must not have changed the remediation request")
	}
}

// TestRouteRoleMatrix walks every route of the table × every role, plus no
// token and bad tokens.
func TestRouteRoleMatrix(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.addDevice(t, "shared-01", "emea")
	// A remediation request needs the device's key pinned (a first diagnose under tofu).
	e.pendingHostKey(t, "shared-01")
	_, err := e.pool.Exec(context.Background(), `UPDATE host_keys SET state = 'pinned', pinned_by = 'seed', pinned_at = now()
		WHERE device_id = (SELECT id FROM devices WHERE name = 'shared-01')`)
	require.NoError(t, err)
	_, err = e.pool.Exec(context.Background(), `INSERT INTO runs (id, kind, requested_by, total) VALUES ($1, 'diagnose', 'seed', 0)`, e0RunID)
	require.NoError(t, err)
	samples := routeSamples()

	routes := e.srv.Routes()
	require.NotEmpty(t, routes)
	inTable := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		inTable[key] = true
		s, ok := samples[key]
		if !ok {
			t.Errorf("route %s has no entry in routeSamples: add its role policy and a sample request", key)
			continue
		}
		require.Equal(t, s.public, rt.Public, "%s: public", key)
		require.Equal(t, s.minRole, rt.MinRole, "%s: MinRole is %v in routes.go but %v in the test", key, rt.MinRole, s.minRole)
	}
	for key := range samples {
		require.True(t, inTable[key], "routeSamples has %s, which is not in the route table", key)
	}

	// A revoked token is as good as none.
	authStore := auth.NewStore(e.pool)
	revoked, _, err := authStore.Create(context.Background(), "test", "t-revoked", auth.RoleAdmin)
	require.NoError(t, err)
	require.NoError(t, authStore.Revoke(context.Background(), "test", "t-revoked"))

	for _, rt := range routes {
		rt := rt
		key := rt.Method + " " + rt.Path
		s, ok := samples[key]
		if !ok {
			continue
		}
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			send := func(token, role string) (*http.Response, map[string]any) {
				body := ""
				if s.body != nil {
					body = s.body(role)
				}
				ct := ""
				if body != "" {
					ct = "application/json"
				}
				resp, raw := e.raw(t, rt.Method, s.path(role), token, ct, body)
				var m map[string]any
				_ = json.Unmarshal([]byte(raw), &m)
				return resp, m
			}
			errCode := func(m map[string]any) string {
				eo, _ := m["error"].(map[string]any)
				c, _ := eo["code"].(string)
				return c
			}

			if s.public {
				resp, _ := send("", "anon")
				require.Equal(t, s.want, resp.StatusCode, "public route without token")
				return
			}
			for _, bad := range []string{"", "fleetd_not-a-real-token", revoked} {
				resp, m := send(bad, "anon")
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "token %q", bad)
				require.Equal(t, "unauthorized", errCode(m))
				require.Equal(t, `Bearer realm="fleetd"`, resp.Header.Get("WWW-Authenticate"))
			}
			for _, role := range auth.AllRoles() {
				name := role.String()
				if s.setup != nil {
					s.setup(t, e, name)
				}
				resp, m := send(e.tokens[role], name)
				if role.AtLeast(s.minRole) {
					require.Equal(t, s.want, resp.StatusCode, "role %s must be allowed: %v", name, m)
					continue
				}
				require.Equal(t, http.StatusForbidden, resp.StatusCode, "role %s must be denied: %v", name, m)
				require.Equal(t, "forbidden", errCode(m))
				msg := m["error"].(map[string]any)["message"].(string)
				require.Contains(t, msg, "needs role "+s.minRole.String())
				if s.unchanged != nil {
					s.unchanged(t, e, name)
				}
			}
		})
	}
}
