// Package app builds fleetd's backend from a validated config over one
// database pool, in one phase: the River client with its workers, the
// runner, the services, sweeps, notifications and metrics. `fleetd serve`
// runs it, and the tests that need a fleetd build theirs with the same New,
// so a test server is wired exactly like the real one. A new part is built
// in New, started in Start, stopped in Stop and, if the API serves it,
// exposed in APIDeps; nothing else needs to know.
package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/console"
	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/targets"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/devicecheck"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/metrics"
	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

// Clock tells remediation and the sweeps the time; tests pass a
// remediate.ManualClock.
type Clock interface{ Now() time.Time }

// Options say what to build. Config, Pool and Log are what fleetd serve
// passes; the rest are for tests.
type Options struct {
	Config config.Config // validated
	Pool   *pgxpool.Pool // migrated
	Log    *zap.Logger   // nil: no logs
	// Workers registers the job workers with the River client, so that
	// Start works jobs. Without them the client only inserts: the API
	// works, jobs wait in the queue (tests of the API alone).
	Workers bool
	// Clock is remediation's and the sweeps' clock (nil: the system clock).
	Clock Clock

	// Each of these, when set, adjusts a package's config after it is
	// translated from Config and before it is used: tests shorten waits,
	// bound the runner and hook into remediation steps.
	Runner            func(*runner.Config)
	Jobs              func(*jobs.Config)
	RemediationWorker func(*remediate.WorkerConfig)
	RemediationChecks func(*remediate.RunnerActionsConfig)
}

// App is fleetd's backend. Its fields are for the API and tests; they are
// set by New and never change.
type App struct {
	Config    config.Config
	Pool      *pgxpool.Pool
	Log       *zap.Logger
	Inventory *inventory.Store
	Auth      *auth.Store
	// Queue is the River client: it works the jobs if Options.Workers, and
	// every service inserts through it.
	Queue       *jobs.Client
	Runs        *runs.Service
	Incidents   *runs.Incidents
	Remediation *remediate.Service
	Sweeps      *sweep.Service
	Notify      *notify.Service
	Metrics     *metrics.Metrics
	Runner      *runner.Runner
	Targets     *targets.Resolver
	FMCs        *targets.FMCs
	// Actions are remediation's device actions over Runner.
	Actions *remediate.RunnerActions
	// Sessions are the web console's sign-ins; Console is the console
	// (nil when ui.enabled is false).
	Sessions *auth.Sessions
	Console  *console.Console

	workers   bool
	clientID  string
	liveness  jobs.LivenessConfig
	recorder  *runs.Recorder
	refresher *metrics.Refresher
	bg        *background // set by Start
}

// sessionLockSnooze: how long a job whose device still has a session of
// its run open waits before trying again (no attempt is consumed).
const sessionLockSnooze = 10 * time.Second

// New builds the whole backend and writes the configured sites, credentials
// and schedules into the database; Start runs it. The services insert jobs
// through a jobs.Inserter bound to the River client before New returns:
// the client is built last, because River needs every worker at
// construction and the workers need the services.
func New(ctx context.Context, o Options) (*App, error) {
	cfg, pool, log := o.Config, o.Pool, o.Log
	if log == nil {
		log = zap.NewNop()
	}
	var clock Clock = remediate.SystemClock{}
	if o.Clock != nil {
		clock = o.Clock
	}
	a := &App{Config: cfg, Pool: pool, Log: log, workers: o.Workers, Auth: auth.NewStore(pool)}

	a.Inventory = inventory.NewStore(pool, InventoryCatalog(cfg), log.Named("inventory"))
	stale, err := a.Inventory.SyncCatalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync sites and credentials from config: %w", err)
	}
	if len(stale) > 0 {
		log.Warn("sites or credentials removed from config are still used by devices; "+
			"fix the inventory or restore them in config", zap.Strings("names", stale))
	}

	// The devices: runner, resolver, checks.
	rcfg := RunnerConfig(cfg)
	if o.Runner != nil {
		o.Runner(&rcfg)
		rcfg = rcfg.WithDefaults()
	}
	if err := rcfg.Validate(); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	a.Runner, err = runner.New(rcfg, targets.HostKeys{Store: a.Inventory, JumpKeys: targets.JumpHostKeys(cfg)}, log.Named("runner"))
	if err != nil {
		return nil, err
	}
	a.FMCs = targets.NewFMCs(cfg, a.Inventory, a.Inventory)
	if a.Targets, err = targets.New(cfg, a.Inventory); err != nil {
		return nil, err
	}
	acfg := remediate.RunnerActionsConfig{}
	if o.RemediationChecks != nil {
		o.RemediationChecks(&acfg)
	}
	a.Actions = remediate.NewRunnerActions(a.Targets, a.Inventory, a.Runner, acfg, log.Named("remediate"))

	// The services, over the queue that is bound to the River client below.
	queue := &jobs.Inserter{}
	a.Metrics = metrics.New()
	if a.Notify, err = notify.New(NotifyConfig(cfg, log), notify.Deps{Queue: queue, Observe: a.Metrics.WebhookDelivery},
		log.Named("notify")); err != nil {
		return nil, err
	}
	a.Runs = runs.NewService(pool, queue, runs.InventorySource{Inventory: a.Inventory}, cfg.Jobs.MaxAttempts, log.Named("runs")).
		WithDeviceBatch(cfg.Jobs.DiagnoseBatch)
	a.Incidents = runs.NewIncidents(pool, IncidentConfig(cfg))
	a.Remediation = remediate.NewService(pool, remediate.ServiceDeps{Queue: queue,
		Devices:  remediate.InventorySource{Inventory: a.Inventory, Status: a.Runs, Results: pool},
		Notifier: a.Notify, Clock: clock}, RemediationConfig(cfg), log.Named("remediate"))
	if a.Sweeps, err = sweep.New(pool, SweepConfig(cfg), sweep.Deps{Runs: a.Runs, Queue: queue, Notifier: a.Notify,
		Requests: remediationRequester{a.Remediation}, Observer: a.Metrics, Clock: clock}, log.Named("sweep")); err != nil {
		return nil, err
	}
	// Before the River client starts, so that its periodic jobs find them.
	if err := a.Sweeps.Sync(ctx); err != nil {
		return nil, err
	}
	a.recorder = runs.NewRecorder(pool, runs.RecorderConfig{OnRecorded: []func([]runs.Result, []uuid.UUID){
		func(results []runs.Result, _ []uuid.UUID) { a.Metrics.ObserveResults(results) },
		func(_ []runs.Result, completed []uuid.UUID) { a.Sweeps.RunsCompleted(completed) },
	}}, log.Named("recorder"))
	a.refresher = metrics.NewRefresher(pool, a.Metrics, MetricsRefresherConfig(cfg), log.Named("metrics"))

	// The River client, with the workers if asked.
	jcfg := JobsConfig(cfg)
	if o.Jobs != nil {
		o.Jobs(&jcfg)
	}
	a.clientID = jcfg.ClientID
	a.liveness = LivenessConfig(cfg)
	a.liveness.ClientID = jcfg.ClientID
	var workers *river.Workers
	if o.Workers {
		workers = river.NewWorkers()
		diag := devicecheck.NewDiagnoser(a.Targets, a.Runner, a.FMCs, log.Named("diagnose"))
		river.AddWorker(workers, runs.NewDiagnoseWorker(pool, diag, a.recorder, jcfg.JobTimeout, log.Named("worker")).
			WithLeaseSnooze(sessionLockSnooze).WithRetryDelay(cfg.Jobs.RetryDelay))
		a.Sweeps.AddWorkers(workers)
		river.AddWorker(workers, a.Notify.Worker(nil))
		// The request executor and the periodic expiry of unapproved requests.
		wcfg := RemediationWorkerConfig(cfg)
		if o.RemediationWorker != nil {
			o.RemediationWorker(&wcfg)
		}
		remediate.Register(workers, remediate.NewWorker(pool,
			remediate.WorkerDeps{Actions: a.Actions, Notifier: a.Notify, Clock: clock}, wcfg, log.Named("remediate")))
		// The history's retention: hourly, on the leader.
		river.AddWorker(workers, runs.NewRetentionWorker(runs.NewPruner(pool, RetentionConfig(cfg), log.Named("retention")),
			log.Named("retention")))
		jcfg.PeriodicJobs = append(a.Sweeps.PeriodicJobs(), remediate.ExpirePeriodicJob(time.Minute),
			runs.RetentionPeriodicJob(runs.DefaultRetentionInterval))
		river.AddWorker(workers, &fmcSyncWorker{app: a})
		jcfg.PeriodicJobs = append(jcfg.PeriodicJobs, fmcSyncJobs(cfg)...)
	}
	if a.Queue, err = jobs.NewClient(pool, workers, jcfg, log); err != nil {
		return nil, err
	}
	queue.Bind(a.Queue)

	// The web console, over the same services as the API.
	a.Sessions = auth.NewSessions(pool, a.Auth, SessionConfig(cfg, clock.Now))
	if cfg.UI.Enabled {
		if a.Console, err = console.New(console.Deps{Log: log, Config: ConsoleConfig(cfg, clock.Now), Sessions: a.Sessions,
			Inventory: a.Inventory, Runs: a.Runs, Remediation: a.Remediation, Sweeps: a.Sweeps,
			Audit: apiserver.AuditFromDB(pool), Incidents: a.Incidents}); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// APIDeps is what the HTTP API serves.
func (a *App) APIDeps() apiserver.Deps {
	return apiserver.Deps{
		Log:         a.Log,
		Config:      a.Config,
		DB:          a.Pool,
		Auth:        a.Auth,
		Inventory:   a.Inventory,
		Audit:       apiserver.AuditFromDB(a.Pool),
		Runs:        a.Runs,
		Incidents:   a.Incidents,
		Remediation: a.Remediation,
		Sweeps:      a.Sweeps,
		FMCs:        a.FMCs,
		Metrics:     a.Metrics.Handler(),
		Console:     a.consoleHandler(),
	}
}

// consoleHandler is the console, or nil (not a typed nil) when it is off.
func (a *App) consoleHandler() http.Handler {
	if a.Console == nil {
		return nil
	}
	return a.Console
}

// remediationRequester lets a sweep open restart-connector requests. They
// are pending: two-person approval applies as to any other request.
type remediationRequester struct{ svc *remediate.Service }

func (r remediationRequester) RequestRestart(ctx context.Context, requestedBy string, devices []string, reason string) (uuid.UUID, error) {
	req, err := r.svc.Create(ctx, remediate.Actor{Name: requestedBy, Role: "operator"},
		remediate.CreateRequest{Action: remediate.ActionRestartConnector, Devices: devices, Reason: reason})
	if err != nil {
		return uuid.Nil, err
	}
	return req.ID, nil
}
