package incident

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/diagnose"
)

// fmcRooted: FTDs not-enrolled / region-mismatch under one FMC. With the
// FMC's own REST evidence in the same results (its diagnosis
// cloud-services-off or region-mismatch) every such FTD of it is explained,
// with high confidence; without it, MinDevices and MinShare of its checked
// FTDs must be not-enrolled or region-mismatch (medium confidence).
func (f *finder) fmcRooted() {
	for _, g := range f.groups(checkedFTD, func(d *Device) string { return d.ManagedBy },
		func(d *Device) bool { return has(d, dNotEnrolled, dRegionMismatch) }) {
		if len(g.matched) == 0 {
			continue
		}
		fmc := f.byName[g.key]
		in := api.Incident{Kind: api.IncidentFMCRooted, Scope: "fmc=" + g.key, Evidence: map[string]any{"fmc": g.key}}
		// The FMC's own REST checks (fmc.*) failing: its SSH checks can say
		// region-mismatch about its own connector, which says nothing
		// about the setting it broadcasts.
		failing := []map[string]any{}
		if fmc != nil {
			for _, c := range fmc.Checks {
				if c.Verdict == string(diagnose.VerdictFail) && strings.HasPrefix(c.ID, "fmc.") {
					failing = append(failing, map[string]any{"check": c.ID, "summary": c.Summary, "evidence": c.Evidence})
				}
			}
		}
		if len(failing) > 0 && has(fmc, dCloudOff, dRegionMismatch) {
			// The FMC says why. Only the FTDs its fault explains: a
			// region-mismatch FMC does not explain unenrolled FTDs unless
			// cloud services are off too, and the other way round.
			var explained []*Device
			for _, d := range g.matched {
				if has(fmc, dCloudOff) && has(d, dNotEnrolled) || has(fmc, dRegionMismatch) && has(d, dRegionMismatch) {
					explained = append(explained, d)
				}
			}
			if len(explained) == 0 {
				continue
			}
			in.Confidence = api.ConfidenceHigh
			in.Site = fmc.Site
			in.Evidence["fmc_diagnoses"] = fmc.Diagnoses
			in.Evidence["fmc_checks"] = failing
			switch {
			case has(fmc, dCloudOff):
				cause, fix := cloudOffCause(fmc)
				in.Summary = fmt.Sprintf("%d FTDs not enrolled because %s has %s", len(explained), g.key, cause)
				in.Fix = fmt.Sprintf("on %s: %s; its FTDs enrol by themselves", g.key, fix)
			default:
				in.Summary = fmt.Sprintf("%d FTDs in the wrong SSE region because %s's cloud region is not its site's", len(explained), g.key)
				in.Fix = fmt.Sprintf("on %s: set the cloud region to the site's region (System > Integration > Cloud Services)", g.key)
			}
			in.Evidence["ftds_of_fmc"] = g.all
			f.add(in, explained)
			continue
		}
		if !f.concentrated(g) {
			continue
		}
		in.Confidence = api.ConfidenceMedium
		if fmc != nil {
			in.Site = fmc.Site
		}
		in.Evidence["ftds_of_fmc"] = g.all
		in.Evidence["fmc_evidence"] = "none: the FMC has no REST check result in these results"
		in.Summary = fmt.Sprintf("%d of %d FTDs of %s not enrolled or in the wrong region", len(g.matched), g.all, g.key)
		in.Fix = fmt.Sprintf("check Cisco Cloud settings, the smart licence and the cloud region on %s (not on the FTDs)", g.key)
		f.add(in, g.matched)
	}
}

// cloudOffCause names what the FMC's failing REST checks say is off ("cloud
// events off", "its smart licence unregistered", or both) and the fix of
// exactly that, so the operator is sent to the one setting that is wrong.
func cloudOffCause(fmc *Device) (cause, fix string) {
	var causes, fixes []string
	for _, c := range fmc.Checks {
		if c.Verdict != string(diagnose.VerdictFail) {
			continue
		}
		switch c.ID {
		case diagnose.CheckFMCCloudEvents:
			causes = append(causes, "cloud events off")
			fixes = append(fixes, "turn Cisco Cloud events on (System > Integration > Cloud Services)")
		case diagnose.CheckFMCSmartLicense:
			causes = append(causes, "its smart licence not registered")
			fixes = append(fixes, "register the smart licence (System > Licenses > Smart Licenses)")
		}
	}
	if len(causes) == 0 { // a code without the check that set it: say what the code says
		return "cloud services off", "turn Cisco Cloud events on (System > Integration > Cloud Services) and register the smart licence"
	}
	return strings.Join(causes, " and "), strings.Join(fixes, " and ")
}

var dialIPRE = regexp.MustCompile(`dial tcp (\d{1,3}(?:\.\d{1,3}){3}):\d+`)

// siteEgress: egress-blocked concentrated on one site. The evidence says
// which SSE endpoints fail and which pass across the site's devices, and the
// addresses connector.log says the connector dials: when only the eventing
// endpoint fails the upstream firewall was opened for IP addresses instead
// of the FQDNs (the tech note's case).
func (f *finder) siteEgress() {
	for _, g := range f.groups(checked, func(d *Device) string { return d.Site },
		func(d *Device) bool { return has(d, dEgress) }) {
		if !f.concentrated(g) {
			continue
		}
		failing, passing, ips := map[string]int{}, map[string]int{}, map[string]int{}
		for _, d := range g.matched {
			if c, ok := f.check(d, diagnose.CheckSSEConnectivity); ok {
				eps, _ := c.Evidence["endpoints"].([]any)
				for _, e := range eps {
					m, _ := e.(map[string]any)
					host, _ := m["host"].(string)
					switch out, _ := m["outcome"].(string); out {
					case string(diagnose.CurlOK):
						passing[host]++
					case string(diagnose.NotAttempted), "":
					default:
						failing[host]++
					}
				}
			}
			if c, ok := f.check(d, diagnose.CheckConnectorLog); ok {
				if last, ok := c.Evidence["last_error"].(map[string]any); ok {
					msg, _ := last["msg"].(string)
					for _, m := range dialIPRE.FindAllStringSubmatch(msg, -1) {
						ips[m[1]]++
					}
				}
			}
		}
		in := api.Incident{Kind: api.IncidentSiteEgress, Site: g.key, Scope: "site=" + g.key,
			Confidence: api.ConfidenceHigh, Evidence: map[string]any{
				"devices_of_site": g.all, "failing_endpoints": sortedKeys(failing),
				"passing_endpoints": sortedKeys(passing), "connector_dials": sortedKeys(ips)}}
		eventingOnly := len(failing) > 0 && len(passing) > 0
		for h := range failing {
			if !strings.HasPrefix(h, "eventing-ingest.") {
				eventingOnly = false
			}
		}
		if eventingOnly {
			in.Evidence["variant"] = "eventing-only"
			in.Summary = fmt.Sprintf("%d of %d devices of %s reach the SSE API but not eventing (%s)", len(g.matched), g.all,
				g.key, strings.Join(sortedKeys(failing), ", "))
			in.Fix = fmt.Sprintf("the upstream firewall of %s allows the SSE endpoints by IP address, not by FQDN: allow %s by name (connector.log dials %s)",
				g.key, strings.Join(sortedKeys(failing), ", "), orNone(sortedKeys(ips)))
		} else {
			in.Evidence["variant"] = "all-endpoints"
			in.Summary = fmt.Sprintf("%d of %d devices of %s cannot reach the SSE endpoints", len(g.matched), g.all, g.key)
			in.Fix = fmt.Sprintf("network change upstream of %s: allow the region's SSE FQDNs (%s) on 443 from the management network; nothing to do on the devices",
				g.key, orNone(sortedKeys(failing)))
		}
		if len(failing) == 0 {
			in.Confidence = api.ConfidenceMedium // diagnosed from the log or lsof alone
		}
		f.add(in, g.matched)
	}
}

// concentratedGroups calls build for each group (of devices in, by key)
// where the devices match concentrates, and adds the incident it returns.
func (f *finder) concentratedGroups(in func(*Device) bool, key func(*Device) string, match func(*Device) bool,
	build func(g *group) api.Incident) {
	for _, g := range f.groups(in, key, match) {
		if f.concentrated(g) {
			f.add(build(g), g.matched)
		}
	}
}

func checked(d *Device) bool { return d.Health != string(diagnose.HealthError) }

// upgrade: eventhandler-disconnected concentrated on one software version.
func (f *finder) upgrade() {
	f.concentratedGroups(checked, func(d *Device) string { return d.Version },
		func(d *Device) bool { return has(d, dEventHandler) }, func(g *group) api.Incident {
			return api.Incident{Kind: api.IncidentUpgrade, Scope: "version=" + g.key, Confidence: api.ConfidenceHigh,
				Evidence: map[string]any{"version": g.key, "devices_of_version": g.all},
				Summary:  fmt.Sprintf("%d of %d devices on %s have the connector detached from EventHandler", len(g.matched), g.all, g.key),
				Fix: fmt.Sprintf("the known post-upgrade fault of %s: restart the connector on these devices (fleetctl remediate --restart-connector --from-run RUN_ID), reboot those it does not cure",
					g.key)}
		})
}

// credential: auth-failed on devices sharing one credential.
func (f *finder) credential() {
	f.concentratedGroups(anyDevice, func(d *Device) string { return d.Credential },
		func(d *Device) bool { return has(d, dAuth) }, func(g *group) api.Incident {
			return api.Incident{Kind: api.IncidentCredential, Scope: "credential=" + g.key, Confidence: api.ConfidenceHigh,
				Evidence: map[string]any{"credential": g.key, "devices_using_it": g.all},
				Summary:  fmt.Sprintf("%d of %d devices using credential %s refuse it", len(g.matched), g.all, g.key),
				Fix:      fmt.Sprintf("the secret of credential %s is wrong or expired: update it where fleetd reads it (credentials.%s), then rerun", g.key, g.key)}
		})
}

// path: unreachable / timeout concentrated on a jump chain, then on a site.
func (f *finder) path() {
	lost := func(d *Device) bool { return has(d, dUnreachable, dTimeout) }
	chain := func(d *Device) string {
		if d.JumpChain == "none" {
			return ""
		}
		return d.JumpChain
	}
	f.concentratedGroups(anyDevice, chain, lost, func(g *group) api.Incident {
		return api.Incident{Kind: api.IncidentPath, Scope: "jump=" + g.key, Confidence: api.ConfidenceHigh,
			Evidence: map[string]any{"jump_chain": g.key, "devices_behind_it": g.all, "diagnoses": countCodes(g.matched, dUnreachable, dTimeout)},
			Summary:  fmt.Sprintf("%d of %d devices behind jump chain %s cannot be reached", len(g.matched), g.all, g.key),
			Fix:      fmt.Sprintf("check the jump hosts of chain %s (jump_chains.%s): reachable, accepting fleetd's key, forwarding", g.key, g.key)}
	})
	f.concentratedGroups(anyDevice, func(d *Device) string { return d.Site }, lost, func(g *group) api.Incident {
		return api.Incident{Kind: api.IncidentPath, Site: g.key, Scope: "site=" + g.key, Confidence: api.ConfidenceMedium,
			Evidence: map[string]any{"devices_of_site": g.all, "diagnoses": countCodes(g.matched, dUnreachable, dTimeout)},
			Summary:  fmt.Sprintf("%d of %d devices of %s cannot be reached", len(g.matched), g.all, g.key),
			Fix:      fmt.Sprintf("check the management network path from fleetd to %s (VPN, routing, ACLs): the devices themselves are not the cause", g.key)}
	})
}

func countCodes(devs []*Device, codes ...string) map[string]int {
	out := map[string]int{}
	for _, d := range devs {
		for _, c := range codes {
			if has(d, c) {
				out[c]++
			}
		}
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none named"
	}
	return strings.Join(s, ", ")
}
