package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/sim"
)

// The floor of P1 (issue 15): --mode diagnose visits every device once and
// types exactly the diagnose's commands. Counting them on the simulator makes
// the test fail if the loop stops typing what pkg/diagnose lists: all of
// them on a healthy device; on an egress-blocked one the curls after the
// first timeout are not sent, on a stopped connector the three checks that
// require the process are skipped, as in fleetd's diagnose.
func TestBenchDiagnoseTypesTheDiagnoseCommands(t *testing.T) {
	t.Parallel()
	fleet, err := sim.NewFleet(sim.FleetConfig{Count: 9, Listen: "127.78.1.1", Sites: []string{"emea", "amer", "apjc"},
		Faults: "egress-blocked=22%,connector-stopped=22%", TimeScale: 0.001, Seed: 1}, zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, fleet.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, fleet.Close()) })
	inv := filepath.Join(t.TempDir(), "fleet.csv")
	var csv bytes.Buffer
	require.NoError(t, fleet.WriteInventoryCSV(&csv, "lab"))
	require.NoError(t, os.WriteFile(inv, csv.Bytes(), 0o600))

	var out, errOut bytes.Buffer
	code := runBench([]string{"--inventory", inv, "--mode", "diagnose", "--concurrency", "3"}, &out, &errOut)
	require.Equal(t, 0, code, "stdout %s\nstderr %s", out.String(), errOut.String())
	require.Contains(t, out.String(), "mode=diagnose n=9 concurrency=3 devices=9 ")
	require.Contains(t, out.String(), "failures=0")
	require.Regexp(t, `cpu_s=\d+\.\d+ cpu_per_device_ms=\d+\.\d+ failures=0\n`, out.String())

	regions := map[string]string{"emea": "eu", "amer": "us", "apjc": "apj"}
	seen := map[sim.Fault]int{}
	for _, d := range fleet.Devices() {
		env, err := diagnose.NewEnv(d.Name(), d.Site(), regions[d.Site()], diagnose.DefaultRegions())
		require.NoError(t, err)
		cmds, err := diagnoseCommandsFor(env)
		require.NoError(t, err)
		require.Greater(t, len(cmds), 5)
		want := len(cmds)
		var fault sim.Fault
		if fs := d.Faults(); len(fs) > 0 {
			fault = fs[0]
			want -= 3 // three curls not attempted, or three checks skipped
		}
		seen[fault]++
		// expert, sudo su - (the password is counted apart), the diagnose's
		// commands, then exit ×3 as the runner leaves a device.
		require.Equal(t, int64(2+want+3), d.Counters().Commands, "%s %v", d.Name(), d.Faults())
		require.Equal(t, int64(1), d.Counters().Logins, d.Name())
	}
	require.Equal(t, map[sim.Fault]int{"": 5, sim.FaultEgressBlocked: 2, sim.FaultConnectorStopped: 2}, seen)
}
