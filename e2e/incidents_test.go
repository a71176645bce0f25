package e2e

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

// planted is a simulated fleet with fleet-level faults planted by fault
// selectors on top of a random mix, and the incidents fleetd must name.
type planted struct {
	*fleet
	fmc  string              // the FMC whose FTDs are all not-enrolled
	want map[string][]string // incident ID -> its devices, sorted
	// random counts the devices carrying a fault of the random mix.
	random int
}

// plantFleet builds count devices over emea, amer and apjc with: every
// device of emea egress-blocked (site-egress), every device on 6.4.0.9
// eventhandler-disconnected (upgrade; 6.4 runs only in amer), every FTD of
// one apjc FMC not-enrolled (fmc-rooted without REST evidence), plus a
// random mix of the same faults elsewhere that must not become incidents.
func plantFleet(t *testing.T, count int, seed int64, listen, mix string) *planted {
	t.Helper()
	base := sim.FleetConfig{Count: count, Seed: seed, Sites: []string{"emea", "amer", "apjc"}, Kinds: "fmc7=4%", Listen: listen}
	// Which FMC manages the most apjc FTDs does not depend on the faults:
	// find it on a fleet that is never started.
	probe, err := sim.NewFleet(base, zap.NewNop())
	require.NoError(t, err)
	ftds := map[string]int{}
	for _, d := range probe.Devices() {
		if in := d.Info(); in.Site == "apjc" && in.ManagedBy != "" {
			ftds[in.ManagedBy]++
		}
	}
	fmc := ""
	for name, n := range ftds {
		if fmc == "" || n > ftds[fmc] || n == ftds[fmc] && name < fmc {
			fmc = name
		}
	}
	require.NotEmpty(t, fmc, "no FMC in apjc; change the seed")
	base.Faults = mix + ",egress-blocked@site=emea,eventhandler-disconnected@version=6.4.0.9,not-enrolled@fmc=" + fmc
	f := startFleet(t, base)
	p := &planted{fleet: f, fmc: fmc, want: map[string][]string{}}
	for _, d := range f.Devices() {
		in := d.Info()
		switch {
		case in.Site == "emea":
			p.want["site-egress/site=emea"] = append(p.want["site-egress/site=emea"], in.Name)
		case in.Version == "6.4.0.9":
			p.want["upgrade/version=6.4.0.9"] = append(p.want["upgrade/version=6.4.0.9"], in.Name)
		case in.ManagedBy == fmc:
			p.want["fmc-rooted/fmc="+fmc] = append(p.want["fmc-rooted/fmc="+fmc], in.Name)
		default:
			if len(in.Faults) > 0 {
				p.random++
			}
		}
	}
	for _, names := range p.want {
		sort.Strings(names)
	}
	return p
}

// checkIncidents asserts that incidents are exactly the planted ones, each
// with exactly its devices.
func (p *planted) checkIncidents(t *testing.T, incidents []api.Incident) {
	t.Helper()
	got := map[string][]string{}
	var ids, wantIDs []string
	for _, in := range incidents {
		got[in.ID] = in.Devices
		ids = append(ids, in.ID)
		require.NotEmpty(t, in.Fix, in.ID)
	}
	for id := range p.want {
		wantIDs = append(wantIDs, id)
	}
	sort.Strings(ids)
	sort.Strings(wantIDs)
	// The IDs first, and per incident only what differs: at 10,000 devices
	// a whole map would bury the difference.
	require.Equal(t, wantIDs, ids, "incidents")
	for id, want := range p.want {
		missing, extra := setDiff(want, got[id]), setDiff(got[id], want)
		require.True(t, len(missing)+len(extra) == 0, "%s: %d devices, want %d; missing %v, extra %v",
			id, len(got[id]), len(want), missing, extra)
	}
}

// requireEgressEvidence: the site-egress incident carries the evidence read
// from the devices' stored checks (only those checks are loaded): which
// endpoints fail, none passing, and the addresses connector.log dials.
func requireEgressEvidence(t *testing.T, ins []api.Incident) {
	t.Helper()
	for _, in := range ins {
		if in.ID != "site-egress/site=emea" {
			continue
		}
		require.Equal(t, "all-endpoints", in.Evidence["variant"], "%v", in.Evidence)
		failing, _ := in.Evidence["failing_endpoints"].([]any)
		require.NotEmpty(t, failing, "%v", in.Evidence)
		require.Contains(t, failing, "api.eu.sse.itd.cisco.com")
		require.Empty(t, in.Evidence["passing_endpoints"], "%v", in.Evidence)
		return
	}
	t.Fatalf("no site-egress/site=emea incident in %+v", ins)
}

// setDiff lists the names of a not in b.
func setDiff(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

func TestIncidentsPlanted(t *testing.T) {
	t.Parallel()
	p := plantFleet(t, 90, 3, "", "egress-blocked=3%,eventhandler-disconnected=3%,not-enrolled=3%,connector-stopped=3%")
	require.Positive(t, p.random, "the random mix must leave faulty devices outside the planted groups")
	// No version tags: the upgrade incident groups by the version each
	// device's login banner names during its check.
	inv, err := os.ReadFile(p.inventory)
	require.NoError(t, err)
	untagged := regexp.MustCompile(`version=[0-9.]+;`).ReplaceAll(inv, nil)
	require.NotContains(t, string(untagged), "version=")
	require.NoError(t, os.WriteFile(p.inventory, untagged, 0o600))
	s := newServer(t, serverOpts{ExtraYAML: "metrics:\n  refresh_interval: 200ms\n"})
	r := s.ctl("ops-emea", "device", "import", p.inventory)
	require.Zero(t, r.code, r.stderr)

	var run api.Run
	r = s.ctlJSON("ops-emea", &run, "diagnose", "--all")
	require.Equal(t, 3, r.code, r.stderr)
	p.checkIncidents(t, run.Incidents)
	requireEgressEvidence(t, run.Incidents)
	for _, d := range run.Devices {
		require.Equal(t, p.Device(d.Device).Info().Version, d.SWVersion, d.Device)
		for id, names := range p.want {
			if sort.SearchStrings(names, d.Device) < len(names) && names[sort.SearchStrings(names, d.Device)] == d.Device {
				require.Equal(t, id, d.Incident, d.Device)
			}
		}
		if d.Incident == "fmc-rooted/fmc="+p.fmc {
			require.Equal(t, p.fmc, d.RecommendedOn, d.Device)
		}
	}

	// People see the incidents first, then the per-diagnosis table.
	explained := 0
	for _, names := range p.want {
		explained += len(names)
	}
	r = s.ctl("ops-emea", "runs", "show", run.ID.String())
	require.Equal(t, 3, r.code, r.stderr)
	require.True(t, strings.HasPrefix(r.stdout, fmt.Sprintf("3 incidents explain %d of %d unhealthy devices\n",
		explained, run.Summary.Unhealthy+run.Summary.Error)), r.stdout)
	require.Contains(t, r.stdout, "fmc-cloud-settings on "+p.fmc)

	// The latest results, per site.
	var list api.IncidentList
	r = s.ctlJSON("auditor", &list, "incidents", "--site", "apjc")
	require.Equal(t, 3, r.code, r.stderr)
	require.Len(t, list.Incidents, 1)
	require.Equal(t, "fmc-rooted/fmc="+p.fmc, list.Incidents[0].ID)
	require.Equal(t, "medium", list.Incidents[0].Confidence, "no FMC REST evidence in these results")
	r = s.ctlJSON("auditor", &list, "incidents")
	require.Equal(t, 3, r.code, r.stderr)
	p.checkIncidents(t, list.Incidents)
	requireEgressEvidence(t, list.Incidents)
	r = s.ctl("auditor", "incidents", "--site", "nowhere")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "nowhere")

	// Fleet health in Prometheus, without a device name in any label.
	emea := len(p.want["site-egress/site=emea"])
	var body string
	require.Eventually(t, func() bool {
		_, body = s.scrape(t, s.tokens["auditor"])
		return strings.Contains(body, `fleetd_incidents{kind="site-egress",site="emea"} 1`)
	}, 20*time.Second, 100*time.Millisecond, "incidents gauge")
	for _, want := range []string{
		`fleetd_incidents{kind="fmc-rooted",site="apjc"} 1`,
		`fleetd_incidents{kind="upgrade",site="amer"} 1`,
		fmt.Sprintf(`fleetd_devices{health="unhealthy",site="emea"} %d`, emea),
		fmt.Sprintf(`fleetd_device_diagnoses{diagnosis="egress-blocked",site="emea"} %d`, emea),
	} {
		require.Contains(t, body, want)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "fleetd_") {
			require.NotContains(t, line, "ftd-", "no per-device labels")
		}
	}

	// The upstream firewall is fixed: the next run's diff says the
	// site-egress incident is resolved, and the gauge goes.
	for _, name := range p.want["site-egress/site=emea"] {
		p.Device(name).SetFault(sim.FaultHealthy)
	}
	var next api.Run
	r = s.ctlJSON("ops-emea", &next, "diagnose", "--all")
	require.Equal(t, 3, r.code, r.stderr)
	var diff api.RunDiff
	s.ctlJSON("auditor", &diff, "runs", "show", next.ID.String(), "--diff")
	require.Empty(t, diff.NewIncidents)
	require.Len(t, diff.ResolvedIncidents, 1)
	require.Equal(t, "site-egress/site=emea", diff.ResolvedIncidents[0].ID)
	r = s.ctl("auditor", "runs", "show", next.ID.String(), "--diff")
	require.Contains(t, r.stdout, "site-egress/site=emea\tresolved")
	require.Eventually(t, func() bool {
		_, body = s.scrape(t, s.tokens["auditor"])
		return !strings.Contains(body, `fleetd_incidents{kind="site-egress"`) &&
			strings.Contains(body, fmt.Sprintf(`fleetd_devices{health="healthy",site="emea"} %d`, emea))
	}, 20*time.Second, 100*time.Millisecond, "resolved incident leaves the gauge")
}
