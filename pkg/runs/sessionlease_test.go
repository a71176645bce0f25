package runs_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/runs"
)

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
	svc := insertOnlyService(t, pool, log, 3)
	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	var devID uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT device_id FROM run_devices WHERE run_id = $1`, run.ID).Scan(&devID))

	rec := startRecorder(ctx, pool, log)
	d := &blockingDiagnoser{release: make(chan struct{}), started: make(chan struct{}, 4), open: map[string]int{}}
	worker := func() *runs.DiagnoseWorker { // one per process
		return runs.NewDiagnoseWorker(pool, d, rec, time.Minute, log).WithLeaseSnooze(50 * time.Millisecond)
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
	var leases int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM run_leases`).Scan(&leases))
	require.Zero(t, leases, "the recorded result deleted the lease")
}

// TestSessionLeaseIsGivenBackOrExpires: an attempt that ends without a
// result (a transient failure River retries) gives its lease back, so the
// retry opens its session at once; a lease left by a process that died
// blocks the device's copy until it expires, not longer.
func TestSessionLeaseIsGivenBackOrExpires(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	insertDevices(t, pool, "emea", "ftd-flaky", "ftd-orphan", "ftd-restarted")
	svc := insertOnlyService(t, pool, log, 3)
	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	ids := runDeviceIDs(t, pool, run.ID)
	rec := startRecorder(ctx, pool, log)
	d := &scriptedDiagnoser{calls: map[string]int{}, transient: map[string]int{"ftd-flaky": 1}}
	w := runs.NewDiagnoseWorker(pool, d, rec, time.Minute, log).WithLeaseSnooze(50 * time.Millisecond)
	job := func(dev string, attempt int) *river.Job[runs.DiagnoseArgs] {
		return &river.Job[runs.DiagnoseArgs]{JobRow: &rivertype.JobRow{ID: 7, Attempt: attempt, MaxAttempts: 3},
			Args: runs.DiagnoseArgs{RunID: run.ID, DeviceID: ids[dev]}}
	}

	require.ErrorContains(t, w.Work(ctx, job("ftd-flaky", 1)), "connection refused", "transient: River retries")
	require.NoError(t, w.Work(ctx, job("ftd-flaky", 2)), "the retry is not held up by the first attempt's lease")
	require.Equal(t, 2, d.calls["ftd-flaky"])

	// A process died holding ftd-orphan's lease: its copy waits while the
	// lease runs, and works the device once it has expired.
	for dev, holder := range map[string]string{"ftd-orphan": "replica-a", "ftd-restarted": "replica-b"} {
		_, err = pool.Exec(ctx, `INSERT INTO run_leases (run_id, device_id, token, until, holder)
			VALUES ($1, $2, gen_random_uuid(), now() + interval '1 hour', $3)`, run.ID, ids[dev], holder)
		require.NoError(t, err)
	}
	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, w.Work(ctx, job("ftd-orphan", 2)), &snooze)
	require.Zero(t, d.calls["ftd-orphan"])
	_, err = pool.Exec(ctx, `UPDATE run_leases SET until = now() - interval '1 second' WHERE run_id = $1 AND device_id = $2`,
		run.ID, ids["ftd-orphan"])
	require.NoError(t, err)
	require.NoError(t, w.Work(ctx, job("ftd-orphan", 3)))
	require.Equal(t, 1, d.calls["ftd-orphan"])

	// replica-b restarts: its previous incarnation's leases go, and with
	// them the wait of its jobs; nobody else's.
	require.ErrorAs(t, w.Work(ctx, job("ftd-restarted", 2)), &snooze)
	n, err := runs.ReleaseLeasesOf(ctx, pool, "replica-b")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.NoError(t, w.Work(ctx, job("ftd-restarted", 2)))
	require.Equal(t, 1, d.calls["ftd-restarted"])
	var done int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM run_devices WHERE run_id = $1 AND state = 'done'`, run.ID).Scan(&done))
	require.Equal(t, 3, done)
}

// TestJobsStartLongestFirst: a run's jobs are enqueued by the longest
// command of each device's last session (its session length for a result
// recorded before there was one), longest first, devices never checked
// first of all, so that the slow devices of a fleet overlap the rest of
// the run.
func TestJobsStartLongestFirst(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t)
	ctx := context.Background()
	insertDevices(t, pool, "emea", "ftd-a", "ftd-b", "ftd-c", "ftd-new")
	svc := insertOnlyService(t, pool, log, 3)
	prev, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	// The previous run: ftd-b took 11 s (a blocked egress; no longest
	// command recorded), ftd-c 3 s of which its longest command 0.1 s (it
	// queued for CPU), ftd-a 1 s of which one command waited 0.9 s; ftd-new
	// was added since.
	_, err = pool.Exec(ctx, `UPDATE run_devices SET state = 'done', health = 'healthy', started_at = now() - interval '1 minute',
		finished_at = now() - interval '1 minute' + CASE device WHEN 'ftd-b' THEN interval '11 s' WHEN 'ftd-c' THEN interval '3 s'
		ELSE interval '1 s' END,
		longest_command_ms = CASE device WHEN 'ftd-c' THEN 100 WHEN 'ftd-a' THEN 900 END WHERE run_id = $1`, prev.ID)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `DELETE FROM run_devices WHERE run_id = $1 AND device = 'ftd-new'`, prev.ID)
	require.NoError(t, err)

	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	require.Equal(t, [][]string{{"ftd-new", "ftd-b", "ftd-a", "ftd-c"}}, jobOrder(t, pool, run.ID), "one batch")

	// In batches of three: the slowest three, then the last one alone.
	svc.WithDeviceBatch(3)
	run, err = svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	require.Equal(t, [][]string{{"ftd-new", "ftd-b", "ftd-a"}, {"ftd-c"}}, jobOrder(t, pool, run.ID))
}

// jobOrder returns the devices of each of a run's jobs, in River's order.
func jobOrder(t *testing.T, pool *pgxpool.Pool, runID uuid.UUID) [][]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT j.id, rd.device FROM river_job j
		CROSS JOIN LATERAL (SELECT (j.args->>'device_id')::uuid AS id, 0::bigint AS ord WHERE j.args ? 'device_id'
			UNION ALL SELECT x::uuid, o FROM jsonb_array_elements_text(j.args->'device_ids') WITH ORDINALITY AS e (x, o)) ids
		JOIN run_devices rd ON rd.run_id = (j.args->>'run_id')::uuid AND rd.device_id = ids.id
		WHERE rd.run_id = $1 ORDER BY j.id, ids.ord`, runID)
	require.NoError(t, err)
	var out [][]string
	last := int64(-1)
	for rows.Next() {
		var id int64
		var n string
		require.NoError(t, rows.Scan(&id, &n))
		if id != last {
			out = append(out, nil)
			last = id
		}
		out[len(out)-1] = append(out[len(out)-1], n)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestBatchRunsWhatItLeasedAndSnoozesForTheRest: a batch job opens a
// session on each pending device whose lease it got, skips the device
// already done, and is snoozed for the one another attempt still holds;
// its next try works only that one.
func TestBatchRunsWhatItLeasedAndSnoozesForTheRest(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	insertDevices(t, pool, "emea", "ftd-done", "ftd-free", "ftd-held")
	svc := insertOnlyService(t, pool, log, 3)
	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	ids := runDeviceIDs(t, pool, run.ID)
	order := []uuid.UUID{ids["ftd-done"], ids["ftd-free"], ids["ftd-held"]}
	rec := startRecorder(ctx, pool, log)
	now := time.Now()
	require.NoError(t, rec.Record(ctx, runs.Result{RunID: run.ID, DeviceID: ids["ftd-done"], Attempts: 1,
		Outcome: runs.Outcome{Health: runs.HealthHealthy, StartedAt: now, FinishedAt: now}}))
	_, err = pool.Exec(ctx, `INSERT INTO run_leases (run_id, device_id, token, until, holder)
		VALUES ($1, $2, gen_random_uuid(), now() + interval '1 hour', 'replica-a')`, run.ID, ids["ftd-held"])
	require.NoError(t, err)

	d := &scriptedDiagnoser{calls: map[string]int{}}
	w := runs.NewDiagnoseWorker(pool, d, rec, time.Minute, log).WithLeaseSnooze(50 * time.Millisecond)
	job := &river.Job[runs.DiagnoseArgs]{JobRow: &rivertype.JobRow{ID: 9, Attempt: 1, MaxAttempts: 3},
		Args: runs.DiagnoseArgs{RunID: run.ID, DeviceIDs: order}}
	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, w.Work(ctx, job), &snooze)
	require.Equal(t, map[string]int{"ftd-free": 1}, d.calls)

	_, err = runs.ReleaseLeasesOf(ctx, pool, "replica-a")
	require.NoError(t, err)
	require.NoError(t, w.Work(ctx, job))
	require.Equal(t, map[string]int{"ftd-free": 1, "ftd-held": 1}, d.calls)
	got, err := svc.Get(ctx, run.ID, runs.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, runs.StatusCompleted, got.Status)
	var leases int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM run_leases`).Scan(&leases))
	require.Zero(t, leases)
}
