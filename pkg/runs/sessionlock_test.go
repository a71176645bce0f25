package runs_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/runs"
)

func TestSessionLocks(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t)
	ctx := context.Background()
	// Two processes: each has its own lock connection.
	a, b := runs.NewSessionLocks(pool, log), runs.NewSessionLocks(pool, log)
	defer a.Close()
	defer b.Close()
	run, dev, other := uuid.New(), uuid.New(), uuid.New()

	unlock, ok, err := a.TryLock(ctx, run, dev)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = a.TryLock(ctx, run, dev)
	require.NoError(t, err)
	require.False(t, ok, "a second job of this process waits (PostgreSQL's locks are re-entrant per connection)")
	_, ok, err = b.TryLock(ctx, run, dev)
	require.NoError(t, err)
	require.False(t, ok, "another process waits")
	unlockOther, ok, err := b.TryLock(ctx, run, other)
	require.NoError(t, err)
	require.True(t, ok, "another device of the run is not held up")
	unlockOther()
	unlockRun2, ok, err := b.TryLock(ctx, uuid.New(), dev)
	require.NoError(t, err)
	require.True(t, ok, "another run on the same device is not held up")
	unlockRun2()

	unlock()
	unlock() // idempotent
	unlockB, ok, err := b.TryLock(ctx, run, dev)
	require.NoError(t, err)
	require.True(t, ok, "free once the first session ended")

	// A process that dies (its connection closes) releases its locks. The
	// server ends the closed connection's backend asynchronously, so the
	// lock frees shortly after Close returns, not at once.
	b.Close()
	var unlockA func()
	require.Eventually(t, func() bool {
		var err error
		unlockA, ok, err = a.TryLock(ctx, run, dev)
		require.NoError(t, err)
		return ok
	}, 10*time.Second, 20*time.Millisecond, "the dead process's lock is released with its connection")
	unlockA()
	unlockB() // on a connection since closed: a no-op
	unlockA, ok, err = a.TryLock(ctx, run, dev)
	require.NoError(t, err)
	require.True(t, ok)
	unlockA()
}

// blockingDiagnoser holds every session open until released, and records
// how many sessions of a device were open at once.
type blockingDiagnoser struct {
	release chan struct{}
	started chan struct{}
	mu      sync.Mutex
	open    map[string]int
	peak    int
	calls   atomic.Int32
}

func (d *blockingDiagnoser) Diagnose(ctx context.Context, dev runs.Device, _ []string) runs.Outcome {
	d.calls.Add(1)
	d.mu.Lock()
	d.open[dev.Name]++
	d.peak = max(d.peak, d.open[dev.Name])
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.open[dev.Name]--; d.mu.Unlock() }()
	d.started <- struct{}{}
	select {
	case <-d.release:
	case <-ctx.Done():
	}
	now := time.Now()
	return runs.Outcome{Health: runs.HealthHealthy, Transcript: "ok", StartedAt: now, FinishedAt: now}
}

// TestRescuedJobWaitsForTheOldSession replays issue 10 §3's second half: River
// hands a device job on (rescue, or a replica taken for dead) while its first
// attempt's session is still open. The copy, in another process, must not
// open a second session: it is snoozed (no attempt consumed) until the first
// ends, and then finds the device done.
func TestRescuedJobWaitsForTheOldSession(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	insertDevices(t, pool, "emea", "ftd-stuck")
	// An insert-only client: the test works the job by hand, twice at once.
	inserter, err := jobs.NewClient(pool, nil, jobs.Config{TestOnly: true}, log)
	require.NoError(t, err)
	svc := runs.NewService(pool, inserter, fakeDevices{pool}, 3, log)
	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	var devID uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT device_id FROM run_devices WHERE run_id = $1`, run.ID).Scan(&devID))

	rec := runs.NewRecorder(pool, runs.RecorderConfig{MaxDelay: 10 * time.Millisecond}, log)
	go rec.Run(ctx)
	d := &blockingDiagnoser{release: make(chan struct{}), started: make(chan struct{}, 4), open: map[string]int{}}
	worker := func() *runs.DiagnoseWorker { // one per process, each with its own locks
		l := runs.NewSessionLocks(pool, log)
		t.Cleanup(l.Close)
		return runs.NewDiagnoseWorker(pool, d, rec, time.Minute, log).WithSessionLocks(l, 50*time.Millisecond)
	}
	first, rescuer := worker(), worker()
	job := func(attempt int) *river.Job[runs.DiagnoseArgs] {
		return &river.Job[runs.DiagnoseArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: attempt, MaxAttempts: 3},
			Args: runs.DiagnoseArgs{RunID: run.ID, DeviceID: devID}}
	}

	done := make(chan error, 1)
	go func() { done <- first.Work(ctx, job(1)) }()
	<-d.started // the first session is open (and hangs)

	// The rescued copy, in the other process, and a duplicate in this one.
	for _, w := range []*runs.DiagnoseWorker{rescuer, first} {
		err := w.Work(ctx, job(2))
		var snooze *rivertype.JobSnoozeError
		require.True(t, errors.As(err, &snooze), "snoozed, not run: %v", err)
		require.Equal(t, 50*time.Millisecond, snooze.Duration)
	}
	require.EqualValues(t, 1, d.calls.Load(), "no second session was opened")

	close(d.release)
	require.NoError(t, <-done)
	// The snoozed copy runs again: the device is done, nothing is opened.
	require.NoError(t, rescuer.Work(ctx, job(2)))
	require.EqualValues(t, 1, d.calls.Load())
	require.Equal(t, 1, d.peak)
}
