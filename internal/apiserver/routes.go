package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/fleetd/fleetd/pkg/auth"
)

// HandlerFunc is an API handler. It writes its success answer itself and
// returns errors instead of writing them, so that the mapping from errors to
// HTTP statuses lives in one place (toAPIError).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one entry of the API. Every route either names the least role
// that may call it or is explicitly Public; roles are ordered
// viewer < operator < approver < admin, so MinRole operator admits
// operators, approvers and admins.
type Route struct {
	Method  string
	Path    string // net/http pattern syntax: /v1/devices/{name}
	MinRole auth.Role
	Public  bool   // no token needed (health checks only)
	Summary string // one line for docs/api.md
	Handler HandlerFunc
}

func (rt Route) validate() error {
	switch {
	case rt.Method == "" || strings.ToUpper(rt.Method) != rt.Method:
		return fmt.Errorf("api: route %q: method must be upper-case", rt.Path)
	case !strings.HasPrefix(rt.Path, "/"):
		return fmt.Errorf("api: route %s %q: path must start with /", rt.Method, rt.Path)
	case rt.Handler == nil:
		return fmt.Errorf("api: route %s %s: no handler", rt.Method, rt.Path)
	case rt.Public && strings.HasPrefix(rt.Path, "/v1/"):
		return fmt.Errorf("api: route %s %s: /v1 routes must have a role", rt.Method, rt.Path)
	}
	return nil
}

// RouteRole returns the least role of the API route method pattern (as
// written in the route table: "GET", "/v1/runs/{id}"). The web console
// authorises each page and action with the role of the route it mirrors,
// so the two cannot drift apart; ok is false for a route that does not
// exist or is public.
func RouteRole(method, pattern string) (role auth.Role, ok bool) {
	for _, rt := range (&Server{}).routeTable() {
		if rt.Method == method && rt.Path == pattern && !rt.Public {
			return rt.MinRole, true
		}
	}
	return 0, false
}

// TranscriptRole is the least role that reads a device's transcript (GET
// /v1/runs/{id}?transcript=true; the console's device page).
const TranscriptRole = auth.RoleOperator

// routeTable is THE list of endpoints. Adding an endpoint is one line here
// plus its handler; route_test.go then refuses to pass until the new route
// has a sample request in its role matrix.
func (s *Server) routeTable() []Route {
	viewer, operator := auth.RoleViewer, auth.RoleOperator
	return []Route{
		{Method: "GET", Path: "/healthz", Public: true, Summary: "process is up", Handler: s.healthz},
		{Method: "GET", Path: "/readyz", Public: true, Summary: "database is reachable", Handler: s.readyz},

		{Method: "GET", Path: "/v1/whoami", MinRole: viewer, Summary: "the caller's name and role", Handler: s.whoami},
		{Method: "GET", Path: "/v1/sites", MinRole: viewer, Summary: "configured sites with device counts", Handler: s.listSites},

		{Method: "GET", Path: "/v1/devices", MinRole: viewer, Summary: "list devices (?site=&kind=&tag=k=v)", Handler: s.listDevices},
		{Method: "POST", Path: "/v1/devices", MinRole: operator, Summary: "add one device", Handler: s.addDevice},
		{Method: "POST", Path: "/v1/devices/import", MinRole: operator, Summary: "import a CSV/YAML inventory (all-or-nothing; dry_run)", Handler: s.importDevices},
		{Method: "POST", Path: "/v1/devices/sync", MinRole: operator, Summary: "upsert the FTDs an FMC's REST API lists (all-or-nothing; dry_run, prune)", Handler: s.syncDevices},
		{Method: "GET", Path: "/v1/devices/{name}", MinRole: viewer, Summary: "one device", Handler: s.getDevice},
		{Method: "DELETE", Path: "/v1/devices/{name}", MinRole: operator, Summary: "remove a device", Handler: s.deleteDevice},

		{Method: "GET", Path: "/v1/hostkeys", MinRole: viewer, Summary: "host keys (?state=&site=&device=)", Handler: s.listHostKeys},
		{Method: "POST", Path: "/v1/hostkeys/accept", MinRole: operator, Summary: "pin pending host keys", Handler: s.acceptHostKeys},

		{Method: "POST", Path: "/v1/runs", MinRole: operator, Summary: "start a diagnose run over a selector", Handler: s.startRun},
		{Method: "GET", Path: "/v1/runs", MinRole: viewer, Summary: "recent runs, newest first (?limit=)", Handler: s.listRuns},
		{Method: "GET", Path: "/v1/runs/{id}", MinRole: viewer, Summary: "one run (?devices=&checks=&device=&transcript=; transcripts need operator)", Handler: s.getRun},
		{Method: "GET", Path: "/v1/runs/{id}/diff", MinRole: viewer, Summary: "what changed since the previous completed run of the same kind and selector: newly unhealthy, recovered, still broken (with how many runs in a row), unreachable", Handler: s.runDiff},
		{Method: "GET", Path: "/v1/incidents", MinRole: viewer, Summary: "fleet-level incidents in every device's latest result (?site=)", Handler: s.listIncidents},
		{Method: "GET", Path: "/v1/status", MinRole: viewer, Summary: "latest health per device (?site=&diagnosis=&health=)", Handler: s.deviceStatus},

		// Sweep schedules (handlers_sweeps.go): defined in config, switched
		// on and off at run time (audited).
		{Method: "GET", Path: "/v1/schedules", MinRole: viewer, Summary: "sweep schedules with last and next run", Handler: s.listSchedules},
		{Method: "POST", Path: "/v1/schedules/{name}/enable", MinRole: operator, Summary: "enable a schedule at run time (no catch-up of nights it was off)", Handler: s.enableSchedule},
		{Method: "POST", Path: "/v1/schedules/{name}/disable", MinRole: operator, Summary: "disable a schedule at run time", Handler: s.disableSchedule},

		// Prometheus metrics: a route like any other, so behind a token.
		{Method: "GET", Path: "/metrics", MinRole: viewer, Summary: "Prometheus metrics (text format)", Handler: s.metrics},

		{Method: "GET", Path: "/v1/audit", MinRole: operator, Summary: "audit trail, newest first", Handler: s.listAudit},

		// Remediation requests (handlers_remediation.go). Two-person rules
		// (requester != approver, expiry, one approval) are enforced by
		// pkg/remediate on top of these roles.
		{Method: "POST", Path: "/v1/remediations", MinRole: operator, Summary: "request a remediation (restart-connector | reboot); answers the pending request with its preview", Handler: s.createRemediation},
		{Method: "GET", Path: "/v1/remediations", MinRole: viewer, Summary: "remediation requests, newest first (?state=&limit=)", Handler: s.listRemediations},
		{Method: "GET", Path: "/v1/remediations/{id}", MinRole: viewer, Summary: "one request: devices, preview, per-device progress, history", Handler: s.getRemediation},
		{Method: "POST", Path: "/v1/remediations/{id}/approve", MinRole: auth.RoleApprover, Summary: "approve another identity's pending request (binds params_hash)", Handler: s.approveRemediation},
		{Method: "POST", Path: "/v1/remediations/{id}/reject", MinRole: auth.RoleApprover, Summary: "reject a pending request (reason required)", Handler: s.rejectRemediation},
		{Method: "POST", Path: "/v1/remediations/{id}/cancel", MinRole: operator, Summary: "cancel a request until it starts (requester, approver or admin)", Handler: s.cancelRemediation},
	}
}
