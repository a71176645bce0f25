package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/incident"
	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/queues"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep/cron"
)

// ScheduleConfig is one schedule as configured.
type ScheduleConfig struct {
	Name     string
	Cron     string // 5 fields
	Timezone string // IANA; "" = UTC
	Selector runs.Selector
	// Enabled is the config's value; a run-time enable/disable overrides it
	// until the config changes it.
	Enabled bool
	// CreateRemediationRequests lets a finished sweep open restart-connector
	// requests for devices whose diagnosis it cures. They wait for approval.
	CreateRemediationRequests bool
}

// Config is the sweep service's configuration.
type Config struct {
	Schedules []ScheduleConfig
	// MaintenanceInterval is how often the leader looks for missed slots and
	// for finished sweeps without a report (default 5m; also at start).
	MaintenanceInterval time.Duration
	// JobMaxAttempts bounds a sweep start or report job's attempts (default 10).
	JobMaxAttempts int
	// Incidents are the thresholds of the incidents a diff names as new
	// and resolved (fleetd's incidents.*).
	Incidents incident.Config
}

// Clock tells the time; tests inject a fixed one.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// RunStarter starts runs (*runs.Service).
type RunStarter interface {
	Start(ctx context.Context, req runs.StartRequest) (runs.Run, error)
}

// Inserter is the part of a River client the service uses.
type Inserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Notifier queues notifications inside a transaction (*notify.Service).
type Notifier interface {
	NotifyTx(ctx context.Context, tx pgx.Tx, ev notify.Event) error
}

// RequestCreator opens remediation requests (pkg/remediate, adapted in
// internal/app). A request it opens is pending: a person approves it.
type RequestCreator interface {
	RequestRestart(ctx context.Context, requestedBy string, devices []string, reason string) (uuid.UUID, error)
}

// Observer learns about sweeps and runs (pkg/metrics).
type Observer interface {
	SweepStarted(schedule string)
	ObserveRun(kind string, d time.Duration)
}

// Deps are the service's collaborators.
type Deps struct {
	Runs     RunStarter
	Queue    Inserter       // the River client: sweep starts, reports
	Notifier Notifier       // optional: no notifications
	Requests RequestCreator // optional: no remediation requests
	Observer Observer       // optional
	Clock    Clock          // optional: the system clock
}

// Service runs the schedules and reports.
type Service struct {
	pool      *pgxpool.Pool
	cfg       Config
	log       *zap.Logger
	clock     Clock
	crons     map[string]*cron.Schedule
	deps      Deps
	byName    map[string]ScheduleConfig
	incidents *runs.Incidents
}

// New validates cfg and returns the service; register AddWorkers and
// PeriodicJobs with the River client.
func New(pool *pgxpool.Pool, cfg Config, deps Deps, log *zap.Logger) (*Service, error) {
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = 5 * time.Minute
	}
	if cfg.JobMaxAttempts <= 0 {
		cfg.JobMaxAttempts = 10
	}
	clock := deps.Clock
	if clock == nil {
		clock = systemClock{}
	}
	s := &Service{pool: pool, cfg: cfg, log: log, clock: clock, crons: map[string]*cron.Schedule{},
		deps: deps, byName: map[string]ScheduleConfig{}, incidents: runs.NewIncidents(pool, cfg.Incidents)}
	for _, sc := range cfg.Schedules {
		if _, dup := s.byName[sc.Name]; dup || sc.Name == "" {
			return nil, fmt.Errorf("schedule %q: name missing or used twice", sc.Name)
		}
		c, err := cron.Parse(sc.Cron, sc.Timezone)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: cron: %w", sc.Name, err)
		}
		s.crons[sc.Name] = c
		s.byName[sc.Name] = sc
	}
	return s, nil
}

// AddWorkers registers the service's River workers.
func (s *Service) AddWorkers(w *river.Workers) {
	river.AddWorker(w, &SweepWorker{svc: s})
	river.AddWorker(w, &MaintenanceWorker{svc: s})
	river.AddWorker(w, &ReportWorker{svc: s})
}

// PeriodicJobs are the jobs to give the River client: one per schedule, at
// its cron times, and the maintenance job (catch-up and report
// reconciliation), which also runs whenever a replica becomes leader. River
// runs periodic jobs on the elected leader only, so each slot is enqueued
// once however many replicas run.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	var out []*river.PeriodicJob
	for _, sc := range s.cfg.Schedules {
		name, c := sc.Name, s.crons[sc.Name]
		out = append(out, river.NewPeriodicJob(c, func() (river.JobArgs, *river.InsertOpts) {
			// River calls this at the cron time (up to 100ms early): the
			// slot is the latest cron time at or just after now.
			slot := c.Prev(s.clock.Now().Add(time.Second))
			return SweepArgs{Schedule: name, Slot: slot.UTC()}, s.sweepOpts()
		}, &river.PeriodicJobOpts{ID: "sweep:" + name}))
	}
	out = append(out, river.NewPeriodicJob(river.PeriodicInterval(s.cfg.MaintenanceInterval),
		func() (river.JobArgs, *river.InsertOpts) {
			return MaintenanceArgs{}, &river.InsertOpts{Queue: queues.Default, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{ID: "sweep-maintenance", RunOnStart: true}))
	return out
}

func (s *Service) sweepOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: queues.Default, MaxAttempts: s.cfg.JobMaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// RunsCompleted is runs.Recorder's completion hook: it records each run's
// duration and queues the report of each sweep. It returns at once; the
// work runs in the background, and the maintenance job catches up on
// anything lost with this process.
func (s *Service) RunsCompleted(ids []uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range ids {
			h, err := runs.LoadHeader(ctx, s.pool, id)
			if err != nil {
				s.log.Warn("completed run not readable; its report waits for the maintenance job",
					zap.String("run_id", id.String()), zap.Error(err))
				continue
			}
			if s.deps.Observer != nil && h.FinishedAt != nil {
				s.deps.Observer.ObserveRun(h.Kind, h.FinishedAt.Sub(h.CreatedAt))
			}
			if h.Kind != runs.KindSweep {
				continue
			}
			if err := s.queueReport(ctx, id); err != nil {
				s.log.Warn("queueing sweep report failed; the maintenance job retries",
					zap.String("run_id", id.String()), zap.Error(err))
			}
		}
	}()
}

func (s *Service) queueReport(ctx context.Context, runID uuid.UUID) error {
	if s.deps.Queue == nil {
		return fmt.Errorf("sweep: no job queue")
	}
	_, err := s.deps.Queue.Insert(ctx, ReportArgs{RunID: runID}, &river.InsertOpts{Queue: queues.Default,
		MaxAttempts: s.cfg.JobMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	return err
}
