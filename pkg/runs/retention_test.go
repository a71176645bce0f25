package runs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/runs"
)

// historyRun inserts a run of two devices (results and transcripts) that
// finished at finished (created an hour before).
func historyRun(t *testing.T, pool *pgxpool.Pool, selector, status string, finished time.Time) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	var fin *time.Time
	if status == "completed" || status == "cancelled" {
		fin = &finished
	}
	_, err := pool.Exec(ctx, `INSERT INTO runs (id, kind, status, requested_by, selector, total, done, created_at, finished_at)
		VALUES ($1, 'sweep', $2, 'schedule:nightly', $3, 2, 2, $4, $5)`, id, status, selector, finished.Add(-time.Hour), fin)
	require.NoError(t, err)
	for _, dev := range []string{"ftd-1", "ftd-2"} {
		devID := uuid.NewSHA1(uuid.NameSpaceOID, []byte(dev))
		_, err := pool.Exec(ctx, `INSERT INTO run_devices (run_id, device_id, device, site, kind, state, health)
			VALUES ($1, $2, $3, 'emea', 'ftd', 'done', 'healthy')`, id, devID, dev)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO run_transcripts (run_id, device_id, transcript) VALUES ($1, $2, 'root# ')`, id, devID)
		require.NoError(t, err)
	}
	return id
}

// history returns, per run id left, how many results and transcripts it has.
func history(t *testing.T, pool *pgxpool.Pool) map[uuid.UUID][2]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT r.id,
		(SELECT count(*) FROM run_devices d WHERE d.run_id = r.id), (SELECT count(*) FROM run_transcripts x WHERE x.run_id = r.id)
		FROM runs r`)
	require.NoError(t, err)
	out := map[uuid.UUID][2]int{}
	for rows.Next() {
		var id uuid.UUID
		var n [2]int
		require.NoError(t, rows.Scan(&id, &n[0], &n[1]))
		out[id] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// TestRetentionDeletesExactlyWhatItShould: with runs kept 90 days and
// transcripts 14, the old finished runs go whole, a recent one loses only its
// transcripts, and every protected run stays whole: in progress, the two
// latest of its selection, the one a device's status points at, one a Keep
// query names. A second prune finds nothing; a prune while another process
// holds the lock deletes nothing.
func TestRetentionDeletesExactlyWhatItShould(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	all, site := `{"all": true}`, `{"site": "emea"}`

	oldCompleted := historyRun(t, pool, all, "completed", now.Add(-100*day))
	oldCancelled := historyRun(t, pool, all, "cancelled", now.Add(-95*day))
	oldRunning := historyRun(t, pool, all, "running", now.Add(-100*day))
	oldQueued := historyRun(t, pool, all, "queued", now.Add(-120*day))
	oldKept := historyRun(t, pool, all, "completed", now.Add(-99*day))
	oldStatus := historyRun(t, pool, all, "completed", now.Add(-98*day))
	recent := historyRun(t, pool, all, "completed", now.Add(-20*day))
	latest2 := historyRun(t, pool, all, "completed", now.Add(-3*day))
	latest1 := historyRun(t, pool, all, "completed", now.Add(-1*day))
	// Another selection that was last swept long ago: its two runs are the
	// baseline of its next sweep.
	siteOlder := historyRun(t, pool, site, "completed", now.Add(-200*day))
	siteOld := historyRun(t, pool, site, "completed", now.Add(-150*day))
	siteOldest := historyRun(t, pool, site, "completed", now.Add(-300*day))

	insertDevices(t, pool, "emea", "ftd-status")
	_, err := pool.Exec(ctx, `INSERT INTO device_status (device_id, run_id, health, checked_at)
		SELECT id, $1, 'healthy', $2 FROM devices WHERE name = 'ftd-status'`, oldStatus, now.Add(-98*day))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE TABLE test_keep (run_id uuid); INSERT INTO test_keep VALUES (NULL)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO test_keep VALUES ($1)`, oldKept)
	require.NoError(t, err)

	p := runs.NewPruner(pool, runs.RetentionConfig{Runs: 90 * day, Transcripts: 14 * day,
		Keep: []string{`SELECT run_id FROM test_keep`}}, zaptest.NewLogger(t))

	// Another process pruning: nothing happens here.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(0x72756e732d707275))
	require.NoError(t, err)
	st, err := p.Prune(ctx, now)
	require.NoError(t, err)
	require.Equal(t, runs.PruneStats{Busy: true}, st)
	require.NoError(t, tx.Rollback(ctx))
	require.Len(t, history(t, pool), 12)

	st, err = p.Prune(ctx, now)
	require.NoError(t, err)
	require.Equal(t, runs.PruneStats{Runs: 3, Transcripts: 1}, st)
	whole, resultsOnly := [2]int{2, 2}, [2]int{2, 0}
	require.Equal(t, map[uuid.UUID][2]int{
		oldRunning: whole, oldQueued: whole, oldKept: whole, oldStatus: whole,
		recent: resultsOnly, latest2: whole, latest1: whole,
		siteOlder: whole, siteOld: whole,
	}, history(t, pool))
	for _, gone := range []uuid.UUID{oldCompleted, oldCancelled, siteOldest} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM run_devices WHERE run_id = $1`, gone).Scan(&n))
		require.Zero(t, n)
	}

	st, err = p.Prune(ctx, now)
	require.NoError(t, err)
	require.Equal(t, runs.PruneStats{}, st)

	// Negative keeps forever: a month later nothing more goes.
	never := runs.NewPruner(pool, runs.RetentionConfig{Runs: -1, Transcripts: -1}, zaptest.NewLogger(t))
	st, err = never.Prune(ctx, now.Add(30*day))
	require.NoError(t, err)
	require.Equal(t, runs.PruneStats{}, st)
	require.Len(t, history(t, pool), 9)
}
