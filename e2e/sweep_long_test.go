//go:build long

package e2e

import (
	"context"
	"os/exec"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/sim"
)

// The reliability promises R1-R3 of docs/design.md for scheduled sweeps, at
// 2,000 simulated devices with several fleetd replicas on one database.
// They run one at a time (no t.Parallel): each loads the 2-core machine.

const longDevices = 2000

// startSweepCluster starts n replicas configured for a nightly sweep with
// webhooks, imports the fleet, makes the last night look missed and
// restarts the first replica so that the catch-up starts the sweep; it
// returns the replicas (the first is the catch-up's leader) and the run.
func startSweepCluster(t *testing.T, f *fleet, n, perReplica int, hook string) ([]*server, uuid.UUID, time.Time) {
	t.Helper()
	// The PostgreSQL server is shared (max_connections 100): a small pool
	// per replica. (Long tests are not parallel, so Setenv is theirs.)
	t.Setenv("FLEETD_DATABASE_MAX_CONNS", "8")
	opts := serverOpts{MaxConcurrent: perReplica, ExtraYAML: sweepYAML(hook+"/json", hook+"/slack")}
	first := newServer(t, opts)
	r := first.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)
	pretendMissedNights(t, first.dbURL)
	first.stop()
	servers := []*server{first}
	start := time.Now()
	first.start()
	for i := 1; i < n; i++ {
		servers = append(servers, first.replica(opts))
	}
	return servers, waitSweepRun(t, first.dbURL, time.Minute), start
}

// runTimes returns the run's created and finished times.
func runTimes(t *testing.T, dbURL string, id uuid.UUID) (time.Time, time.Time) {
	t.Helper()
	var created, finished time.Time
	require.NoError(t, connectDB(t, dbURL).QueryRow(context.Background(),
		`SELECT created_at, finished_at FROM runs WHERE id = $1`, id).Scan(&created, &finished))
	return created, finished
}

// TestR1SweepSurvivesAKilledReplica: three replicas share a 2,000-device
// sweep; the River leader is SIGKILLed mid-sweep and not restarted. The two
// others finish its devices (after River rescues its jobs) and every device
// has exactly one result; only the devices the dead replica was working on
// at the kill were connected to twice.
func TestR1SweepSurvivesAKilledReplica(t *testing.T) {
	const perReplica = 50
	f := startFleet(t, sim.FleetConfig{Count: longDevices, Sites: []string{"emea"}, TimeScale: 0.02,
		Faults: "eventhandler-disconnected=5%"})
	hook := newHookReceiver(t, 0)
	servers, runID, _ := startSweepCluster(t, f, 3, perReplica, hook.URL)
	a := servers[0]

	waitDone(t, a, runID, func(done int) bool { return done >= longDevices/4 }, 5*time.Minute)
	var victim *server
	lp := leaderPort(t, a.dbURL)
	for _, s := range servers {
		if s.port() == lp {
			victim = s
		}
	}
	require.NotNil(t, victim, "a leader is elected (leader port %q; replicas %s %s %s)", lp,
		servers[0].port(), servers[1].port(), servers[2].port())
	victim.kill()
	killedAt := time.Now()
	var doneAtKill int
	require.NoError(t, connectDB(t, a.dbURL).QueryRow(context.Background(), `SELECT done FROM runs WHERE id = $1`,
		runID).Scan(&doneAtKill))
	require.Less(t, doneAtKill, longDevices, "the kill must land mid-sweep")

	var survivor *server
	for _, s := range servers {
		if s != victim {
			survivor = s
			break
		}
	}
	waitDone(t, survivor, runID, func(done int) bool { return done == longDevices }, 10*time.Minute)
	finishedAfterKill := time.Since(killedAt)
	exactlyOnce(t, a.dbURL, runID, longDevices)
	require.Len(t, workedBy(t, a.dbURL, runID), 3)

	twice := 0
	for _, d := range f.Devices() {
		c := d.Counters()
		require.GreaterOrEqual(t, c.Logins, int64(1), d.Name())
		if c.Logins > 1 {
			twice++
		}
	}
	require.LessOrEqual(t, twice, perReplica, "only the dead replica's in-flight devices are checked again")

	// The report is sent once although its leader died.
	require.Eventually(t, func() bool {
		b, _ := hook.delivered()
		return len(sweepEvents(t, b)) == 1
	}, time.Minute, 200*time.Millisecond)
	created, finished := runTimes(t, a.dbURL, runID)
	t.Logf("R1: %d devices, 3 replicas x %d, leader killed at %d done; completed %v after the kill, sweep %v in all; %d devices connected twice",
		longDevices, perReplica, doneAtKill, finishedAfterKill.Round(time.Second), finished.Sub(created).Round(time.Second), twice)
}

// TestR2SweepSurvivesPostgresRestart restarts the PostgreSQL server in the
// middle of a 2,000-device sweep over two replicas.
//
// CAREFUL: this restarts the machine's shared PostgreSQL cluster
// (pg_ctlcluster --skip-systemctl-redirect 15 main restart); tests of other
// packages running at the same time lose their connections. That is why it
// is behind the long tag and runs alone in `make test-long`.
func TestR2SweepSurvivesPostgresRestart(t *testing.T) {
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		t.Fatalf("R2 needs pg_ctlcluster (the PostgreSQL server of this machine): %v", err)
	}
	f := startFleet(t, sim.FleetConfig{Count: longDevices, Sites: []string{"emea"}, TimeScale: 0.02,
		Faults: "eventhandler-disconnected=5%"})
	hook := newHookReceiver(t, 0)
	servers, runID, _ := startSweepCluster(t, f, 2, 50, hook.URL)
	a := servers[0]

	waitDone(t, a, runID, func(done int) bool { return done >= longDevices/4 }, 5*time.Minute)
	var doneAtRestart int
	require.NoError(t, connectDB(t, a.dbURL).QueryRow(context.Background(), `SELECT done FROM runs WHERE id = $1`,
		runID).Scan(&doneAtRestart))
	require.Less(t, doneAtRestart, longDevices, "the restart must land mid-sweep")
	restartStart := time.Now()
	out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart").CombinedOutput()
	require.NoError(t, err, string(out))
	restartTook := time.Since(restartStart)

	for _, s := range servers {
		select {
		case <-s.exited:
			t.Fatalf("fleetd %s exited when PostgreSQL restarted: %v\n%s", s.url, s.waitErr, tail(s.logs.String(), 4000))
		default:
		}
	}
	final := waitDone(t, a, runID, func(done int) bool { return done == longDevices }, 10*time.Minute)
	require.Equal(t, "completed", final.Status)
	exactlyOnce(t, a.dbURL, runID, longDevices)
	for _, s := range servers {
		select {
		case <-s.exited:
			t.Fatalf("fleetd %s exited after the PostgreSQL restart: %v", s.url, s.waitErr)
		default:
		}
		r := s.ctl("auditor", "runs", "list")
		require.NotEqual(t, 1, r.code, "replica %s answers after the restart: %s", s.url, r.stderr)
	}
	require.Eventually(t, func() bool {
		b, _ := hook.delivered()
		return len(sweepEvents(t, b)) == 1
	}, time.Minute, 200*time.Millisecond)
	created, finished := runTimes(t, a.dbURL, runID)
	require.True(t, finished.After(restartStart.Add(restartTook)), "the sweep finished after PostgreSQL was back")
	t.Logf("R2: %d devices over 2 replicas; PostgreSQL restarted at %d done (took %v); sweep completed in %v, one result per device, one report",
		longDevices, doneAtRestart, restartTook.Round(100*time.Millisecond), finished.Sub(created).Round(time.Second))
}

// TestR3HangingAndDroppingDevicesDoNotDelayTheRest: 5% of devices accept TCP
// and never speak SSH, 5% drop mid-session. The sweep ends within its bound
// (the last ordinary device's finish plus what a bad device may cost:
// jobs.max_attempts × runner.session_timeout and the retry delays); bad
// devices end as error; ordinary devices are neither failed nor slowed.
func TestR3HangingAndDroppingDevicesDoNotDelayTheRest(t *testing.T) {
	f := startFleet(t, sim.FleetConfig{Count: longDevices, Sites: []string{"emea"}, TimeScale: 0.02,
		Faults: "hang=5%,drop=5%"})
	bad := map[string]sim.Fault{}
	for _, n := range faulty(f, sim.FaultHang) {
		bad[n] = sim.FaultHang
	}
	for _, n := range faulty(f, sim.FaultDrop) {
		bad[n] = sim.FaultDrop
	}
	require.InDelta(t, longDevices/10, len(bad), longDevices/50)
	hook := newHookReceiver(t, 0)
	servers, runID, _ := startSweepCluster(t, f, 2, 100, hook.URL)
	a := servers[0]
	waitDone(t, a, runID, func(done int) bool { return done == longDevices }, 10*time.Minute)
	exactlyOnce(t, a.dbURL, runID, longDevices)

	ordSession, ordFinish, badFinish := sweepTimes(t, a.dbURL, runID, bad, func(name string, fault sim.Fault, diags []string) {
		if fault == sim.FaultHang {
			require.Equal(t, []string{"timeout"}, diags, name)
		}
	})
	created, finished := runTimes(t, a.dbURL, runID)
	total := finished.Sub(created)
	// Configured bound (harness: session_timeout 10s, max_attempts 2,
	// retry_delay 200ms): a bad device costs at most 2 × 10s + the delays.
	const badCost = 2*10*time.Second + 2*200*time.Millisecond
	lastOrdinary := time.Duration(pct(ordFinish, 100) * float64(time.Second))
	require.LessOrEqual(t, total, lastOrdinary+badCost+5*time.Second, "the sweep ends within its bound")
	// Ordinary devices are not held up: their own sessions stay short (under
	// the 2s connect timeout a hanging device costs).
	require.Less(t, pct(ordSession, 95), 2.0, "ordinary sessions p95")
	t.Logf("R3: %d devices (%d hang/drop) over 2 replicas x 100: sweep %v; ordinary devices: session p50 %.2fs p95 %.2fs, all done by %.1fs; bad devices done by %.1fs",
		longDevices, len(bad), total.Round(100*time.Millisecond), pct(ordSession, 50), pct(ordSession, 95),
		pct(ordFinish, 100), pct(badFinish, 100))
}

// sweepTimes checks a finished sweep's devices: each bad one (by fault) is
// an error, further checked by checkBad; every other one is healthy. It
// returns the ordinary devices' session times and finish offsets (seconds
// since the run was created) and the bad devices' finish offsets.
func sweepTimes(t *testing.T, dbURL string, runID uuid.UUID, bad map[string]sim.Fault,
	checkBad func(name string, fault sim.Fault, diags []string)) (ordSession, ordFinish, badFinish []float64) {
	t.Helper()
	rows, err := connectDB(t, dbURL).Query(context.Background(), `SELECT rd.device, rd.health, rd.diagnoses,
			extract(epoch FROM rd.finished_at - rd.started_at), extract(epoch FROM rd.finished_at - r.created_at)
		FROM run_devices rd JOIN runs r ON r.id = rd.run_id WHERE rd.run_id = $1`, runID)
	require.NoError(t, err)
	for rows.Next() {
		var name, health string
		var diags []string
		var session, finish float64
		require.NoError(t, rows.Scan(&name, &health, &diags, &session, &finish))
		if fault, isBad := bad[name]; isBad {
			require.Equal(t, "error", health, "%s (%s): %v", name, fault, diags)
			checkBad(name, fault, diags)
			badFinish = append(badFinish, finish)
			continue
		}
		require.Equal(t, "healthy", health, "%s is not faulty: %v", name, diags)
		ordSession = append(ordSession, session)
		ordFinish = append(ordFinish, finish)
	}
	require.NoError(t, rows.Err())
	return ordSession, ordFinish, badFinish
}

// pct returns the p-th percentile (0-100) of xs.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// TestR7HostileDevicesAtScale replays issue 10 §3 at 2,000 devices: 10% of
// the fleet is hostile (never confirms the session channel, the pty-req or
// the shell; floods output; never prints a prompt). Each hostile device ends
// as error/timeout, costs at most its attempts × session_timeout, never has
// two connections open at once (sampled throughout the sweep), and the
// ordinary devices are neither failed nor slowed.
func TestR7HostileDevicesAtScale(t *testing.T) {
	hostile := []sim.Fault{sim.FaultStallChannel, sim.FaultStallPTY, sim.FaultStallShell, sim.FaultFlood, sim.FaultNoPrompt}
	f := startFleet(t, sim.FleetConfig{Count: longDevices, Sites: []string{"emea"}, TimeScale: 0.02,
		Faults: "stall-channel=2%,stall-pty=2%,stall-shell=2%,flood=2%,no-prompt=2%"})
	bad := map[string]sim.Fault{}
	for _, fault := range hostile {
		for _, n := range faulty(f, fault) {
			bad[n] = fault
		}
	}
	require.InDelta(t, longDevices/10, len(bad), longDevices/50)

	// Sample every hostile device's open connections while the sweep runs.
	peak := map[string]int{}
	var peakMu sync.Mutex
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			peakMu.Lock()
			for n := range bad {
				peak[n] = max(peak[n], int(f.Device(n).State().ActiveConnections))
			}
			peakMu.Unlock()
		}
	}()

	hook := newHookReceiver(t, 0)
	servers, runID, _ := startSweepCluster(t, f, 2, 100, hook.URL)
	a := servers[0]
	waitDone(t, a, runID, func(done int) bool { return done == longDevices }, 10*time.Minute)
	close(stopSampling)
	<-sampled
	exactlyOnce(t, a.dbURL, runID, longDevices)

	ordSession, ordFinish, badFinish := sweepTimes(t, a.dbURL, runID, bad, func(name string, fault sim.Fault, diags []string) {
		require.Equal(t, []string{"timeout"}, diags, "%s (%s)", name, fault)
	})

	// Harness: session_timeout 10s, max_attempts 2, retry_delay 200ms.
	const attempts = 2
	for n, fault := range bad {
		require.LessOrEqual(t, peak[n], 1, "%s (%s) had two sessions open at once", n, fault)
		require.LessOrEqual(t, f.Device(n).Counters().Connections, int64(attempts),
			"%s (%s): one connection per job attempt at most", n, fault)
	}
	created, finished := runTimes(t, a.dbURL, runID)
	total := finished.Sub(created)
	const badCost = attempts*10*time.Second + attempts*200*time.Millisecond
	lastOrdinary := time.Duration(pct(ordFinish, 100) * float64(time.Second))
	require.LessOrEqual(t, total, lastOrdinary+badCost+5*time.Second, "the sweep ends within its bound")
	require.Less(t, pct(ordSession, 95), 2.0, "ordinary sessions p95")
	t.Logf("R7: %d devices (%d hostile) over 2 replicas x 100: sweep %v; ordinary sessions p50 %.2fs p95 %.2fs, all done by %.1fs; hostile devices done by %.1fs",
		longDevices, len(bad), total.Round(100*time.Millisecond), pct(ordSession, 50), pct(ordSession, 95),
		pct(ordFinish, 100), pct(badFinish, 100))
}
