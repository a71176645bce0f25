package incident_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/incident"
)

// fleet builds n devices named prefix-1..n with the same facts.
func fleet(prefix string, n int, d incident.Device) []incident.Device {
	out := make([]incident.Device, n)
	for i := range out {
		out[i] = d
		out[i].Name = fmt.Sprintf("%s-%d", prefix, i+1)
		out[i].Diagnoses = append([]string(nil), d.Diagnoses...)
	}
	return out
}

func healthy(prefix string, n int, d incident.Device) []incident.Device {
	d.Health, d.Diagnoses = "healthy", nil
	return fleet(prefix, n, d)
}

func sick(prefix string, n int, d incident.Device, code string) []incident.Device {
	d.Health, d.Diagnoses = "unhealthy", []string{code}
	switch code {
	case "unreachable", "timeout", "auth-failed":
		d.Health = "error"
	}
	return fleet(prefix, n, d)
}

func cat(parts ...[]incident.Device) []incident.Device {
	var out []incident.Device
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i+1)
	}
	return out
}

var (
	emea    = incident.Device{Kind: "ftd", Site: "emea", Credential: "lab", Version: "7.2.5", ManagedBy: "fmc-emea"}
	amer    = incident.Device{Kind: "ftd", Site: "amer", Credential: "lab", Version: "7.2.5", ManagedBy: "fmc-amer"}
	fmcEMEA = incident.Device{Name: "fmc-emea", Kind: "fmc", Site: "emea", Credential: "lab", Version: "7.2.5", Health: "healthy"}
)

func endpoints(pairs ...string) []incident.Check {
	var eps []any
	for i := 0; i < len(pairs); i += 2 {
		eps = append(eps, map[string]any{"host": pairs[i], "outcome": pairs[i+1]})
	}
	return []incident.Check{
		{ID: "sse.connectivity", Verdict: "fail", Evidence: map[string]any{"endpoints": eps}},
		{ID: "connector.log", Verdict: "fail", Evidence: map[string]any{"last_error": map[string]any{
			"msg": "[firepower][events.go:90 events:connectWebSocket] dial tcp 18.184.211.36:443: getsockopt: connection timed out"}}},
	}
}

func withChecks(ds []incident.Device, cs []incident.Check) []incident.Device {
	for i := range ds {
		ds[i].Checks = cs
	}
	return ds
}

type want struct {
	id         string
	devices    []string
	confidence string
	evidence   map[string]any // keys that must be there with these values
}

func TestFind(t *testing.T) {
	t.Parallel()
	fmcOff := fmcEMEA
	fmcOff.Health, fmcOff.Diagnoses = "unhealthy", []string{"cloud-services-off"}
	fmcOff.Checks = []incident.Check{{ID: "fmc.cloud-events", Verdict: "fail", Summary: "sendIntrusionEvents is false",
		Evidence: map[string]any{"sendIntrusionEvents": false}}, {ID: "fmc.smart-license", Verdict: "pass"}}
	fmcRegion := fmcEMEA
	fmcRegion.Health, fmcRegion.Diagnoses = "unhealthy", []string{"region-mismatch"}
	fmcRegion.Checks = []incident.Check{{ID: "fmc.cloud-region", Verdict: "fail", Summary: "current region AMERICAS, site emea is eu"}}
	// An FMC whose SSH checks find its own connector in the wrong region:
	// no REST evidence about what it tells its FTDs.
	fmcSSHOnly := fmcEMEA
	fmcSSHOnly.Health, fmcSSHOnly.Diagnoses = "unhealthy", []string{"region-mismatch"}
	fmcSSHOnly.Checks = []incident.Check{{ID: "connector.properties", Verdict: "fail"}}

	jumped := emea
	jumped.JumpChain = "dmz"
	v64 := amer
	v64.Version = "6.4.0.9"
	other := amer
	other.Credential = "other"

	cases := []struct {
		name string
		devs []incident.Device
		want []want
	}{
		{"fmc-rooted with FMC evidence: every unenrolled FTD of it, even below the threshold",
			cat([]incident.Device{fmcOff}, sick("e", 2, emea, "not-enrolled"), healthy("h", 20, emea)),
			[]want{{id: "fmc-rooted/fmc=fmc-emea", devices: names("e", 2), confidence: "high",
				evidence: map[string]any{"fmc": "fmc-emea", "fmc_checks": []map[string]any{{"check": "fmc.cloud-events",
					"summary": "sendIntrusionEvents is false", "evidence": map[string]any{"sendIntrusionEvents": false}}}}}}},
		{"fmc-rooted region: region-mismatch FTDs of a region-mismatch FMC; its unenrolled FTDs are not explained by it",
			cat([]incident.Device{fmcRegion}, sick("r", 4, emea, "region-mismatch"), sick("n", 1, emea, "not-enrolled")),
			[]want{{id: "fmc-rooted/fmc=fmc-emea", devices: names("r", 4), confidence: "high"}}},
		{"must not fire: an FMC's own SSH region-mismatch is no evidence for its one unenrolled FTD",
			cat([]incident.Device{fmcSSHOnly}, sick("r", 1, emea, "region-mismatch"), healthy("h", 20, emea)), nil},
		{"fmc-rooted without FMC evidence: most FTDs of one FMC unenrolled",
			cat([]incident.Device{fmcEMEA}, sick("e", 8, emea, "not-enrolled"), healthy("h", 2, emea)),
			[]want{{id: "fmc-rooted/fmc=fmc-emea", devices: names("e", 8), confidence: "medium"}}},
		{"must not fire: a few unenrolled FTDs among many healthy ones of a healthy FMC",
			cat([]incident.Device{fmcEMEA}, sick("e", 5, emea, "not-enrolled"), healthy("h", 50, emea)), nil},
		{"must not fire: two unenrolled FTDs are below min_devices",
			cat(sick("e", 2, emea, "not-enrolled")), nil},
		{"site-egress, all endpoints: evidence names the failing endpoint and the dialled IP",
			cat(withChecks(sick("e", 6, emea, "egress-blocked"), endpoints("api.eu.sse.itd.cisco.com", "timeout",
				"est.sco.cisco.com", "not-attempted")), healthy("h", 1, emea), healthy("a", 10, amer)),
			[]want{{id: "site-egress/site=emea", devices: names("e", 6), confidence: "high", evidence: map[string]any{
				"variant": "all-endpoints", "failing_endpoints": []string{"api.eu.sse.itd.cisco.com"},
				"passing_endpoints": []string{}, "connector_dials": []string{"18.184.211.36"}}}}},
		{"site-egress, eventing only: allowed by IP instead of FQDN",
			cat(withChecks(sick("e", 4, emea, "egress-blocked"), endpoints("api.eu.sse.itd.cisco.com", "ok",
				"est.sco.cisco.com", "ok", "eventing-ingest.eu.sse.itd.cisco.com", "timeout", "mx01.eu.sse.itd.cisco.com", "not-attempted"))),
			[]want{{id: "site-egress/site=emea", devices: names("e", 4), confidence: "high", evidence: map[string]any{
				"variant": "eventing-only", "failing_endpoints": []string{"eventing-ingest.eu.sse.itd.cisco.com"},
				"connector_dials": []string{"18.184.211.36"}}}}},
		{"must not fire: two unrelated egress-blocked devices at a site",
			cat(sick("e", 2, emea, "egress-blocked"), healthy("h", 30, emea)), nil},
		{"must not fire: scattered egress-blocked, 4 of 40 at a site",
			cat(sick("e", 4, emea, "egress-blocked"), healthy("h", 36, emea)), nil},
		{"upgrade: eventhandler-disconnected concentrated on one version",
			cat(sick("v", 5, v64, "eventhandler-disconnected"), healthy("w", 1, v64), sick("x", 2, amer, "eventhandler-disconnected"), healthy("h", 30, amer)),
			[]want{{id: "upgrade/version=6.4.0.9", devices: names("v", 5), confidence: "high", evidence: map[string]any{"devices_of_version": 6}}}},
		{"must not fire: eventhandler-disconnected spread over the fleet's versions",
			cat(sick("v", 3, v64, "eventhandler-disconnected"), healthy("w", 20, v64), sick("x", 3, amer, "eventhandler-disconnected"), healthy("h", 20, amer)), nil},
		{"credential: auth-failed on the devices sharing one credential",
			cat(sick("c", 5, other, "auth-failed"), healthy("h", 30, amer)),
			[]want{{id: "credential/credential=other", devices: names("c", 5), confidence: "high"}}},
		{"must not fire: a few auth failures on a widely used credential",
			cat(sick("c", 3, amer, "auth-failed"), healthy("h", 30, amer)), nil},
		{"path by jump chain before site",
			cat(sick("j", 4, jumped, "timeout"), sick("k", 1, jumped, "unreachable"), healthy("h", 10, emea)),
			[]want{{id: "path/jump=dmz", devices: append(names("j", 4), "k-1"), confidence: "high",
				evidence: map[string]any{"diagnoses": map[string]int{"timeout": 4, "unreachable": 1}}}}},
		{"path by site",
			cat(sick("u", 6, amer, "unreachable"), healthy("h", 2, amer), healthy("e", 10, emea)),
			[]want{{id: "path/site=amer", devices: names("u", 6), confidence: "medium"}}},
		{"must not fire: two unreachable devices at a site",
			cat(sick("u", 2, amer, "unreachable"), healthy("h", 2, amer)), nil},
		{"one device, one incident: an FMC's FTDs are not counted again for their site",
			cat([]incident.Device{fmcOff}, sick("e", 6, emea, "not-enrolled"), withChecks(sick("g", 8, emea, "egress-blocked"),
				endpoints("api.eu.sse.itd.cisco.com", "timeout"))),
			[]want{{id: "site-egress/site=emea", devices: names("g", 8), confidence: "high"},
				{id: "fmc-rooted/fmc=fmc-emea", devices: names("e", 6), confidence: "high"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := incident.Find(tc.devs, incident.DefaultConfig())
			require.Len(t, res.Incidents, len(tc.want), "incidents: %+v", res.Incidents)
			explained := 0
			for i, w := range tc.want {
				got := res.Incidents[i]
				require.Equal(t, w.id, got.ID)
				require.Equal(t, w.devices, got.Devices)
				require.Equal(t, w.confidence, got.Confidence)
				require.NotEmpty(t, got.Fix)
				require.NotEmpty(t, got.Summary)
				for k, v := range w.evidence {
					require.Equal(t, v, got.Evidence[k], "evidence %s", k)
				}
				for _, d := range got.Devices {
					require.Equal(t, i, res.ByDevice[d])
				}
				explained += len(got.Devices)
			}
			require.Equal(t, explained, res.Explained)
		})
	}
}

func TestFindIsDeterministicAndCounts(t *testing.T) {
	t.Parallel()
	devs := cat(sick("u", 6, amer, "unreachable"), sick("e", 2, emea, "egress-blocked"), healthy("h", 3, emea))
	a, b := incident.Find(devs, incident.Config{}), incident.Find(devs, incident.DefaultConfig())
	require.Equal(t, a, b)
	require.Equal(t, 8, a.NotHealthy)
	require.Equal(t, 6, a.Explained)
	require.Equal(t, api.IncidentPath, a.Incidents[0].Kind)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, incident.DefaultConfig().Validate())
	require.ErrorContains(t, incident.Config{MinDevices: 1, MinShare: 0.5}.Validate(), "min_devices")
	require.ErrorContains(t, incident.Config{MinDevices: 3, MinShare: 1.5}.Validate(), "min_share")
}

// The FMC-rooted summary and fix name the one setting the FMC's REST checks
// found off: cloud events, or the smart licence, or both.
func TestFMCRootedNamesTheSettingThatIsOff(t *testing.T) {
	t.Parallel()
	fmc := fmcEMEA
	fmc.Health, fmc.Diagnoses = "unhealthy", []string{"cloud-services-off"}
	for _, tc := range []struct {
		name          string
		failing       []string
		cause         string
		fix, notInFix string
	}{
		{"cloud events", []string{"fmc.cloud-events"}, "3 FTDs not enrolled because fmc-emea has cloud events off",
			"turn Cisco Cloud events on", "smart licence"},
		{"licence", []string{"fmc.smart-license"}, "3 FTDs not enrolled because fmc-emea has its smart licence not registered",
			"register the smart licence", "Cloud events"},
		{"both", []string{"fmc.cloud-events", "fmc.smart-license"},
			"3 FTDs not enrolled because fmc-emea has cloud events off and its smart licence not registered",
			"turn Cisco Cloud events on (System > Integration > Cloud Services) and register the smart licence", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fmc
			f.Checks = nil
			for _, id := range tc.failing {
				f.Checks = append(f.Checks, incident.Check{ID: id, Verdict: "fail"})
			}
			res := incident.Find(cat([]incident.Device{f}, sick("e", 3, emea, "not-enrolled")), incident.DefaultConfig())
			require.Len(t, res.Incidents, 1)
			require.Equal(t, tc.cause, res.Incidents[0].Summary)
			require.Contains(t, res.Incidents[0].Fix, tc.fix)
			if tc.notInFix != "" {
				require.NotContains(t, res.Incidents[0].Fix, tc.notInFix)
			}
		})
	}
}
