package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
)

// Authenticator turns a bearer token into an identity (*auth.Store).
// It returns auth.ErrInvalidToken for any token it does not accept.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Identity, error)
}

// Inventory is what the device and host-key routes need (*inventory.Store).
type Inventory interface {
	ListSites(ctx context.Context) ([]inventory.Site, error)
	List(ctx context.Context, f inventory.Filter) ([]inventory.Device, error)
	Get(ctx context.Context, name string) (inventory.Device, error)
	Add(ctx context.Context, actor string, d inventory.Device) (inventory.Device, error)
	Delete(ctx context.Context, actor, name string) error
	ImportFile(ctx context.Context, actor, filename string, data []byte, dryRun bool) (inventory.Plan, error)
	ListHostKeys(ctx context.Context, f inventory.HostKeyFilter) ([]inventory.HostKey, error)
	AcceptHostKeys(ctx context.Context, by inventory.Accepter, sel inventory.AcceptSelector) (inventory.AcceptResult, error)
	Sync(ctx context.Context, actor string, fmc inventory.Device, recs []inventory.SyncRecord, opt inventory.SyncOptions) (inventory.SyncPlan, error)
}

// FMCReader reads the FTDs an FMC manages over its REST API
// (internal/targets.FMCs).
type FMCReader interface {
	DeviceRecords(ctx context.Context, fmc string) (inventory.Device, []inventory.SyncRecord, error)
}

// AuditLog reads the audit trail (AuditFromDB adapts pkg/audit).
type AuditLog interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Event, error)
}

// Pinger reports whether the database answers (*pgxpool.Pool); /readyz uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the services the API serves. A later feature adds its service
// here and its routes to routes.go; nothing else changes.
type Deps struct {
	Log       *zap.Logger
	Config    config.Config
	DB        Pinger
	Auth      Authenticator
	Inventory Inventory
	Audit     AuditLog
	// Runs serves diagnose runs and device status (handlers_runs.go).
	Runs Runs
	// Incidents finds incidents in a run's results and in the latest ones
	// (handlers_incidents.go). Optional: without it runs carry none and
	// GET /v1/incidents answers 503.
	Incidents Incidents
	// Remediation serves remediation requests (handlers_remediation.go).
	// Optional: without it those routes answer 503.
	Remediation Remediation
	// Sweeps serves schedules and run diffs (handlers_sweeps.go).
	// Optional: without it those routes answer 503.
	Sweeps Sweeps
	// FMCs reads FMCs' devicerecords for POST /v1/devices/sync.
	// Optional: without it that route answers 503.
	FMCs FMCReader
	// Metrics serves Prometheus metrics at GET /metrics (pkg/metrics).
	// Optional: without it the route answers 503.
	Metrics http.Handler
	// Console is the web console (internal/console), served under /ui/
	// on the API's listener. It authenticates with its own sessions and
	// authorises each page with the role of the API route it mirrors
	// (RouteRole). Optional: without it /ui/ is not found.
	Console http.Handler
}

// AuditFromDB adapts pkg/audit's functions over a pool to AuditLog.
func AuditFromDB(db audit.DB) AuditLog { return auditDB{db: db} }

type auditDB struct{ db audit.DB }

func (a auditDB) List(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	return audit.List(ctx, a.db, f)
}

// Server is fleetd's HTTP API.
type Server struct {
	deps    Deps
	log     *zap.Logger
	maxBody int64
	routes  []Route
	handler http.Handler
}

// New checks deps and builds the route table and middleware chain.
func New(deps Deps) (*Server, error) {
	var missing []string
	if deps.DB == nil {
		missing = append(missing, "DB")
	}
	if deps.Auth == nil {
		missing = append(missing, "Auth")
	}
	if deps.Inventory == nil {
		missing = append(missing, "Inventory")
	}
	if deps.Audit == nil {
		missing = append(missing, "Audit")
	}
	if deps.Runs == nil {
		missing = append(missing, "Runs")
	}

	if len(missing) > 0 {
		return nil, fmt.Errorf("api: missing dependencies: %s", strings.Join(missing, ", "))
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	s := &Server{deps: deps, log: deps.Log.Named("api"), maxBody: deps.Config.API.MaxBodyBytes}
	if s.maxBody <= 0 {
		s.maxBody = config.Default().API.MaxBodyBytes
	}
	s.routes = s.routeTable()
	h, err := s.buildMux()
	if err != nil {
		return nil, err
	}
	s.handler = observe(s.log, h)
	return s, nil
}

// Handler is the whole API as one http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes returns the route table (tests walk it; docs list it).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

func (s *Server) buildMux() (http.Handler, error) {
	mux := http.NewServeMux()
	// methodsByPath answers "which methods does this path accept" for 405s;
	// paths registers each path pattern once, method-less, for that lookup.
	paths := http.NewServeMux()
	methodsByPath := map[string][]string{}
	seen := map[string]bool{}
	for _, rt := range s.routes {
		if err := rt.validate(); err != nil {
			return nil, err
		}
		key := rt.Method + " " + rt.Path
		if seen[key] {
			return nil, fmt.Errorf("api: route %s registered twice", key)
		}
		seen[key] = true
		mux.Handle(key, s.wrap(rt))
		if _, ok := methodsByPath[rt.Path]; !ok {
			paths.Handle(rt.Path, http.NotFoundHandler())
		}
		methodsByPath[rt.Path] = append(methodsByPath[rt.Path], rt.Method)
	}
	if s.deps.Console != nil {
		mux.Handle("/ui/", s.deps.Console)
		mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusFound))
		mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			allowed := methodsByPath[pattern]
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, r, api.Errorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed,
				"%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
			return
		}
		writeError(w, r, errNotFound("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux, nil
}

// wrap applies, per route: authentication, the role check, the body limit,
// then the handler, and turns a returned error into a JSON error.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		ri.Route = rt.Method + " " + rt.Path
		if !rt.Public {
			id, err := s.authenticate(r)
			if err != nil {
				writeError(w, r, err)
				return
			}
			ri.Actor, ri.Role = id.Name, id.Role.String()
			if !id.Role.AtLeast(rt.MinRole) {
				writeError(w, r, api.Errorf(http.StatusForbidden, api.CodeForbidden,
					"%s %s needs role %s or higher; token %q has role %s",
					rt.Method, rt.Path, rt.MinRole, id.Name, id.Role))
				return
			}
			r = r.WithContext(withIdentity(r.Context(), id))
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		}
		if err := rt.Handler(w, r); err != nil {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				// The client went away; nobody is left to answer.
				ri.err = err
				return
			}
			writeError(w, r, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (auth.Identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Identity{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthorized,
			"missing bearer token: send Authorization: Bearer <token>")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return auth.Identity{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthorized,
			"malformed Authorization header: want Bearer <token>")
	}
	id, err := s.deps.Auth.Authenticate(r.Context(), strings.TrimSpace(token))
	if errors.Is(err, auth.ErrInvalidToken) {
		return auth.Identity{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthorized, "invalid or revoked token")
	}
	if err != nil {
		return auth.Identity{}, fmt.Errorf("authenticate: %w", err)
	}
	return id, nil
}

type identityKey struct{}

func withIdentity(ctx context.Context, id auth.Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the caller of an authenticated route. Handlers use its
// Name as the actor of audit events.
func IdentityFrom(ctx context.Context) (auth.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(auth.Identity)
	return id, ok
}

// actor is the audit name of the caller; authenticated routes always have one.
func actor(r *http.Request) string {
	id, _ := IdentityFrom(r.Context())
	return id.Name
}
