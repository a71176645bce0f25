package sim

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Fault is a named way a simulated device misbehaves. The connector faults
// (egress-blocked ... region-mismatch) are the diagnosis codes of
// docs/firepower.md §1; the others act on the SSH transport.
type Fault string

// The fault profiles. FaultHealthy is not a fault but a profile: setting it
// clears every fault.
const (
	FaultHealthy                  Fault = "healthy"
	FaultEgressBlocked            Fault = "egress-blocked"
	FaultEventHandlerDisconnected Fault = "eventhandler-disconnected"
	FaultConnectorStopped         Fault = "connector-stopped"
	FaultNotEnrolled              Fault = "not-enrolled"
	FaultRegionMismatch           Fault = "region-mismatch"
	FaultAuthFailure              Fault = "auth-failure"
	FaultHostKeyChanged           Fault = "hostkey-changed"
	FaultHang                     Fault = "hang"
	FaultSlow                     Fault = "slow"
	FaultDrop                     Fault = "drop"
	FaultFlapping                 Fault = "flapping"
	// FaultEventHandlerStuck shows exactly what eventhandler-disconnected
	// shows, but a connector restart (disable+enable, restartbyid) does not
	// cure it; a reboot does: the tech note's "if still broken, reboot".
	FaultEventHandlerStuck Fault = "eventhandler-stuck"

	// Hostile SSH servers (issue 10 §3): each blocks one step of a session
	// forever while the connection stays healthy (keepalives are answered),
	// so only the client's session deadline can end it. Reboot does not cure
	// them; clearing the fault does.

	// FaultStallChannel never answers the session channel open.
	FaultStallChannel Fault = "stall-channel"
	// FaultStallPTY never replies to pty-req.
	FaultStallPTY Fault = "stall-pty"
	// FaultStallShell never replies to the shell (or exec) request.
	FaultStallShell Fault = "stall-shell"
	// FaultFlood prints its prompt, then answers any command (typed or exec)
	// with output that never ends.
	FaultFlood Fault = "flood"
	// FaultNoPrompt opens the shell and prints the banner, but never a
	// prompt; what is typed is swallowed.
	FaultNoPrompt Fault = "no-prompt"

	// FMC REST API faults (issue 12; fmcapi.go). The first four are FMC
	// settings: an FMC with cloud events off or a licence in evaluation or
	// unregistered makes the FTDs it manages not-enrolled, one with another
	// cloud region makes them region-mismatch, as on real fleets.

	// FaultCloudEventsOff: cloudeventsconfigs says sendIntrusionEvents false.
	FaultCloudEventsOff Fault = "cloud-events-off"
	// FaultLicenseEvaluation: smartlicenses says regStatus EVALUATION.
	FaultLicenseEvaluation Fault = "license-evaluation"
	// FaultLicenseUnregistered: smartlicenses says regStatus UNREGISTERED.
	FaultLicenseUnregistered Fault = "license-unregistered"
	// FaultCloudRegionOther: the current cloud region is not the site's.
	FaultCloudRegionOther Fault = "cloud-region-other"
	// FaultAPIRateLimit answers 429 past FleetConfig.APIRateLimit requests a minute.
	FaultAPIRateLimit Fault = "api-rate-limit"
	// FaultTokenExpiry gives tokens FleetConfig.APIShortTokenLife instead of 30 minutes.
	FaultTokenExpiry Fault = "token-expiry"
	// FaultAPISlow delays every REST answer by FleetConfig.APISlowLatency.
	FaultAPISlow Fault = "api-slow"
	// FaultAPIDown answers every REST request 503.
	FaultAPIDown Fault = "api-down"
)

// allFaults is in bit order: a device keeps its faults as a bit set so that
// 10,000 devices cost a few bytes each.
var allFaults = []Fault{
	FaultEgressBlocked, FaultEventHandlerDisconnected, FaultConnectorStopped, FaultNotEnrolled,
	FaultRegionMismatch, FaultAuthFailure, FaultHostKeyChanged, FaultHang, FaultSlow, FaultDrop, FaultFlapping,
	FaultEventHandlerStuck,
	FaultStallChannel, FaultStallPTY, FaultStallShell, FaultFlood, FaultNoPrompt,
	FaultCloudEventsOff, FaultLicenseEvaluation, FaultLicenseUnregistered, FaultCloudRegionOther,
	FaultAPIRateLimit, FaultTokenExpiry, FaultAPISlow, FaultAPIDown,
}

// AllFaults lists every fault (not "healthy"), in a stable order.
func AllFaults() []Fault { return append([]Fault(nil), allFaults...) }

// ParseFault accepts a fault name (case-insensitive) or "healthy".
func ParseFault(s string) (Fault, error) {
	f := Fault(strings.ToLower(strings.TrimSpace(s)))
	if f == FaultHealthy {
		return f, nil
	}
	for _, k := range allFaults {
		if f == k {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown fault %q (want one of healthy, %s)", s, joinFaults(allFaults))
}

func joinFaults(fs []Fault) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// faultSet is a bit set of faults, indexed by position in allFaults.
type faultSet uint32

func faultBit(f Fault) faultSet {
	for i, k := range allFaults {
		if k == f {
			return 1 << i
		}
	}
	return 0
}

func (s faultSet) has(f Fault) bool { return s&faultBit(f) != 0 }

func (s faultSet) list() []Fault {
	var out []Fault
	for i, k := range allFaults {
		if s&(1<<i) != 0 {
			out = append(out, k)
		}
	}
	return out
}

// mixEntry is one "name=N%" item of a --faults or --kinds mix.
type mixEntry struct {
	name    string
	percent float64
}

// parseMix parses "a=10%,b=5%" (the % sign is optional). The percentages
// must not add up to more than 100.
func parseMix(s string) ([]mixEntry, error) {
	var out []mixEntry
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, pct, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix item %q: want name=percent", part)
		}
		p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(pct), "%"), 64)
		if err != nil || p < 0 || math.IsNaN(p) || p > 100 {
			return nil, fmt.Errorf("mix item %q: bad percentage", part)
		}
		total += p
		out = append(out, mixEntry{name: strings.TrimSpace(name), percent: p})
	}
	if total > 100.0001 {
		return nil, fmt.Errorf("mix %q adds up to %.1f%%, more than 100%%", s, total)
	}
	return out, nil
}

// assignMix gives exactly round(p% of n) devices each name, the rest get
// dflt, and spreads them over the fleet with a permutation drawn from perm,
// so a mix is reproducible from the seed and the counts are exact.
func assignMix(entries []mixEntry, n int, dflt string, perm []int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = dflt
	}
	// Largest names first is irrelevant to the result but keeps the
	// rounding stable if entries are given in another order.
	sorted := append([]mixEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	pos := 0
	for _, e := range sorted {
		k := int(math.Round(e.percent * float64(n) / 100))
		for j := 0; j < k && pos < n; j++ {
			out[perm[pos]] = e.name
			pos++
		}
	}
	return out
}
