package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runs"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Sessions signs people in and out (*auth.Sessions).
type Sessions interface {
	Start(ctx context.Context, token string) (string, auth.Session, error)
	Lookup(ctx context.Context, sid string) (auth.Session, error)
	End(ctx context.Context, sid string) error
}

// Inventory is what the device pages read (*inventory.Store).
type Inventory interface {
	ListSites(ctx context.Context) ([]inventory.Site, error)
	Get(ctx context.Context, name string) (inventory.Device, error)
	ListHostKeys(ctx context.Context, f inventory.HostKeyFilter) ([]inventory.HostKey, error)
}

// Runs is the API's run service plus the console's paged and aggregated
// reads (*runs.Service).
type Runs interface {
	apiserver.Runs
	FleetOverview(ctx context.Context, topN int) (runs.Overview, error)
	ScheduledRuns(ctx context.Context, limit int) ([]runs.Run, error)
	StatusPaged(ctx context.Context, q runs.StatusQuery) (runs.StatusPage, error)
	DeviceHistory(ctx context.Context, deviceID string, limit int) ([]runs.DeviceRun, error)
}

// Config is the console's settings (ui.*).
type Config struct {
	// SecureCookies marks the session cookie Secure; it is also set for
	// every request that arrived over TLS.
	SecureCookies bool
	// Now is the clock of "checked N min ago" (nil: time.Now).
	Now func() time.Time
}

// Deps are the services the console serves: the API's own.
type Deps struct {
	Log         *zap.Logger
	Config      Config
	Sessions    Sessions
	Inventory   Inventory
	Runs        Runs
	Remediation apiserver.Remediation
	Sweeps      apiserver.Sweeps
	Audit       apiserver.AuditLog
	// Incidents groups the latest results into fleet-level root causes for
	// the Fleet page (the service behind GET /v1/incidents). Optional:
	// without it the page has no incidents section.
	Incidents apiserver.Incidents
}

// Console is the web console as an http.Handler for /ui/.
type Console struct {
	deps  Deps
	log   *zap.Logger
	now   func() time.Time
	pages []page
	tmpl  templates
	mux   *http.ServeMux
}

// page is one console route: its pattern, the API route it mirrors (whose
// role it takes) and its handler. Public pages (sign-in, assets) mirror
// none.
type page struct {
	Method, Path string
	// API is the mirrored route, "METHOD /v1/..." as in the API's table.
	APIMethod, APIPath string
	Public             bool
	Handler            func(w http.ResponseWriter, r *http.Request, v *viewer) error
	role               auth.Role
}

// New builds the console; it fails if a page mirrors a route the API does
// not have.
func New(deps Deps) (*Console, error) {
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	if deps.Sessions == nil || deps.Inventory == nil || deps.Runs == nil || deps.Audit == nil {
		return nil, errors.New("console: Sessions, Inventory, Runs and Audit are required")
	}
	c := &Console{deps: deps, log: deps.Log.Named("console"), now: deps.Config.Now}
	if c.now == nil {
		c.now = time.Now
	}
	var err error
	if c.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	c.mux = http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", cacheable(http.FileServerFS(static))))
	c.pages = c.pageTable()
	for i := range c.pages {
		p := &c.pages[i]
		if !p.Public {
			role, ok := apiserver.RouteRole(p.APIMethod, p.APIPath)
			if !ok {
				return nil, fmt.Errorf("console: page %s %s mirrors %s %s, which is not an API route", p.Method, p.Path, p.APIMethod, p.APIPath)
			}
			p.role = role
		}
		c.mux.Handle(p.Method+" "+p.Path, c.wrap(*p))
	}
	c.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, &api.Error{Status: http.StatusNotFound, Code: api.CodeNotFound,
			Message: "no such page: " + r.URL.Path})
	})
	return c, nil
}

// Pages lists the console's routes with the role each needs (docs, tests).
func (c *Console) Pages() []PageInfo {
	out := make([]PageInfo, 0, len(c.pages))
	for _, p := range c.pages {
		out = append(out, PageInfo{Method: p.Method, Path: p.Path, API: p.APIMethod + " " + p.APIPath, Public: p.Public, Role: p.role})
	}
	return out
}

// PageInfo describes one console route.
type PageInfo struct {
	Method, Path, API string
	Public            bool
	Role              auth.Role
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

// pageTable is THE list of console routes, each with the API route whose
// role it takes.
func (c *Console) pageTable() []page {
	return []page{
		{Method: "GET", Path: "/ui/signin", Public: true, Handler: c.signInForm},
		{Method: "POST", Path: "/ui/signin", Public: true, Handler: c.signIn},
		{Method: "POST", Path: "/ui/signout", APIMethod: "GET", APIPath: "/v1/whoami", Handler: c.signOut},

		{Method: "GET", Path: "/ui/{$}", APIMethod: "GET", APIPath: "/v1/status", Handler: c.fleetPage},
		{Method: "GET", Path: "/ui/devices", APIMethod: "GET", APIPath: "/v1/status", Handler: c.devicesPage},
		{Method: "GET", Path: "/ui/devices/{name}", APIMethod: "GET", APIPath: "/v1/devices/{name}", Handler: c.devicePage},
		{Method: "POST", Path: "/ui/devices/{name}/diagnose", APIMethod: "POST", APIPath: "/v1/runs", Handler: c.diagnoseDevice},
		{Method: "POST", Path: "/ui/devices/{name}/restart-connector", APIMethod: "POST", APIPath: "/v1/remediations", Handler: c.requestRestart},

		{Method: "GET", Path: "/ui/runs", APIMethod: "GET", APIPath: "/v1/runs", Handler: c.runsPage},
		{Method: "GET", Path: "/ui/runs/{id}", APIMethod: "GET", APIPath: "/v1/runs/{id}", Handler: c.runPage},
		{Method: "GET", Path: "/ui/runs/{id}/progress", APIMethod: "GET", APIPath: "/v1/runs/{id}", Handler: c.runProgress},

		{Method: "GET", Path: "/ui/approvals", APIMethod: "GET", APIPath: "/v1/remediations", Handler: c.approvalsPage},
		{Method: "GET", Path: "/ui/requests/{id}", APIMethod: "GET", APIPath: "/v1/remediations/{id}", Handler: c.requestPage},
		{Method: "POST", Path: "/ui/requests/{id}/approve", APIMethod: "POST", APIPath: "/v1/remediations/{id}/approve", Handler: c.approve},
		{Method: "POST", Path: "/ui/requests/{id}/reject", APIMethod: "POST", APIPath: "/v1/remediations/{id}/reject", Handler: c.reject},
		{Method: "POST", Path: "/ui/requests/{id}/cancel", APIMethod: "POST", APIPath: "/v1/remediations/{id}/cancel", Handler: c.cancel},

		{Method: "GET", Path: "/ui/audit", APIMethod: "GET", APIPath: "/v1/audit", Handler: c.auditPage},
		{Method: "GET", Path: "/ui/schedules", APIMethod: "GET", APIPath: "/v1/schedules", Handler: c.schedulesPage},
		{Method: "POST", Path: "/ui/schedules/{name}/enable", APIMethod: "POST", APIPath: "/v1/schedules/{name}/enable", Handler: c.enableSchedule},
		{Method: "POST", Path: "/ui/schedules/{name}/disable", APIMethod: "POST", APIPath: "/v1/schedules/{name}/disable", Handler: c.disableSchedule},
	}
}

// May reports whether the viewer may use the API route method pattern:
// pages hide the buttons a viewer's role cannot use (the server refuses
// them anyway).
func (v *viewer) May(method, pattern string) bool {
	role, ok := apiserver.RouteRole(method, pattern)
	return ok && v.Role.AtLeast(role)
}

func parseUUID(s, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return id, badRequest("%s %q is not a UUID", what, s)
	}
	return id, nil
}

func badRequest(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusBadRequest, api.CodeBadRequest, format, args...)
}

func cacheable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}
