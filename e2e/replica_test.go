package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

// TestReplicaTakesOverDeadReplica: two fleetd share a run; one is SIGKILLed
// and NOT restarted. The survivor notices the missing heartbeats and takes
// over the dead replica's devices within seconds — long before River's
// stuck-job rescue (set to 10 minutes here) would have.
func TestReplicaTakesOverDeadReplica(t *testing.T) {
	t.Parallel()
	const devices = 60
	f := startFleet(t, sim.FleetConfig{Count: devices, Sites: []string{"emea"}, TimeScale: 0.3})
	opts := serverOpts{MaxConcurrent: 3, RescueAfter: "10m", ReplicaDeadAfter: "3s"}
	a := newServer(t, opts)
	b := a.replica(opts)
	r := a.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)

	var run api.Run
	r = a.ctlJSON("ops-emea", &run, "diagnose", "--site", "emea", "--detach")
	require.Zero(t, r.code, r.stderr)

	db := connectDB(t, a.dbURL)
	// Kill b while it holds device jobs.
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE state = 'running' AND queue = 'diagnose' AND attempted_by[array_length(attempted_by, 1)] LIKE '%' || $1`,
			strings.ReplaceAll(b.url[len("http://"):], ":", "_")).Scan(&n))
		return n > 0
	}, time.Minute, 20*time.Millisecond, "replica b never took a device job")
	b.kill()
	killedAt := time.Now()

	// River's rescue would only act after 10 minutes: finishing within
	// waitDone's bound proves the heartbeat takeover did it.
	final := waitDone(t, a, run.ID, func(done int) bool { return done == devices }, 3*time.Minute)
	require.Equal(t, "completed", final.Status)
	took := time.Since(killedAt)

	var rows, done int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE state = 'done')
		FROM run_devices WHERE run_id = $1`, run.ID).Scan(&rows, &done))
	require.Equal(t, devices, rows)
	require.Equal(t, devices, done)
	t.Logf("replica b killed; a finished the run %.1fs later", took.Seconds())
}
