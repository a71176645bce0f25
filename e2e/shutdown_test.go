package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/sim"
)

// TestShutdownWithHungDevices replays issue 10 §3's shutdown: three devices
// that accept the session channel and the pty but never answer the shell
// request are in a diagnose run whose session_timeout is far away. SIGTERM
// must end fleetd within its grace period plus a few seconds (it used to
// log "jobs still running at shutdown were cancelled" and never exit, the
// three connections still open).
func TestShutdownWithHungDevices(t *testing.T) {
	t.Parallel()
	const grace = 3 * time.Second
	var specs []sim.DeviceSpec
	for _, n := range []string{"ftd-stall-1", "ftd-stall-2", "ftd-stall-3"} {
		specs = append(specs, sim.DeviceSpec{Name: n, Kind: sim.KindFTD, Site: "emea", Faults: []sim.Fault{sim.FaultStallShell}})
	}
	f := startFleet(t, sim.FleetConfig{Devices: specs})
	s := newServer(t, serverOpts{RescueAfter: "20m", Env: []string{
		"FLEETD_API_SHUTDOWN_GRACE=" + grace.String(),
		"FLEETD_RUNNER_SESSION_TIMEOUT=10m", // no session deadline to save the day
	}})
	r := s.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)
	r = s.ctl("ops-emea", "diagnose", "--site", "emea", "--detach")
	require.Zero(t, r.code, r.stderr)

	// Every device has its session open and stuck in the shell request.
	require.Eventually(t, func() bool {
		for _, d := range f.Devices() {
			if d.State().ActiveConnections == 0 || d.Counters().Logins == 0 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "three hung sessions")

	start := time.Now()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.exited:
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("fleetd still running %s after SIGTERM (grace %s)", time.Since(start).Round(time.Millisecond), grace)
	}
	took := time.Since(start)
	require.Less(t, took, grace+5*time.Second)
	require.GreaterOrEqual(t, took, grace-500*time.Millisecond, "the jobs were given their grace period")
	require.NoError(t, s.waitErr, "a clean exit, not a crash")
	logs := s.logs.String()
	require.Contains(t, logs, "jobs still running at shutdown were cancelled")
	require.Contains(t, logs, `"stopped"`)
	// Cancelling the jobs ended them: the runner closed the stuck sessions,
	// nothing had to be abandoned at the hard deadline.
	require.NotContains(t, logs, "were abandoned")
	require.NotContains(t, logs, "did not stop in time")

	// fleetd closed the sessions itself (the devices see no connection left).
	for _, d := range f.Devices() {
		require.Eventually(t, func() bool { return d.State().ActiveConnections == 0 }, 5*time.Second, 20*time.Millisecond, d.Name())
	}
	require.False(t, strings.Contains(logs, "panic"), "no panic at shutdown")
}
