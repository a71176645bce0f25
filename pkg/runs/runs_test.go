package runs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/runs"
)

// fakeDevices selects from devices rows inserted by the test.
type fakeDevices struct{ pool *pgxpool.Pool }

func (f fakeDevices) SelectDevices(ctx context.Context, sel runs.Selector) ([]runs.Device, error) {
	rows, err := f.pool.Query(ctx, `SELECT id, name, site, kind FROM devices WHERE $1 = '' OR site = $1`, sel.Site)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []runs.Device
	for rows.Next() {
		var d runs.Device
		if err := rows.Scan(&d.ID, &d.Name, &d.Site, &d.Kind); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// scriptedDiagnoser answers by device name and counts calls.
type scriptedDiagnoser struct {
	mu        sync.Mutex
	calls     map[string]int
	transient map[string]int // fail transiently this many times
}

func (s *scriptedDiagnoser) Diagnose(_ context.Context, dev runs.Device, _ []string) runs.Outcome {
	s.mu.Lock()
	s.calls[dev.Name]++
	n := s.calls[dev.Name]
	s.mu.Unlock()
	now := time.Now()
	if n <= s.transient[dev.Name] {
		return runs.Outcome{Health: runs.HealthError, Diagnoses: []string{"unreachable"}, Error: "connection refused",
			Transient: true, StartedAt: now, FinishedAt: now}
	}
	if dev.Name == "ftd-sick" {
		return runs.Outcome{Health: runs.HealthUnhealthy, Diagnoses: []string{"eventhandler-disconnected"},
			Recommended: "restart-connector", Checks: json.RawMessage(`[{"id":"connector.eventhandler-socket","verdict":"fail"}]`),
			Transcript: "> expert\n...", StartedAt: now, FinishedAt: now}
	}
	return runs.Outcome{Health: runs.HealthHealthy, Checks: json.RawMessage(`[]`), Transcript: "ok", StartedAt: now, FinishedAt: now}
}

func insertDevices(t *testing.T, pool *pgxpool.Pool, site string, names ...string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO sites (name, region, timezone) VALUES ($1, 'eu', 'UTC') ON CONFLICT DO NOTHING`, site)
	require.NoError(t, err)
	_, err = pool.Exec(context.Background(), `INSERT INTO credentials (name, username) VALUES ('lab', 'admin') ON CONFLICT DO NOTHING`)
	require.NoError(t, err)
	for _, n := range names {
		_, err := pool.Exec(context.Background(),
			`INSERT INTO devices (id, name, kind, site, address, credential) VALUES ($1, $2, 'ftd', $3, '127.0.0.1', 'lab')`,
			uuid.New(), n, site)
		require.NoError(t, err)
	}
}

func startWorkers(t *testing.T, pool *pgxpool.Pool, d runs.Diagnoser) (*runs.Service, *runs.Recorder) {
	t.Helper()
	log := zaptest.NewLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	rec := runs.NewRecorder(pool, runs.RecorderConfig{MaxDelay: 20 * time.Millisecond}, log)
	go rec.Run(ctx)
	workers := river.NewWorkers()
	river.AddWorker(workers, runs.NewDiagnoseWorker(pool, d, rec, 30*time.Second, log))
	client, err := jobs.NewClient(pool, workers, jobs.Config{DiagnoseWorkers: 10, FetchPollInterval: 100 * time.Millisecond,
		RetryPolicy: runs.RetryPolicy{Delay: 50 * time.Millisecond}, TestOnly: true}, log)
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = client.Stop(stopCtx)
		cancel()
	})
	return runs.NewService(pool, client, fakeDevices{pool}, 3, log), rec
}

// insertOnlyService is the service over a River client that only inserts:
// no worker runs, so the test plays the worker (or the reaper) by hand.
func insertOnlyService(t *testing.T, pool *pgxpool.Pool, log *zap.Logger, maxAttempts int) *runs.Service {
	t.Helper()
	return runs.NewService(pool, insertOnlyClient(t, pool, log), fakeDevices{pool}, maxAttempts, log)
}

// insertOnlyClient is that River client, for a test that also inserts jobs
// of its own.
func insertOnlyClient(t *testing.T, pool *pgxpool.Pool, log *zap.Logger) *jobs.Client {
	t.Helper()
	client, err := jobs.NewClient(pool, nil, jobs.Config{TestOnly: true}, log)
	require.NoError(t, err)
	return client
}

// startRecorder runs a recorder that flushes within 10 ms until ctx ends.
func startRecorder(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger) *runs.Recorder {
	rec := runs.NewRecorder(pool, runs.RecorderConfig{MaxDelay: 10 * time.Millisecond}, log)
	go rec.Run(ctx)
	return rec
}

func waitCompleted(t *testing.T, svc *runs.Service, id uuid.UUID) runs.Run {
	t.Helper()
	var run runs.Run
	require.Eventually(t, func() bool {
		var err error
		run, err = svc.Get(context.Background(), id, runs.GetOptions{})
		require.NoError(t, err)
		return run.Status == runs.StatusCompleted
	}, 30*time.Second, 50*time.Millisecond, "run did not complete")
	return run
}

func TestRunRecordsOneResultPerDevice(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	insertDevices(t, pool, "emea", "ftd-a", "ftd-b", "ftd-sick", "ftd-flaky")
	insertDevices(t, pool, "amer", "ftd-us")
	d := &scriptedDiagnoser{calls: map[string]int{}, transient: map[string]int{"ftd-flaky": 1}}
	svc, _ := startWorkers(t, pool, d)
	ctx := context.Background()

	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	require.Equal(t, 4, run.Summary.Devices)

	got := waitCompleted(t, svc, run.ID)
	require.Equal(t, runs.Summary{Devices: 4, Done: 4, Healthy: 3, Unhealthy: 1}, got.Summary)
	require.NotNil(t, got.FinishedAt)

	full, err := svc.Get(ctx, run.ID, runs.GetOptions{Checks: true})
	require.NoError(t, err)
	require.Len(t, full.Devices, 4)
	for _, dr := range full.Devices {
		require.Equal(t, "done", dr.State)
		require.Equal(t, "emea", dr.Site)
	}
	require.Equal(t, []string{"eventhandler-disconnected"}, full.Devices[3].Diagnoses) // sorted: ftd-sick last
	require.Equal(t, 2, full.Devices[2].Attempts, "ftd-flaky was retried once")
	require.Equal(t, 2, d.calls["ftd-flaky"])
	// The four devices were one batch job; ftd-flaky's retry was handed on
	// to a job of its own, which knows its first attempt.
	var batches, retries int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE jsonb_array_length(args->'device_ids') = 4),
		count(*) FILTER (WHERE args->>'device_id' = (SELECT id::text FROM devices WHERE name = 'ftd-flaky')
			AND (args->>'prior_attempts')::int = 1)
		FROM river_job WHERE args->>'run_id' = $1`, run.ID.String()).Scan(&batches, &retries))
	require.Equal(t, 1, batches)
	require.Equal(t, 1, retries)
	require.Zero(t, d.calls["ftd-us"], "device outside the site was not touched")

	one, err := svc.Get(ctx, run.ID, runs.GetOptions{Device: "ftd-sick", Transcripts: true})
	require.NoError(t, err)
	require.Len(t, one.Devices, 1)
	require.Equal(t, "> expert\n...", one.Devices[0].Transcript)
	require.JSONEq(t, `[{"id":"connector.eventhandler-socket","verdict":"fail"}]`, string(one.Devices[0].Checks))

	st, err := svc.Status(ctx, runs.StatusFilter{Diagnosis: "eventhandler-disconnected"})
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.Equal(t, "ftd-sick", st[0].Device)
	all, err := svc.Status(ctx, runs.StatusFilter{})
	require.NoError(t, err)
	require.Len(t, all, 5)
	require.Equal(t, "unknown", all[4].Health, "ftd-us was never checked")
}

func TestRecorderIsIdempotent(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	insertDevices(t, pool, "emea", "ftd-a", "ftd-b")
	log := zaptest.NewLogger(t)
	// A client that only inserts: no workers run, the test plays the worker.
	svc := insertOnlyService(t, pool, log, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var recorded atomic.Int64
	rec := runs.NewRecorder(pool, runs.RecorderConfig{OnRecorded: []func([]runs.Result, []uuid.UUID){
		func(r []runs.Result, _ []uuid.UUID) { recorded.Add(int64(len(r))) }}}, log)
	go rec.Run(ctx)

	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{All: true}})
	require.NoError(t, err)
	var ids []uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(device_id ORDER BY device) FROM run_devices WHERE run_id = $1`, run.ID).Scan(&ids))

	// The same device reported three times concurrently (a rescued job racing
	// the original): exactly one result counts.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := rec.Record(ctx, runs.Result{RunID: run.ID, DeviceID: ids[0], Attempts: 1,
				Outcome: runs.Outcome{Health: runs.HealthHealthy, Transcript: fmt.Sprint("t", i)}})
			require.NoError(t, err)
		}(i)
	}
	wg.Wait()
	got, err := svc.Get(ctx, run.ID, runs.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, got.Summary.Done)
	require.Equal(t, runs.StatusRunning, got.Status)
	require.EqualValues(t, 1, recorded.Load())

	require.NoError(t, rec.Record(ctx, runs.Result{RunID: run.ID, DeviceID: ids[1], Attempts: 1,
		Outcome: runs.Outcome{Health: runs.HealthError, Diagnoses: []string{"timeout"}, Error: "deadline",
			LongestCommand: 1500 * time.Millisecond}}))
	got, err = svc.Get(ctx, run.ID, runs.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, runs.StatusCompleted, got.Status)
	var longest int
	require.NoError(t, pool.QueryRow(ctx, `SELECT longest_command_ms FROM run_devices WHERE run_id = $1 AND device_id = $2`,
		run.ID, ids[1]).Scan(&longest))
	require.Equal(t, 1500, longest, "the next run's order (longestFirst) reads it")
	require.Equal(t, runs.Summary{Devices: 2, Done: 2, Healthy: 1, Error: 1}, got.Summary)
}

// capturingDiagnoser keeps the device each job loaded.
type capturingDiagnoser struct {
	mu   sync.Mutex
	devs map[string]runs.Device
}

func (c *capturingDiagnoser) Diagnose(_ context.Context, dev runs.Device, _ []string) runs.Outcome {
	c.mu.Lock()
	c.devs[dev.Name] = dev
	c.mu.Unlock()
	now := time.Now()
	return runs.Outcome{Health: runs.HealthHealthy, StartedAt: now, FinishedAt: now}
}

// TestWorkerLoadsTheJobDevice: the device job's one query loads address,
// credential, tags and the pinned host key (inventory's building block).
func TestWorkerLoadsTheJobDevice(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	insertDevices(t, pool, "emea", "ftd-a", "ftd-b")
	ctx := context.Background()
	_, err := pool.Exec(ctx, `UPDATE devices SET tags = '{"env":"lab"}' WHERE name = 'ftd-a'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO host_keys (device_id, key_type, public_key, fingerprint, state, pinned_by, pinned_at)
		SELECT id, 'ssh-ed25519', '\x0102'::bytea, 'SHA256:pinned', 'pinned', 'ops', now() FROM devices WHERE name = 'ftd-a'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO host_keys (device_id, key_type, public_key, fingerprint, state)
		SELECT id, 'ssh-ed25519', '\x0304'::bytea, 'SHA256:pending', 'pending' FROM devices WHERE name = 'ftd-b'`)
	require.NoError(t, err)
	d := &capturingDiagnoser{devs: map[string]runs.Device{}}
	svc, _ := startWorkers(t, pool, d)
	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "emea"}})
	require.NoError(t, err)
	waitCompleted(t, svc, run.ID)

	d.mu.Lock()
	defer d.mu.Unlock()
	a, b := d.devs["ftd-a"], d.devs["ftd-b"]
	require.Equal(t, "127.0.0.1", a.Address)
	require.Equal(t, "lab", a.Credential)
	require.Equal(t, map[string]string{"env": "lab"}, a.Tags)
	require.Equal(t, []byte{1, 2}, a.PinnedHostKey)
	require.Equal(t, "127.0.0.1", b.Address)
	require.Empty(t, b.Tags)
	require.Nil(t, b.PinnedHostKey, "a pending key is not pinned")
}

// TestRecorderSkipsTheStatusOfDeletedDevices: a device deleted during its
// run gets its result in the run, and no latest status (which references
// the inventory's row).
func TestRecorderSkipsTheStatusOfDeletedDevices(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	insertDevices(t, pool, "emea", "ftd-a", "ftd-b")
	log := zaptest.NewLogger(t)
	svc := insertOnlyService(t, pool, log, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := runs.NewRecorder(pool, runs.RecorderConfig{}, log)
	go rec.Run(ctx)

	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{All: true}})
	require.NoError(t, err)
	var ids []uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(device_id ORDER BY device) FROM run_devices WHERE run_id = $1`, run.ID).Scan(&ids))
	_, err = pool.Exec(ctx, `DELETE FROM devices WHERE name = 'ftd-b'`)
	require.NoError(t, err)
	for _, id := range ids {
		require.NoError(t, rec.Record(ctx, runs.Result{RunID: run.ID, DeviceID: id, Attempts: 1,
			Outcome: runs.Outcome{Health: runs.HealthHealthy}}))
	}
	got, err := svc.Get(ctx, run.ID, runs.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, runs.StatusCompleted, got.Status)
	require.Equal(t, runs.Summary{Devices: 2, Done: 2, Healthy: 2}, got.Summary)
	st, err := svc.Status(ctx, runs.StatusFilter{})
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.Equal(t, "ftd-a", st[0].Device)
	require.Equal(t, runs.HealthHealthy, st[0].Health)
}

func TestStartRejectsEmptySelection(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t)
	svc := insertOnlyService(t, pool, log, 1)
	_, err := svc.Start(context.Background(), runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{Site: "nowhere"}})
	var se *runs.SelectionError
	require.ErrorAs(t, err, &se)
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM runs`).Scan(&n))
	require.Zero(t, n)
}

// TestReaperFinishesDevicesRiverGaveUpOn: a device whose job was discarded
// (its last attempt failed) gets an error result, so the run completes.
func TestReaperFinishesDevicesRiverGaveUpOn(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	insertDevices(t, pool, "emea", "ftd-a", "ftd-b")
	log := zaptest.NewLogger(t)
	svc := insertOnlyService(t, pool, log, 1).WithDeviceBatch(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := startRecorder(ctx, pool, log)

	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{All: true}})
	require.NoError(t, err)
	// ftd-a's job gave up: River discarded it after its last attempt.
	_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', attempt = 1, finalized_at = now(),
		errors = ARRAY['{"at":"2026-01-01T00:00:00Z","attempt":1,"error":"device ftd-a: connection refused"}'::jsonb]
		WHERE args->>'device_id' = (SELECT device_id::text FROM run_devices WHERE run_id = $1 AND device = 'ftd-a')`, run.ID)
	require.NoError(t, err)

	reaper := runs.NewReaper(pool, rec, time.Second, log)
	n, err := reaper.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = reaper.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "already recorded")

	got, err := svc.Get(ctx, run.ID, runs.GetOptions{Device: "ftd-a"})
	require.NoError(t, err)
	require.Equal(t, "error", got.Devices[0].Health)
	require.Equal(t, []string{"unreachable"}, got.Devices[0].Diagnoses)
	require.Contains(t, got.Devices[0].Error, "connection refused")
	require.Equal(t, 1, got.Summary.Done)
}

// TestReaperFinishesTheDevicesOfABatchRiverGaveUpOn: a batch job River
// discarded leaves its pending devices to the reaper, except a device whose
// retry was handed on to a job of its own that is still to run, and those
// already done.
func TestReaperFinishesTheDevicesOfABatchRiverGaveUpOn(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	insertDevices(t, pool, "emea", "ftd-a", "ftd-b", "ftd-c")
	log := zaptest.NewLogger(t)
	client := insertOnlyClient(t, pool, log)
	svc := runs.NewService(pool, client, fakeDevices{pool}, 2, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := startRecorder(ctx, pool, log)
	run, err := svc.Start(ctx, runs.StartRequest{RequestedBy: "ops", Selector: runs.Selector{All: true}})
	require.NoError(t, err)
	ids := runDeviceIDs(t, pool, run.ID)
	// ftd-a is done; ftd-b's retry waits in a job of its own; the batch
	// then failed its last attempt.
	now := time.Now()
	require.NoError(t, rec.Record(ctx, runs.Result{RunID: run.ID, DeviceID: ids["ftd-a"], Attempts: 1,
		Outcome: runs.Outcome{Health: runs.HealthHealthy, StartedAt: now, FinishedAt: now}}))
	_, err = client.Insert(ctx, runs.DiagnoseArgs{RunID: run.ID, DeviceID: ids["ftd-b"], PriorAttempts: 1},
		&river.InsertOpts{Queue: "diagnose", MaxAttempts: 1, ScheduledAt: now.Add(time.Hour)})
	require.NoError(t, err)
	tag, err := pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', attempt = 2, finalized_at = now(),
		errors = ARRAY['{"at":"2026-01-01T00:00:00Z","attempt":2,"error":"record result: connection reset"}'::jsonb]
		WHERE args->>'run_id' = $1 AND args ? 'device_ids'`, run.ID.String())
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected(), "the three devices were one job")

	n, err := runs.NewReaper(pool, rec, time.Second, log).RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only ftd-c")
	got, err := svc.Get(ctx, run.ID, runs.GetOptions{Device: "ftd-c"})
	require.NoError(t, err)
	require.Equal(t, "error", got.Devices[0].Health)
	require.Contains(t, got.Devices[0].Error, "job discarded after 2 attempt(s): record result: connection reset")
	got, err = svc.Get(ctx, run.ID, runs.GetOptions{Device: "ftd-b"})
	require.NoError(t, err)
	require.Equal(t, "pending", got.Devices[0].State, "its own job is still to run")
}

// runDeviceIDs maps the names of a run's devices to their ids.
func runDeviceIDs(t *testing.T, pool *pgxpool.Pool, runID uuid.UUID) map[string]uuid.UUID {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT device, device_id FROM run_devices WHERE run_id = $1`, runID)
	require.NoError(t, err)
	ids := map[string]uuid.UUID{}
	for rows.Next() {
		var name string
		var id uuid.UUID
		require.NoError(t, rows.Scan(&name, &id))
		ids[name] = id
	}
	require.NoError(t, rows.Err())
	return ids
}
