package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/pkg/runs"
)

// HardStop is how long Stop still waits, once the grace period is over and
// the jobs are cancelled, for what is left (River, the recorder, the
// database): past it, the process exits whatever a device or a query still
// blocks on.
const HardStop = 2 * time.Second

// background is what Start set running.
type background struct {
	stopRec     context.CancelFunc
	recDone     chan struct{}
	stopLive    context.CancelFunc // reaper and liveness
	stopRefresh context.CancelFunc
	refreshDone sync.WaitGroup
	stopOnce    sync.Once
}

// Start works the jobs: it starts the result recorder, takes back the jobs a
// previous incarnation of this process held, starts the reaper, the
// heartbeat, the metrics refresher and the River client. Without
// Options.Workers there is nothing to run and Start does nothing. The
// parts run until Stop, whatever happens to ctx: a cancelled context would
// cut running jobs short, and Stop ends them gracefully.
func (a *App) Start(ctx context.Context) error {
	if !a.workers {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	bg := &background{recDone: make(chan struct{})}
	recCtx, stopRec := context.WithCancel(ctx)
	bg.stopRec = stopRec
	go func() { defer close(bg.recDone); a.recorder.Run(recCtx) }()
	// The previous incarnation is dead, and its sessions with it: its
	// session leases go first, so that its jobs, taken back, run at once.
	if _, err := runs.ReleaseLeasesOf(ctx, a.Pool, a.clientID); err != nil {
		stopRec()
		return err
	}
	n, err := jobs.ReleaseOrphans(ctx, a.Pool, a.clientID)
	if err != nil {
		stopRec()
		return err
	}
	if n > 0 {
		a.Log.Info("took back jobs this process held when it last stopped abruptly",
			zap.Int64("jobs", n), zap.String("client_id", a.clientID))
	}
	liveCtx, stopLive := context.WithCancel(ctx)
	bg.stopLive = stopLive
	go runs.NewReaper(a.Pool, a.recorder, 30*time.Second, a.Log.Named("reaper")).Run(liveCtx)
	go jobs.NewLiveness(a.Pool, a.liveness, a.Log.Named("liveness")).Run(liveCtx)
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	bg.stopRefresh = stopRefresh
	bg.refreshDone.Add(1)
	go func() { defer bg.refreshDone.Done(); a.refresher.Run(refreshCtx) }()
	if err := a.Queue.Start(ctx); err != nil {
		stopRec()
		stopLive()
		stopRefresh()
		return fmt.Errorf("start job queue: %w", err)
	}
	a.bg = bg
	return nil
}

// Stop lets running jobs finish until ctx ends (fleetd serve: at the end of
// api.shutdown_grace), then cancels them, which closes their SSH sessions,
// and stops the recorder after it has written what the finished jobs
// handed it. Nothing waits more than HardStop past ctx's deadline (or, for
// a context without one, past the moment it ended or the jobs stopped): a
// job, query or device still blocked then is left behind, the process is
// exiting. Only the first call does anything.
func (a *App) Stop(ctx context.Context) {
	bg := a.bg
	if bg == nil {
		return
	}
	bg.stopOnce.Do(func() { a.stop(ctx, bg) })
}

func (a *App) stop(ctx context.Context, bg *background) {
	log := a.Log
	defer bg.stopLive() // last: the jobs below may still be finishing
	err := a.Queue.Stop(ctx)
	hardAt := time.Now().Add(HardStop)
	if d, ok := ctx.Deadline(); ok {
		hardAt = d.Add(HardStop)
	}
	if err != nil {
		log.Warn("jobs still running at shutdown were cancelled; another fleetd (or this one, restarted) retries them",
			zap.Error(err))
		hctx, hcancel := context.WithDeadline(context.Background(), hardAt)
		defer hcancel()
		if err := a.Queue.StopAndCancel(hctx); err != nil {
			log.Error("jobs still running after being cancelled were abandoned", zap.Error(err))
		}
	}
	bg.stopRec()
	if !Within(hardAt, func() { <-bg.recDone }) {
		log.Error("the result recorder did not stop in time; results not yet written are retried by their jobs")
	}
	Within(hardAt, func() {
		bg.stopRefresh()
		bg.refreshDone.Wait()
	})
}

// Within runs fn and waits for it until deadline; past it, fn is left
// running (the process is about to exit) and false is returned.
func Within(deadline time.Time, fn func()) bool {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	t := time.NewTimer(max(time.Until(deadline), 0))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
