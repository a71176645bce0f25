package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/metrics"
	"github.com/fleetd/fleetd/pkg/runs"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code)
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}

func TestResultsAndRuns(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	before := scrape(t, m)
	require.Contains(t, before, `fleetd_device_results_total{diagnosis="none",health="healthy"} 0`)
	require.Contains(t, before, `fleetd_ssh_errors_total{class="timeout"} 0`)

	res := func(health string, diags ...string) runs.Result {
		return runs.Result{Outcome: runs.Outcome{Health: health, Diagnoses: diags}}
	}
	m.ObserveResults([]runs.Result{
		res("healthy"), res("healthy"),
		res("unhealthy", "eventhandler-disconnected"),
		res("unhealthy", "egress-blocked", "not-enrolled"),
		res("error", "timeout"), res("error", "unreachable"), res("error", "something-new"),
	})
	m.ObserveRun("sweep", 90*time.Second)
	m.SweepStarted("nightly")
	m.WebhookDelivery("noc", "retry")

	out := scrape(t, m)
	for _, want := range []string{
		`fleetd_devices_checked_total 7`,
		`fleetd_device_results_total{diagnosis="none",health="healthy"} 2`,
		`fleetd_device_results_total{diagnosis="eventhandler-disconnected",health="unhealthy"} 1`,
		`fleetd_device_results_total{diagnosis="not-enrolled",health="unhealthy"} 1`,
		`fleetd_ssh_errors_total{class="timeout"} 1`,
		`fleetd_ssh_errors_total{class="unreachable"} 1`,
		`fleetd_ssh_errors_total{class="other"} 1`,
		`fleetd_run_duration_seconds_bucket{kind="sweep",le="60"} 0`,
		`fleetd_run_duration_seconds_bucket{kind="sweep",le="120"} 1`,
		`fleetd_run_duration_seconds_count{kind="sweep"} 1`,
		`fleetd_sweeps_started_total{schedule="nightly"} 1`,
		`fleetd_webhook_deliveries_total{outcome="retry",webhook="noc"} 1`,
		`go_goroutines`,
	} {
		require.Contains(t, out, want)
	}
}

type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "noop" }

func TestRefreshFromDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	m := metrics.New()
	r := metrics.NewRefresher(pool, m, metrics.RefresherConfig{Queues: []string{"diagnose", "default"}}, zaptest.NewLogger(t))

	snap, err := r.RefreshOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, snap.Jobs["diagnose"]["available"])
	require.Contains(t, scrape(t, m), `fleetd_jobs{queue="diagnose",state="available"} 0`)

	// Queue jobs (an insert-only client works nothing) and requests.
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	var params []river.InsertManyParams
	for i := range 3 {
		params = append(params, river.InsertManyParams{Args: noopArgs{N: i}, InsertOpts: &river.InsertOpts{Queue: "diagnose"}})
	}
	params = append(params, river.InsertManyParams{Args: noopArgs{N: 9},
		InsertOpts: &river.InsertOpts{Queue: "default", ScheduledAt: time.Now().Add(time.Hour)}})
	_, err = client.InsertMany(ctx, params)
	require.NoError(t, err)
	insertRequest := func(state string, expires time.Time) {
		_, err := pool.Exec(ctx, `INSERT INTO remediation_requests (id, action, state, requested_by, schedule,
				batch_size, failure_threshold, params_hash, created_at, expires_at)
			VALUES ($1, 'restart-connector', $2, 'ops', 'now', 10, 3, 'h', now(), $3)`, uuid.New(), state, expires)
		require.NoError(t, err)
	}
	insertRequest("pending", time.Now().Add(time.Hour))
	insertRequest("pending", time.Now().Add(time.Hour))
	insertRequest("pending", time.Now().Add(-time.Minute)) // expired, not yet swept
	insertRequest("approved", time.Now().Add(time.Hour))

	snap, err = r.RefreshOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, snap.Jobs["diagnose"]["available"])
	require.Equal(t, 1, snap.Jobs["default"]["scheduled"])
	require.Equal(t, 2, snap.ApprovalsPending)
	out := scrape(t, m)
	require.Contains(t, out, `fleetd_jobs{queue="diagnose",state="available"} 3`)
	require.Contains(t, out, `fleetd_jobs{queue="default",state="scheduled"} 1`)
	require.Contains(t, out, `fleetd_approvals_pending 2`)

	// Run refreshes in the background until cancelled.
	_, err = pool.Exec(ctx, `DELETE FROM river_job WHERE queue = 'diagnose'`)
	require.NoError(t, err)
	r2 := metrics.NewRefresher(pool, m, metrics.RefresherConfig{Interval: 20 * time.Millisecond}, zaptest.NewLogger(t))
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r2.Run(rctx) }()
	require.Eventually(t, func() bool {
		return !strings.Contains(scrape(t, m), `fleetd_jobs{queue="diagnose"`)
	}, 5*time.Second, 20*time.Millisecond)
	cancel()
	<-done
}
