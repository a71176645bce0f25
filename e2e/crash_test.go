package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

// TestDiagnoseSurvivesKill is R1 at small scale: fleetd is SIGKILLed in the
// middle of a run; after a restart the run completes and every device has
// exactly one final result. (2,000 devices: crash_long_test.go.)
func TestDiagnoseSurvivesKill(t *testing.T) {
	t.Parallel()
	// Slow devices and few sessions at once, so the kill lands mid-run.
	killMidRun(t, 40, 4, 0.3)
}

// killMidRun diagnoses a fleet of n devices, SIGKILLs fleetd once a tenth
// of them are done, restarts it and checks the run's outcome.
func killMidRun(t *testing.T, devices, concurrency int, scale float64) {
	f := startFleet(t, sim.FleetConfig{Count: devices, Sites: []string{"emea"}, TimeScale: scale,
		Faults: "eventhandler-disconnected=20%"})
	s := newServer(t, serverOpts{MaxConcurrent: concurrency})
	r := s.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)

	var run api.Run
	r = s.ctlJSON("ops-emea", &run, "diagnose", "--site", "emea", "--detach")
	require.Zero(t, r.code, r.stderr)

	waitDone(t, s, run.ID, func(done int) bool { return done >= devices/10 }, time.Minute)
	s.kill()
	db := connectDB(t, s.dbURL)
	var doneAtKill int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT done FROM runs WHERE id = $1`, run.ID).Scan(&doneAtKill))
	require.Less(t, doneAtKill, devices, "the kill must land mid-run for this test to mean anything")

	s.start()
	// Jobs the dead process held are rescued after jobs.rescue_after.
	final := waitDone(t, s, run.ID, func(done int) bool { return done == devices }, 5*time.Minute)
	require.Equal(t, "completed", final.Status)
	require.Equal(t, devices, final.Summary.Done)
	require.Equal(t, devices, final.Summary.Healthy+final.Summary.Unhealthy+final.Summary.Error)

	var rows, doneRows, distinct int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE state = 'done'),
		count(DISTINCT device_id) FROM run_devices WHERE run_id = $1`, run.ID).Scan(&rows, &doneRows, &distinct))
	require.Equal(t, devices, rows)
	require.Equal(t, devices, doneRows)
	require.Equal(t, devices, distinct)
	t.Logf("killed with %d/%d devices done; after restart the run completed with one result per device", doneAtKill, devices)
}

func waitDone(t *testing.T, s *server, id uuid.UUID, cond func(done int) bool, timeout time.Duration) api.Run {
	t.Helper()
	var run api.Run
	deadline := time.Now().Add(timeout)
	for {
		s.ctlJSON("auditor", &run, "runs", "show", id.String())
		if cond(run.Summary.Done) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %d/%d done after %v", id, run.Summary.Done, run.Summary.Devices, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func connectDB(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}
