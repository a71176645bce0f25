package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/targets"
	"github.com/fleetd/fleetd/pkg/devicecheck"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
)

// backend is everything behind the API that does work: the job queue, its
// workers, the runner and the services built on them.
type backend struct {
	queue    *jobs.Client
	runs     *runs.Service
	runner   *runner.Runner
	resolver *targets.Resolver
	diag     *devicecheck.Diagnoser
	recorder *runs.Recorder
	locks    *runs.SessionLocks
	stopLive context.CancelFunc
	cfg      config.Config
	clientID string
	pool     *pgxpool.Pool
	log      *zap.Logger
	remedy   *remediate.Service
	stopRec  context.CancelFunc
	recDone  chan struct{}
	// sweeps: schedules, sweep reports, notifications, metrics (sweeps.go).
	sweeps *sweepParts
}

// sessionLockSnooze: how long a job whose device still has a session of
// its run open waits before trying again (no attempt is consumed).
const sessionLockSnooze = 10 * time.Second

// newBackend builds the runner, the River client with its workers, and the
// run service. Call start to begin working jobs.
func newBackend(cfg config.Config, pool *pgxpool.Pool, svc *app.Services, log *zap.Logger) (*backend, error) {
	inv := svc.Inventory
	rcfg := app.RunnerConfig(cfg)
	if err := rcfg.Validate(); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r, err := runner.New(rcfg, targets.HostKeys{Store: inv, JumpKeys: targets.JumpHostKeys(cfg)}, log.Named("runner"))
	if err != nil {
		return nil, err
	}
	resolver, err := targets.New(cfg, inv)
	if err != nil {
		return nil, err
	}
	b := &backend{runner: r, resolver: resolver}
	b.diag = devicecheck.NewDiagnoser(resolver, r, log.Named("diagnose"))
	b.recorder = runs.NewRecorder(pool, runs.RecorderConfig{}, log.Named("recorder"))

	jcfg := app.JobsConfig(cfg)
	b.locks = runs.NewSessionLocks(pool, log.Named("session-locks"))
	workers := river.NewWorkers()
	river.AddWorker(workers, runs.NewDiagnoseWorker(pool, b.diag, b.recorder, jcfg.JobTimeout, log.Named("worker")).
		WithSessionLocks(b.locks, sessionLockSnooze))
	// Sweep parts first: their notifier is the remediation's too.
	if b.sweeps, err = newSweepParts(cfg, pool, log); err != nil {
		return nil, err
	}
	b.sweeps.addWorkers(workers)
	actions := remediate.NewRunnerActions(resolver, inv, r, remediate.RunnerActionsConfig{}, log.Named("remediate"))
	// The request executor and the periodic expiry of unapproved requests.
	rw := remediate.NewWorker(pool, actions, app.RemediationWorkerConfig(cfg), nil, log.Named("remediate"))
	rw.SetNotifier(b.sweeps.notify) // remediation.finished
	remediate.Register(workers, rw)
	b.clientID = jcfg.ClientID
	b.pool, b.log, b.cfg = pool, log, cfg
	jcfg.PeriodicJobs = append(b.sweeps.sweeps.PeriodicJobs(), remediate.ExpirePeriodicJob(time.Minute))
	b.queue, err = jobs.NewClient(pool, workers, jcfg, log)
	if err != nil {
		return nil, err
	}
	svc.UseQueue(b.queue)
	b.runs, b.remedy = svc.Runs, svc.Remediation
	b.remedy.SetNotifier(b.sweeps.notify) // approval.pending
	b.sweeps.bind(b)
	return b, nil
}

func (b *backend) start(ctx context.Context) error {
	recCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.stopRec = cancel
	b.recDone = make(chan struct{})
	go func() { defer close(b.recDone); b.recorder.Run(recCtx) }()
	n, err := jobs.ReleaseOrphans(ctx, b.pool, b.clientID)
	if err != nil {
		cancel()
		return err
	}
	if n > 0 {
		b.log.Info("took back jobs this process held when it last stopped abruptly",
			zap.Int64("jobs", n), zap.String("client_id", b.clientID))
	}
	liveCtx, stopLive := context.WithCancel(context.WithoutCancel(ctx))
	b.stopLive = stopLive
	go runs.NewReaper(b.pool, b.recorder, 30*time.Second, b.log.Named("reaper")).Run(liveCtx)
	go jobs.NewLiveness(b.pool, app.LivenessConfig(b.cfg), b.log.Named("liveness")).Run(liveCtx)
	if err := b.sweeps.start(ctx); err != nil {
		cancel()
		return err
	}
	if err := b.queue.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("start job queue: %w", err)
	}
	return nil
}

// stop lets running jobs finish until graceAt, then cancels them (which
// closes their SSH sessions) and stops the recorder after it has written
// what the finished jobs handed it. Nothing waits past hardAt: a job, query
// or device still blocked then is left behind, the process is exiting.
func (b *backend) stop(graceAt, hardAt time.Time) {
	log := b.log
	if b.stopLive != nil {
		defer b.stopLive() // last: the jobs below may still be finishing
	}
	gctx, cancel := context.WithDeadline(context.Background(), graceAt)
	defer cancel()
	if err := b.queue.Stop(gctx); err != nil {
		log.Warn("jobs still running at shutdown were cancelled; another fleetd (or this one, restarted) retries them",
			zap.Error(err))
		hctx, hcancel := context.WithDeadline(context.Background(), hardAt)
		defer hcancel()
		if err := b.queue.StopAndCancel(hctx); err != nil {
			log.Error("jobs still running after being cancelled were abandoned", zap.Error(err))
		}
	}
	if b.stopRec != nil {
		b.stopRec()
		if !within(hardAt, func() { <-b.recDone }) {
			log.Error("the result recorder did not stop in time; results not yet written are retried by their jobs")
		}
	}
	within(hardAt, func() {
		b.locks.Close()
		b.sweeps.stop()
	})
}
