package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/queues"
)

type noopArgs struct{ N int }

func (noopArgs) Kind() string { return "noop" }

// TestLivenessReleasesOnlyDeadReplicasJobs: the running diagnose jobs of a
// replica that stopped beating go back to available; a live replica's jobs,
// and jobs of queues not listed, stay where they are; and nothing is
// released until this process has itself been healthy for DeadAfter.
func TestLivenessReleasesOnlyDeadReplicasJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	client, err := jobs.NewClient(pool, nil, jobs.Config{}, zaptest.NewLogger(t))
	require.NoError(t, err)

	insert := func(queue, attemptedBy string) int64 {
		res, err := client.Insert(ctx, noopArgs{}, &river.InsertOpts{Queue: queue})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
			attempted_by = ARRAY[$2] WHERE id = $1`, res.Job.ID, attemptedBy)
		require.NoError(t, err)
		return res.Job.ID
	}
	deadDiag := insert(queues.Diagnose, "dead")
	liveDiag := insert(queues.Diagnose, "alive")
	deadRemediate := insert(queues.Remediate, "dead")
	_, err = pool.Exec(ctx, `INSERT INTO fleetd_replicas (client_id, last_seen) VALUES
		('dead', now() - interval '1 minute'), ('alive', now())`)
	require.NoError(t, err)

	l := jobs.NewLiveness(pool, jobs.LivenessConfig{ClientID: "me", Interval: time.Second, DeadAfter: 3 * time.Second,
		Queues: []string{queues.Diagnose}}, zaptest.NewLogger(t))
	start := time.Now()
	for i := 0; i < 3; i++ {
		n, err := l.RunOnce(ctx, start.Add(time.Duration(i)*time.Second))
		require.NoError(t, err)
		require.Zero(t, n, "not healthy for DeadAfter yet (e.g. right after a database outage)")
	}
	n, err := l.RunOnce(ctx, start.Add(3*time.Second))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	state := func(id int64) string {
		var s string
		require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&s))
		return s
	}
	require.Equal(t, "available", state(deadDiag))
	require.Equal(t, "running", state(liveDiag))
	require.Equal(t, "running", state(deadRemediate), "remediation is left to River's rescue")

	var seen time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT last_seen FROM fleetd_replicas WHERE client_id = 'me'`).Scan(&seen))
	require.WithinDuration(t, time.Now(), seen, 10*time.Second)

	// A gap in our own heartbeats (an outage) starts the healthy period again.
	insert(queues.Diagnose, "dead")
	n, err = l.RunOnce(ctx, start.Add(20*time.Second))
	require.NoError(t, err)
	require.Zero(t, n)
}
