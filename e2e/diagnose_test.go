package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

// TestDiagnoseEveryFault is the table test of issue 5: every diagnosis code
// comes out of a simulated device carrying that fault, through the real
// runner, River and PostgreSQL, and fleetctl's JSON, exit code and status
// agree.
func TestDiagnoseEveryFault(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		fault     sim.Fault
		health    string
		diagnosis string
		recommend string
	}{
		"ftd-healthy":  {sim.FaultHealthy, "healthy", "", ""},
		"ftd-egress":   {sim.FaultEgressBlocked, "unhealthy", "egress-blocked", "fix-egress"},
		"ftd-eh":       {sim.FaultEventHandlerDisconnected, "unhealthy", "eventhandler-disconnected", "restart-connector"},
		"ftd-stopped":  {sim.FaultConnectorStopped, "unhealthy", "connector-stopped", "restart-connector"},
		"ftd-enrol":    {sim.FaultNotEnrolled, "unhealthy", "not-enrolled", "fmc-cloud-settings"},
		"ftd-region":   {sim.FaultRegionMismatch, "unhealthy", "region-mismatch", "fmc-region-config"},
		"ftd-auth":     {sim.FaultAuthFailure, "error", "auth-failed", ""},
		"ftd-hang":     {sim.FaultHang, "error", "timeout", ""},
		"ftd-hostkey":  {sim.FaultHostKeyChanged, "error", "hostkey-mismatch", ""},
		"fmc7-healthy": {sim.FaultHealthy, "healthy", "", ""},
		"fmc6-eh":      {sim.FaultEventHandlerDisconnected, "unhealthy", "eventhandler-disconnected", "restart-connector"},
		"fxos-healthy": {sim.FaultHealthy, "healthy", "", ""},
	}
	kinds := map[string]sim.Kind{"fmc7-healthy": sim.KindFMC7, "fmc6-eh": sim.KindFMC6, "fxos-healthy": sim.KindFXOS}
	var specs []sim.DeviceSpec
	for name := range want {
		k := kinds[name]
		if k == "" {
			k = sim.KindFTD
		}
		specs = append(specs, sim.DeviceSpec{Name: name, Kind: k, Site: "emea"})
	}
	f := startFleet(t, sim.FleetConfig{Devices: specs})
	s := newServer(t, serverOpts{})

	r := s.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)

	// First contact pins every key (tofu); only then does a changed key
	// mean something.
	r = s.ctl("ops-emea", "diagnose", "--site", "emea")
	require.Equal(t, 0, r.code, "all devices healthy on first contact: %s %s", r.stdout, r.stderr)
	for name, w := range want {
		if w.fault != sim.FaultHealthy {
			f.Device(name).SetFault(w.fault)
		}
	}
	hk := f.Device("ftd-hostkey").Counters()

	var run api.Run
	r = s.ctlJSON("ops-emea", &run, "diagnose", "--site", "emea")
	require.Equal(t, 3, r.code, "unhealthy devices exit 3; stderr: %s", r.stderr)
	require.Equal(t, "completed", run.Status)
	require.Equal(t, "diagnose", run.Kind)
	require.Equal(t, "ops-emea", run.RequestedBy)
	require.Equal(t, api.RunSummary{Devices: len(want), Done: len(want), Healthy: 3, Unhealthy: 6, Error: 3}, run.Summary)
	require.Len(t, run.Devices, len(want))
	for _, d := range run.Devices {
		w := want[d.Device]
		require.Equal(t, w.health, d.Health, "device %s: %+v", d.Device, d)
		if w.diagnosis == "" {
			require.Empty(t, d.Diagnoses, d.Device)
		} else {
			require.Equal(t, w.diagnosis, d.Diagnoses[0], "device %s: %v (%s)", d.Device, d.Diagnoses, d.Error)
		}
		require.Equal(t, w.recommend, d.Recommended, d.Device)
		if d.Health != "error" {
			require.NotEmpty(t, d.Checks, d.Device)
		}
	}
	// R5: a changed host key gets no password and no command.
	after := f.Device("ftd-hostkey").Counters()
	require.Equal(t, hk.PasswordsReceived, after.PasswordsReceived)
	require.Equal(t, hk.Commands, after.Commands)

	// status agrees with the run, and filters by diagnosis.
	var st []api.DeviceStatus
	r = s.ctlJSON("auditor", &st, "status", "--site", "emea", "--diagnosis", "eventhandler-disconnected")
	require.Equal(t, 3, r.code)
	names := []string{}
	for _, d := range st {
		names = append(names, d.Device)
		require.Equal(t, run.ID, *d.RunID)
		require.NotNil(t, d.CheckedAt)
	}
	require.ElementsMatch(t, []string{"ftd-eh", "fmc6-eh"}, names)

	// The table output groups by diagnosis and names the run.
	r = s.ctl("auditor", "runs", "show", run.ID.String())
	require.Equal(t, 3, r.code)
	require.Contains(t, r.stdout, "ftd-egress")
	r = s.ctl("ops-emea", "runs", "show", run.ID.String(), "--device", "ftd-eh")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "connector.eventhandler-socket")
	require.Contains(t, r.stdout, "--- transcript ---")
	require.NotContains(t, r.stdout, "Admin123", "the password never reaches a transcript")

	var list []api.Run
	s.ctlJSON("auditor", &list, "runs", "list")
	require.Len(t, list, 2)

	// Bad selector: usage error, nothing started.
	r = s.ctl("ops-emea", "diagnose", "--site", "emea", "--all")
	require.Equal(t, 2, r.code)
	r = s.ctl("ops-emea", "diagnose", "--device", "no-such-device")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "no-such-device")
	// A viewer cannot start a diagnose.
	r = s.ctl("auditor", "diagnose", "--site", "emea")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "operator")
}
