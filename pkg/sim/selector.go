package sim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A fault selector plants one fault on every generated device of a group,
// so that a fleet has the fleet-level incidents fleetd must find: the
// `--faults` items `egress-blocked@site=emea`, `not-enrolled@fmc=fmc-emea-00001`,
// `eventhandler-disconnected@version=6.4.0` (all matching devices) or
// `...@site=emea=30%` (that share of them, chosen by the seed). A selected
// fault replaces the device's fault from the random mix: one fault per
// device, and the planted group is exactly the matching devices.
type faultSelector struct {
	fault   Fault
	key     string // site | fmc | version
	value   string
	percent float64
}

var selectorKeys = []string{"site", "fmc", "version"}

// splitFaults separates a --faults value into the random mix ("f=10%")
// and the selectors ("f@key=value[=N%]").
func splitFaults(s string) (mix string, sels []faultSelector, err error) {
	var rest []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, sel, ok := strings.Cut(part, "@")
		if !ok {
			if part != "" {
				rest = append(rest, part)
			}
			continue
		}
		f, err := ParseFault(name)
		if err != nil || f == FaultHealthy {
			return "", nil, fmt.Errorf("selector %q: %v", part, orMsg(err, "healthy is not a fault"))
		}
		key, val, ok := strings.Cut(sel, "=")
		if !ok || !slices.Contains(selectorKeys, key) {
			return "", nil, fmt.Errorf("selector %q: want FAULT@KEY=VALUE[=N%%] with KEY one of %s", part, strings.Join(selectorKeys, ", "))
		}
		fs := faultSelector{fault: f, key: key, value: val, percent: 100}
		if v, pct, ok := strings.Cut(val, "="); ok {
			p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(pct), "%"), 64)
			if err != nil || p < 0 || p > 100 || math.IsNaN(p) {
				return "", nil, fmt.Errorf("selector %q: bad percentage", part)
			}
			fs.value, fs.percent = v, p
		}
		if fs.value == "" {
			return "", nil, fmt.Errorf("selector %q: empty %s", part, key)
		}
		if key == "version" && !anyRelease(fs.value) {
			return "", nil, fmt.Errorf("selector %q: no simulated release is %s or %s.x", part, fs.value, fs.value)
		}
		sels = append(sels, fs)
	}
	return strings.Join(rest, ","), sels, nil
}

func orMsg(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}

// versionMatches: "6.4.0" selects 6.4.0 and 6.4.0.9, not 6.4.01.
func versionMatches(v, want string) bool {
	return v == want || strings.HasPrefix(v, want+".")
}

func anyRelease(want string) bool {
	for _, r := range releases {
		if versionMatches(r.version, want) {
			return true
		}
	}
	return false
}

// matches says whether the device of spec (with its managing FMC) is selected.
func (s faultSelector) matches(seed int64, spec DeviceSpec, managedBy string) bool {
	var ok bool
	switch s.key {
	case "site":
		ok = spec.Site == s.value
	case "fmc":
		ok = managedBy == s.value
	case "version":
		ok = versionMatches(spec.Version, s.value)
	}
	if !ok || s.percent >= 100 {
		return ok
	}
	r := devRand(seed, spec.Name, "select:"+string(s.fault)+"@"+s.key+"="+s.value)
	return float64(r%10000) < s.percent*100
}

// managerNames gives every FTD its FMC's name: its spec's ManagedBy, else an
// FMC of its site, round-robin in fleet order (the inventory's managed_by),
// "" when its site has none. It is decided from the specs, before any device
// exists, so that the fault selectors (@fmc=NAME) can see it; the devices
// are then linked by Fleet.assignManagers.
func managerNames(specs []DeviceSpec) []string {
	fmcs := map[string][]string{}
	for _, s := range specs {
		if s.Kind.InventoryKind() == "fmc" {
			fmcs[s.Site] = append(fmcs[s.Site], s.Name)
		}
	}
	out := make([]string, len(specs))
	perSite := map[string]int{}
	for i, s := range specs {
		if s.Kind.InventoryKind() == "ftd" {
			if s.ManagedBy != "" {
				out[i] = s.ManagedBy
			} else if m := fmcs[s.Site]; len(m) > 0 {
				out[i] = m[perSite[s.Site]%len(m)]
				perSite[s.Site]++
			}
		}
	}
	return out
}
