package remediate_test

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/sim"
)

// diagnoseJSON runs `fleetctl diagnose ARGS -o json` and returns the run and the exit code.
func (w *world) diagnoseJSON(args ...string) (api.Run, int) {
	w.t.Helper()
	code, out, errOut := w.ctl(requester, append(append([]string{"diagnose"}, args...), "-o", "json")...)
	var run api.Run
	require.NoError(w.t, json.Unmarshal([]byte(out), &run), "stdout %q stderr %q", out, errOut)
	return run, code
}

func runDevices(run api.Run) []string {
	var out []string
	for _, d := range run.Devices {
		out = append(out, d.Device)
	}
	sort.Strings(out)
	return out
}

// TestE2ERerunAndRemediateFromRun: diagnose --rerun checks again exactly
// the devices of a run that were not healthy (by --only), and remediate
// --from-run requests a connector restart for exactly the devices of that
// run a restart cures, which a second person approves.
func TestE2ERerunAndRemediateFromRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{
		ftd("ftd-eh-1", "emea", sim.FaultEventHandlerDisconnected),
		ftd("ftd-eh-2", "amer", sim.FaultEventHandlerDisconnected),
		ftd("ftd-stopped", "emea", sim.FaultConnectorStopped), // also restart-connector: pmtool enable
		ftd("ftd-egress", "emea", sim.FaultEgressBlocked),     // fix-egress: no restart cures it
		ftd("ftd-enrol", "emea", sim.FaultNotEnrolled),        // fmc-cloud-settings
		ftd("ftd-ok", "emea"),
		ftd("ftd-dead", "emea"),
	}, deadAddr: []string{"ftd-dead"}})
	w.startWorkers(remediate.Hooks{})

	first, code := w.diagnoseJSON("--all")
	require.Equal(t, 3, code)
	require.Equal(t, api.RunSummary{Devices: 7, Done: 7, Healthy: 1, Unhealthy: 5, Error: 1}, first.Summary)
	id := first.ID.String()

	// The egress block is lifted: a rerun of the unhealthy ones sees it.
	w.dev("ftd-egress").SetFault(sim.FaultHealthy)
	again, code := w.diagnoseJSON("--rerun", id, "--only", "unhealthy")
	require.Equal(t, 3, code)
	require.Equal(t, []string{"ftd-egress", "ftd-eh-1", "ftd-eh-2", "ftd-enrol", "ftd-stopped"}, runDevices(again))
	require.Equal(t, []string{"ftd-egress", "ftd-eh-1", "ftd-eh-2", "ftd-enrol", "ftd-stopped"}, again.Selector.Devices)
	for _, d := range again.Devices {
		if d.Device == "ftd-egress" {
			require.Equal(t, "healthy", d.Health)
		}
	}
	errs, code := w.diagnoseJSON("--rerun", id, "--only", "error")
	require.Equal(t, 3, code)
	require.Equal(t, []string{"ftd-dead"}, runDevices(errs))
	all, _ := w.diagnoseJSON("--rerun", id)
	require.Equal(t, []string{"ftd-dead", "ftd-egress", "ftd-eh-1", "ftd-eh-2", "ftd-enrol", "ftd-stopped"}, runDevices(all))

	// Nothing to do is not an error; bad usage is.
	code, out, errOut := w.ctl(requester, "diagnose", "--rerun", again.ID.String(), "--only", "error")
	require.Equal(t, 0, code, out)
	require.Contains(t, errOut, "nothing to check again")
	code, _, errOut = w.ctl(requester, "diagnose", "--rerun", id, "--only", "sick")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `--only "sick"`)
	code, _, errOut = w.ctl(requester, "diagnose", "--rerun", id, "--site", "emea")
	require.Equal(t, 2, code, errOut)

	// Exactly the devices of the first run that a restart cures.
	r := w.request(requester, "--restart-connector", "--from-run", id, "--reason", "INC-9")
	require.Equal(t, api.RequestPending, r.State)
	require.Equal(t, []string{"ftd-eh-1", "ftd-eh-2", "ftd-stopped"}, r.Devices)
	require.Equal(t, id, r.Selector.FromRun)
	for _, name := range r.Devices {
		require.Zero(t, w.dev(name).Counters().ConnectorRestarts, "nothing runs before approval")
	}
	code, _, errOut = w.ctl(requester, "approve", r.ID.String())
	require.Equal(t, 1, code, "the requester cannot approve: %s", errOut)
	w.ctlOK(approver, "approve", r.ID.String())
	done := w.waitFinal(r.ID)
	require.Equal(t, api.RequestSucceeded, done.State, done.Result)
	for _, name := range []string{"ftd-eh-1", "ftd-eh-2"} {
		require.Equal(t, int64(1), w.dev(name).Counters().ConnectorRestarts, name)
	}
	for _, name := range []string{"ftd-egress", "ftd-enrol", "ftd-ok", "ftd-dead"} {
		require.Zero(t, w.dev(name).Counters().ConnectorRestarts, name)
	}

	// Bad usage and runs with nothing to cure.
	code, _, errOut = w.ctl(requester, "remediate", "--reboot", "--from-run", id, "--in-window")
	require.Equal(t, 2, code, errOut)
	code, _, errOut = w.ctl(requester, "remediate", "--restart-connector", "--from-run", id, "ftd-ok")
	require.Equal(t, 2, code, errOut)
	code, _, errOut = w.ctl(requester, "remediate", "--restart-connector", "--from-run", errs.ID.String())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no device of run "+errs.ID.String()+" is cured by a connector restart")
	code, _, errOut = w.ctl(requester, "remediate", "--restart-connector", "--from-run", "00000000-0000-4000-8000-00000000abcd")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no run 00000000-0000-4000-8000-00000000abcd")
}
