package sweep_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// fakeQueue records what the service queues.
type fakeQueue struct {
	mu   sync.Mutex
	args []river.JobArgs
}

func (q *fakeQueue) Insert(_ context.Context, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.args = append(q.args, args)
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{}}, nil
}

func (q *fakeQueue) sweeps() []sweep.SweepArgs {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []sweep.SweepArgs
	for _, a := range q.args {
		if s, ok := a.(sweep.SweepArgs); ok {
			out = append(out, s)
		}
	}
	return out
}

func (q *fakeQueue) reports() []uuid.UUID {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []uuid.UUID
	for _, a := range q.args {
		if r, ok := a.(sweep.ReportArgs); ok {
			out = append(out, r.RunID)
		}
	}
	return out
}

// fakeNotifier records events queued in committed transactions only.
type fakeNotifier struct {
	mu     sync.Mutex
	events []notify.Event
}

func (n *fakeNotifier) NotifyTx(ctx context.Context, tx pgx.Tx, ev notify.Event) error {
	// Prove the call happens inside the caller's transaction: a marker row
	// that exists only if it commits.
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS notified (id text) ON COMMIT DROP`); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, ev)
	return nil
}

func (n *fakeNotifier) all() []notify.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notify.Event(nil), n.events...)
}

// fakeRequests records remediation requests.
type fakeRequests struct {
	mu    sync.Mutex
	calls []requestCall
}

type requestCall struct {
	by      string
	devices []string
	reason  string
	id      uuid.UUID
}

func (r *fakeRequests) RequestRestart(_ context.Context, by string, devices []string, reason string) (uuid.UUID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := uuid.New()
	r.calls = append(r.calls, requestCall{by: by, devices: devices, reason: reason, id: id})
	return id, nil
}

// env is a migrated database with devices, the real run service (its jobs
// are queued, not worked) and a result recorder.
type env struct {
	pool     *pgxpool.Pool
	runs     *runs.Service
	recorder *runs.Recorder
	log      *zap.Logger
	clock    *clock
	queue    *fakeQueue
	notifier *fakeNotifier
	requests *fakeRequests
	devices  map[string]uuid.UUID
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	client, err := jobs.NewClient(pool, nil, jobs.Config{}, log)
	require.NoError(t, err)
	e := &env{pool: pool, log: log, clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		queue: &fakeQueue{}, notifier: &fakeNotifier{}, requests: &fakeRequests{}, devices: map[string]uuid.UUID{}}
	e.runs = runs.NewService(pool, client, siteSource{pool}, 1, log)
	e.recorder = runs.NewRecorder(pool, runs.RecorderConfig{MaxDelay: 5 * time.Millisecond}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.recorder.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// service builds the sweep service over the env with these schedules.
func (e *env) service(t *testing.T, scheds ...sweep.ScheduleConfig) *sweep.Service {
	t.Helper()
	s, err := sweep.New(e.pool, sweep.Config{Schedules: scheds},
		sweep.Deps{Runs: e.runs, Queue: e.queue, Notifier: e.notifier, Requests: e.requests, Clock: e.clock}, e.log)
	require.NoError(t, err)
	require.NoError(t, s.Sync(context.Background()))
	return s
}

func (e *env) addDevices(t *testing.T, site string, names ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `INSERT INTO sites (name, region, timezone) VALUES ($1, 'eu', 'UTC') ON CONFLICT DO NOTHING`, site)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO credentials (name, username) VALUES ('lab', 'admin') ON CONFLICT DO NOTHING`)
	require.NoError(t, err)
	for _, n := range names {
		id := uuid.New()
		_, err := e.pool.Exec(ctx, `INSERT INTO devices (id, name, kind, site, address, credential)
			VALUES ($1, $2, 'ftd', $3, '127.0.0.1', 'lab')`, id, n, site)
		require.NoError(t, err)
		e.devices[n] = id
	}
}

// siteSource selects all devices, or a site's.
type siteSource struct{ pool *pgxpool.Pool }

func (s siteSource) SelectDevices(ctx context.Context, sel runs.Selector) ([]runs.Device, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, site, kind FROM devices WHERE $1 = '' OR site = $1 ORDER BY name`, sel.Site)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (runs.Device, error) {
		var d runs.Device
		return d, r.Scan(&d.ID, &d.Name, &d.Site, &d.Kind)
	})
}

// outcome shorthands: "healthy", "eh" (eventhandler-disconnected, curable),
// "egress" (unhealthy, not curable), "timeout" (unreachable).
func outcome(s string) runs.Outcome {
	now := time.Now()
	o := runs.Outcome{StartedAt: now, FinishedAt: now}
	switch s {
	case "healthy":
		o.Health = runs.HealthHealthy
	case "eh":
		o.Health, o.Diagnoses, o.Recommended = runs.HealthUnhealthy, []string{"eventhandler-disconnected"}, "restart-connector"
	case "egress":
		o.Health, o.Diagnoses, o.Recommended = runs.HealthUnhealthy, []string{"egress-blocked"}, "fix-egress"
	case "timeout":
		o.Health, o.Diagnoses, o.Error = runs.HealthError, []string{"timeout"}, "no SSH banner"
	default:
		panic("unknown outcome " + s)
	}
	return o
}

// run starts a run of kind over sel and records the given outcomes (devices
// left out stay pending); it returns the run id.
func (e *env) run(t *testing.T, kind, schedule string, sel runs.Selector, results map[string]string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	r, err := e.runs.Start(ctx, runs.StartRequest{Kind: kind, RequestedBy: "test", Selector: sel, Schedule: schedule})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for name, o := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, e.recorder.Record(ctx, runs.Result{RunID: r.ID, DeviceID: e.devices[name], Attempts: 1,
				Outcome: outcome(o)}))
		}()
	}
	wg.Wait()
	// Runs are ordered by creation time; keep them apart.
	time.Sleep(5 * time.Millisecond)
	return r.ID
}
