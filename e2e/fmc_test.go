package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

type checkJSON struct {
	ID       string         `json:"id"`
	Verdict  string         `json:"verdict"`
	Summary  string         `json:"summary"`
	Evidence map[string]any `json:"evidence"`
}

func checksOf(t *testing.T, d api.DeviceResult) map[string]checkJSON {
	t.Helper()
	var cs []checkJSON
	require.NoError(t, json.Unmarshal(d.Checks, &cs))
	out := map[string]checkJSON{}
	for _, c := range cs {
		out[c.ID] = c
	}
	return out
}

// TestFMCRESTEndToEnd is issue 12 through fleetctl: an FMC's certificate
// pinned like a host key, the fmc.* checks with each REST fault, the FTDs
// following their FMC, device sync (dry run, renamed and removed devices,
// prune, audit), and no REST token or password in logs, transcripts, audit
// or the database.
func TestFMCRESTEndToEnd(t *testing.T) {
	t.Parallel()
	const fmcName = "fmc-emea-01"
	f := startFleet(t, sim.FleetConfig{
		Devices: []sim.DeviceSpec{
			{Name: fmcName, Kind: sim.KindFMC7, Site: "emea"},
			{Name: "ftd-a", Site: "emea", ManagedBy: fmcName},
			{Name: "ftd-b", Site: "emea", ManagedBy: fmcName},
			{Name: "ftd-c", Site: "emea", ManagedBy: fmcName},
		},
		Sites:             []string{"emea"},
		APIShortTokenLife: 300 * time.Millisecond,
		APIRateLimit:      2,
		APISlowLatency:    300 * time.Second, // x TimeScale 0.01: 3s, past fmc_api.timeout
	})
	fmc := f.Device(fmcName)
	s := newServer(t, serverOpts{HostKeyPolicy: "strict", EditConfig: func(y string) string {
		return strings.Replace(y, "emea: {region: eu,", "emea: {region: eu, fmc_api: {enabled: true, timeout: 1s},", 1)
	}})

	// Only the FMC is imported by hand: its FTDs come from the FMC.
	lines := strings.Split(strings.TrimSpace(readFile(t, f.inventory)), "\n")
	var fmcOnly []string
	for _, l := range lines {
		if strings.HasPrefix(l, "name,") || strings.HasPrefix(l, fmcName+",") {
			fmcOnly = append(fmcOnly, l)
		}
	}
	require.Contains(t, fmcOnly[1], fmc.APIAddr(), "the FMC's REST API is off port 443: api_address")
	inv := filepath.Join(t.TempDir(), "fmc.csv")
	require.NoError(t, os.WriteFile(inv, []byte(strings.Join(fmcOnly, "\n")+"\n"), 0o600))
	r := s.ctl("ops-emea", "device", "import", inv)
	require.Zero(t, r.code, r.stderr)

	// First contact: the SSH key and the REST certificate wait as pending.
	var run api.Run
	r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", fmcName)
	require.Equal(t, 3, r.code, r.stderr)
	cs := checksOf(t, run.Devices[0])
	require.Equal(t, "error", cs["fmc.cloud-events"].Verdict)
	require.Contains(t, cs["fmc.cloud-events"].Summary, "not pinned")
	require.Zero(t, fmc.APICounters().Requests, "nothing is sent to an FMC whose certificate is not accepted")
	var keys []api.HostKey
	r = s.ctlJSON("ops-emea", &keys, "hostkey", "list", "--kind", "tls", "--state", "pending")
	require.Zero(t, r.code, r.stderr)
	require.Len(t, keys, 1)
	require.Equal(t, "tls", keys[0].Kind)
	require.Equal(t, fmc.APIFingerprint(), keys[0].Fingerprint, "the fingerprint ftdsim prints out of band")
	r = s.ctl("ops-emea", "hostkey", "accept", fmcName)
	require.Zero(t, r.code, r.stderr)

	r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", fmcName)
	require.Equal(t, 0, r.code, "%s %s", r.stdout, r.stderr)
	cs = checksOf(t, run.Devices[0])
	for id, v := range map[string]string{"fmc.cloud-events": "pass", "fmc.cloud-region": "pass", "fmc.smart-license": "pass",
		"fmc.smart-satellite": "skip", "connector.process": "pass"} {
		require.Equal(t, v, cs[id].Verdict, "%s: %s", id, cs[id].Summary)
	}
	require.Contains(t, cs["fmc.smart-satellite"].Summary, "verify by hand")

	// --check with only REST checks opens no SSH session.
	logins := fmc.Counters().Logins
	r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", fmcName, "--check", "fmc.cloud-region")
	require.Equal(t, 0, r.code, r.stderr)
	require.Len(t, checksOf(t, run.Devices[0]), 1)
	require.Equal(t, logins, fmc.Counters().Logins)

	// Sync: dry run, then for real.
	var sync api.DeviceSyncResult
	r = s.ctlJSON("ops-emea", &sync, "device", "sync", "--from", fmcName, "--dry-run")
	require.Zero(t, r.code, r.stderr)
	require.True(t, sync.DryRun)
	require.Len(t, sync.Added, 3)
	var devs []api.Device
	s.ctlJSON("ops-emea", &devs, "device", "list")
	require.Len(t, devs, 1, "a dry run writes nothing")
	r = s.ctl("ops-emea", "device", "sync", "--from", fmcName)
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout+r.stderr, "3 devices listed; 3 added, 0 changed, 0 unchanged, 0 gone")
	var ftd api.Device
	s.ctlJSON("ops-emea", &ftd, "device", "show", "ftd-a")
	require.Equal(t, fmcName, ftd.ManagedBy)
	require.Equal(t, fmcName, ftd.SyncedFrom)
	require.Equal(t, f.Device("ftd-a").Version(), ftd.SWVersion)
	require.NotEmpty(t, ftd.Model)
	r = s.ctl("ops-emea", "device", "show", "ftd-a")
	require.Contains(t, r.stdout, "sw_version:")

	// The synced FTDs' host keys: first contact, then accepted.
	s.ctl("ops-emea", "diagnose", "--site", "emea")
	r = s.ctl("ops-emea", "hostkey", "accept", "--all-pending")
	require.Zero(t, r.code, r.stderr)

	// Each REST fault, through fleetctl.
	for _, tc := range []struct {
		fault     sim.Fault
		check     string
		verdict   string
		health    string
		diagnosis string
		summary   string
	}{
		{sim.FaultCloudEventsOff, "fmc.cloud-events", "fail", "unhealthy", "cloud-services-off", "Cloud events are off"},
		{sim.FaultLicenseEvaluation, "fmc.smart-license", "fail", "unhealthy", "cloud-services-off", "EVALUATION"},
		{sim.FaultLicenseUnregistered, "fmc.smart-license", "fail", "unhealthy", "cloud-services-off", "UNREGISTERED"},
		{sim.FaultCloudRegionOther, "fmc.cloud-region", "fail", "unhealthy", "region-mismatch", "AMERICAS"},
		{sim.FaultAPIRateLimit, "fmc.smart-license", "error", "error", "", "HTTP 429"},
		{sim.FaultTokenExpiry, "fmc.smart-license", "pass", "healthy", "", "registered"},
		{sim.FaultAPIDown, "fmc.cloud-events", "error", "error", "", "HTTP 503"},
		{sim.FaultAPISlow, "fmc.cloud-events", "error", "error", "timeout", ""},
	} {
		fmc.ClearFaults()
		fmc.SetFault(tc.fault)
		refreshes := fmc.APICounters().Refreshes
		r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", fmcName)
		d := run.Devices[0]
		c := checksOf(t, d)[tc.check]
		require.Equal(t, tc.verdict, c.Verdict, "%s: %s", tc.fault, c.Summary)
		require.Contains(t, c.Summary, tc.summary, tc.fault)
		require.Equal(t, tc.health, d.Health, "%s: %+v", tc.fault, d)
		if tc.diagnosis != "" {
			require.Equal(t, []string{tc.diagnosis}, d.Diagnoses, tc.fault)
		}
		if tc.verdict == "fail" {
			require.NotEmpty(t, c.Evidence["fix"], "%s: the fix at the FMC", tc.fault)
			require.Equal(t, 3, r.code)
		}
		switch tc.fault {
		case sim.FaultCloudEventsOff:
			require.Equal(t, "fmc-cloud-settings", d.Recommended)
			// Its FTDs cannot enrol, and the site's diagnose explains all
			// three by the FMC: one fmc-rooted incident on the REST evidence.
			r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", "ftd-a")
			require.Equal(t, []string{"not-enrolled"}, run.Devices[0].Diagnoses, "%+v", run.Devices[0])
			r = s.ctlJSON("ops-emea", &run, "diagnose", "--site", "emea")
			require.Equal(t, 3, r.code, r.stderr)
			require.Len(t, run.Incidents, 1, "%+v", run.Incidents)
			in := run.Incidents[0]
			require.Equal(t, "fmc-rooted/fmc="+fmcName, in.ID)
			require.Equal(t, "high", in.Confidence)
			require.Equal(t, []string{"ftd-a", "ftd-b", "ftd-c"}, in.Devices)
			require.Equal(t, "3 FTDs not enrolled because "+fmcName+" has cloud events off", in.Summary)
			for _, d := range run.Devices {
				if d.Device != fmcName {
					require.Equal(t, in.ID, d.Incident, d.Device)
					require.Equal(t, fmcName, d.RecommendedOn, "%s is fixed on its FMC", d.Device)
				}
			}
			r = s.ctl("ops-emea", "runs", "show", run.ID.String())
			require.Contains(t, r.stdout, "1 incident explains 3 of 4 unhealthy devices")
			require.Contains(t, r.stdout, "3 FTDs not enrolled because "+fmcName+" has cloud events off")
			require.Contains(t, r.stdout, "fmc-cloud-settings on "+fmcName)
		case sim.FaultCloudRegionOther:
			require.Equal(t, "fmc-region-config", d.Recommended)
			r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", "ftd-a")
			require.Equal(t, []string{"region-mismatch"}, run.Devices[0].Diagnoses, "%+v", run.Devices[0])
		case sim.FaultTokenExpiry:
			require.Greater(t, fmc.APICounters().Refreshes, refreshes, "the expired token was refreshed")
		}
	}
	fmc.ClearFaults()
	runID := run.ID.String()

	// The FMC renamed ftd-b and deleted ftd-c; ftd-byhand was added by hand.
	require.NoError(t, f.Device("ftd-b").RenameOnFMC("ftd-b2"))
	require.NoError(t, f.Device("ftd-c").Release())
	r = s.ctl("ops-emea", "device", "add", "ftd-byhand", "--kind", "ftd", "--site", "emea", "--address", "127.0.0.9",
		"--credential", "lab", "--managed-by", fmcName)
	require.Zero(t, r.code, r.stderr)
	r = s.ctlJSON("ops-emea", &sync, "device", "sync", "--from", fmcName)
	require.Zero(t, r.code, r.stderr)
	require.Len(t, sync.Added, 1)
	require.Equal(t, "ftd-b2", sync.Added[0].Name)
	require.Len(t, sync.Gone, 2)
	require.Equal(t, "ftd-b", sync.Gone[0].Device)
	require.Contains(t, sync.Gone[0].Hint, "ftd-b2")
	require.Equal(t, "ftd-c", sync.Gone[1].Device)
	require.Empty(t, sync.Removed, "gone devices stay without --prune")
	r = s.ctl("ops-emea", "device", "sync", "--from", fmcName, "--prune")
	require.Zero(t, r.code, r.stderr)
	require.Regexp(t, "(?m)^remove\tftd-b\t", r.stdout)
	s.ctlJSON("ops-emea", &devs, "device", "list")
	var names []string
	for _, d := range devs {
		names = append(names, d.Name)
	}
	require.ElementsMatch(t, []string{fmcName, "ftd-a", "ftd-b2", "ftd-byhand"}, names, "hand-added devices are never pruned")
	var events []api.AuditEvent
	s.ctlJSON("ops-emea", &events, "audit", "list", "--action", "device.delete")
	require.Len(t, events, 2)
	for _, e := range events {
		require.Equal(t, "sync", e.Details["via"])
		require.Equal(t, fmcName, e.Details["fmc"])
		require.Equal(t, "ops-emea", e.Actor)
	}

	// No REST token nor the API user's password anywhere fleetd keeps or logs.
	secrets := append(fmc.APITokensIssued(), "Admin123")
	require.Greater(t, len(secrets), 4)
	var detail api.Run
	s.ctlJSON("ops-emea", &detail, "runs", "show", runID, "--device", fmcName)
	transcript := detail.Devices[0].Transcript
	require.Contains(t, transcript, "--- FMC REST API ---")
	require.Contains(t, transcript, "GET /api/fmc_platform/v1/license/smartlicenses")
	r = s.ctl("admin", "audit", "list", "-o", "json")
	dump, err := exec.Command("pg_dump", "--data-only", s.dbURL).CombinedOutput()
	require.NoError(t, err, string(dump))
	for _, secret := range secrets {
		require.NotContains(t, s.logs.String(), secret, "fleetd's log")
		require.NotContains(t, transcript, secret, "the transcript")
		require.NotContains(t, r.stdout, secret, "the audit trail")
		require.NotContains(t, string(dump), secret, "the database")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
