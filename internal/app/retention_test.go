package app

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/runs"
)

// TestRetentionKeepsWhatReportsAndOpenRequestsNeed: fleetd's retention (the
// config's translation, with pkg/sweep's and pkg/remediate's building
// blocks) keeps an old sweep whose report is not sent yet and one whose
// remediation request is still pending, and deletes the old sweep whose
// request has finished. Each sweep has its own selector, and two newer
// sweeps of each make them prunable by age alone.
func TestRetentionKeepsWhatReportsAndOpenRequestsNeed(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	now := time.Now().UTC()
	old := now.Add(-200 * 24 * time.Hour)

	sweepRun := func(site string, finished time.Time) uuid.UUID {
		id := uuid.New()
		_, err := pool.Exec(ctx, `INSERT INTO runs (id, kind, status, requested_by, selector, total, done, created_at, finished_at)
			VALUES ($1, 'sweep', 'completed', 'schedule:s', jsonb_build_object('site', $2::text), 0, 0, $3, $3)`, id, site, finished)
		require.NoError(t, err)
		return id
	}
	request := func(state string) uuid.UUID {
		id := uuid.New()
		_, err := pool.Exec(ctx, `INSERT INTO remediation_requests (id, action, state, requested_by, schedule, batch_size,
			failure_threshold, params_hash, created_at, expires_at) VALUES ($1, 'restart-connector', $2, 'schedule:s', 'now', 1, 0, 'x', $3, $3)`,
			id, state, old)
		require.NoError(t, err)
		return id
	}
	report := func(run uuid.UUID, notified bool, requests ...uuid.UUID) {
		var at *time.Time
		if notified {
			at = &old
		}
		if requests == nil {
			requests = []uuid.UUID{}
		}
		_, err := pool.Exec(ctx, `INSERT INTO sweep_reports (run_id, diff, remediation_requests, notified_at) VALUES ($1, '{}', $2, $3)`,
			run, requests, at)
		require.NoError(t, err)
	}
	unsent, pending, finished := sweepRun("a", old), sweepRun("b", old), sweepRun("c", old)
	report(unsent, false)
	report(pending, true, request("succeeded"), request("pending"))
	report(finished, true, request("succeeded"))
	for _, site := range []string{"a", "b", "c"} {
		sweepRun(site, now.Add(-2*time.Hour))
		sweepRun(site, now.Add(-time.Hour))
	}

	st, err := runs.NewPruner(pool, RetentionConfig(config.Default()), zaptest.NewLogger(t)).Prune(ctx, now)
	require.NoError(t, err)
	require.Equal(t, 1, st.Runs)
	left := map[uuid.UUID]bool{}
	rows, err := pool.Query(ctx, `SELECT id FROM runs WHERE finished_at < $1`, now.Add(-24*time.Hour))
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		left[id] = true
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[uuid.UUID]bool{unsent: true, pending: true}, left)
	var reports int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM sweep_reports WHERE run_id = $1`, finished).Scan(&reports))
	require.Zero(t, reports, "the report goes with its run")
}
