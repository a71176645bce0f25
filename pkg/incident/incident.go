package incident

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/diagnose"
)

// Device is one device's result with the inventory facts the rules group by.
type Device struct {
	Name      string
	Kind      string // fmc | ftd
	Site      string
	ManagedBy string // the FMC's device name, for an FTD
	// Credential is the credential reference (never a secret).
	Credential string
	// JumpChain is the jump=NAME tag ("" or "none": direct).
	JumpChain string
	// Version is the software version ("" when unknown).
	Version   string
	Health    string // healthy | unhealthy | error
	Diagnoses []string
	// Checks are the device's check results (only needed for devices that
	// are not healthy: the evidence of site-egress and fmc-rooted).
	Checks []Check
}

// Check is one check result as recorded.
type Check struct {
	ID       string         `json:"id"`
	Verdict  string         `json:"verdict"`
	Summary  string         `json:"summary"`
	Evidence map[string]any `json:"evidence"`
}

// ParseChecks decodes a recorded checks column; undecodable input gives none.
func ParseChecks(raw []byte) []Check {
	var cs []Check
	if len(raw) == 0 || json.Unmarshal(raw, &cs) != nil {
		return nil
	}
	return cs
}

// Config holds the thresholds. A group becomes an incident when at least
// MinDevices of its devices share the diagnosis and they are at least
// MinShare of the group's checked devices: a site where 2 of 300 FTDs are
// egress-blocked has two device problems, not an incident.
type Config struct {
	MinDevices int
	MinShare   float64
}

// Defaults: incidents.min_devices and incidents.min_share in fleetd's
// config file (internal/app holds the two together).
const (
	DefaultMinDevices = 3
	DefaultMinShare   = 0.5
)

// DefaultConfig returns the default thresholds.
func DefaultConfig() Config {
	return Config{MinDevices: DefaultMinDevices, MinShare: DefaultMinShare}
}

// Validate reports a threshold out of range.
func (c Config) Validate() error {
	if c.MinDevices < 2 {
		return fmt.Errorf("min_devices %d: want at least 2 (one device is a device problem)", c.MinDevices)
	}
	if c.MinShare <= 0 || c.MinShare > 1 {
		return fmt.Errorf("min_share %g: want a share in (0, 1]", c.MinShare)
	}
	return nil
}

// Result is what Find found.
type Result struct {
	Incidents []api.Incident
	// ByDevice maps each explained device to its incident's index.
	ByDevice map[string]int
	// NotHealthy counts the unhealthy and error devices; Explained those an
	// incident names.
	NotHealthy, Explained int
	// notHealthy is the unhealthy and error devices with their sites.
	notHealthy map[string]string
}

// ForSite narrows r to the incidents that name a device of site, and the
// counts to that site's devices. An incident of another site's FMC that
// explains this site's FTDs is kept.
func (r Result) ForSite(site string) Result {
	out := Result{ByDevice: map[string]int{}, notHealthy: map[string]string{}}
	for name, s := range r.notHealthy {
		if s == site {
			out.notHealthy[name] = s
			out.NotHealthy++
		}
	}
	for _, in := range r.Incidents {
		mine := in.Site == site
		for _, d := range in.Devices {
			if _, ok := out.notHealthy[d]; ok {
				mine = true
				out.Explained++
			}
		}
		if mine {
			for _, d := range in.Devices {
				out.ByDevice[d] = len(out.Incidents)
			}
			out.Incidents = append(out.Incidents, in)
		}
	}
	return out
}

const (
	dNotEnrolled    = string(diagnose.DiagNotEnrolled)
	dRegionMismatch = string(diagnose.DiagRegionMismatch)
	dCloudOff       = string(diagnose.DiagCloudServicesOff)
	dEgress         = string(diagnose.DiagEgressBlocked)
	dEventHandler   = string(diagnose.DiagEventHandlerDisconnected)
	dAuth           = string(diagnose.DiagAuthFailed)
	dUnreachable    = string(diagnose.DiagUnreachable)
	dTimeout        = string(diagnose.DiagTimeout)
)

// Find groups devs into incidents. Rules run root cause first (an FMC
// explains its FTDs before a site does); a device belongs to at most one
// incident, and devices no rule explains stay as they are. The result is
// sorted by size, largest first, then by ID: the same input gives the same
// output.
func Find(devs []Device, cfg Config) Result {
	if cfg.MinDevices == 0 && cfg.MinShare == 0 {
		cfg = DefaultConfig()
	}
	f := &finder{cfg: cfg, devs: devs, taken: map[string]bool{}, byName: map[string]*Device{}}
	for i := range devs {
		f.byName[devs[i].Name] = &devs[i]
	}
	f.fmcRooted()
	f.siteEgress()
	f.upgrade()
	f.credential()
	f.path()

	slices.SortFunc(f.out, func(a, b api.Incident) int {
		return cmp.Or(cmp.Compare(len(b.Devices), len(a.Devices)), strings.Compare(a.ID, b.ID))
	})
	res := Result{Incidents: f.out, ByDevice: map[string]int{}, notHealthy: map[string]string{}}
	for i, in := range f.out {
		for _, d := range in.Devices {
			res.ByDevice[d] = i
		}
	}
	for _, d := range devs {
		if d.Health == string(diagnose.HealthUnhealthy) || d.Health == string(diagnose.HealthError) {
			res.NotHealthy++
			res.notHealthy[d.Name] = d.Site
			if _, ok := res.ByDevice[d.Name]; ok {
				res.Explained++
			}
		}
	}
	return res
}

// Changes compares two runs' incidents by ID: those only in cur are new,
// those only in prev are resolved (nil when none).
func Changes(prev, cur []api.Incident) (added, resolved []api.Incident) {
	ids := func(l []api.Incident) map[string]bool {
		m := map[string]bool{}
		for _, in := range l {
			m[in.ID] = true
		}
		return m
	}
	before, now := ids(prev), ids(cur)
	for _, in := range cur {
		if !before[in.ID] {
			added = append(added, in)
		}
	}
	for _, in := range prev {
		if !now[in.ID] {
			resolved = append(resolved, in)
		}
	}
	return added, resolved
}

type finder struct {
	cfg    Config
	devs   []Device
	byName map[string]*Device
	taken  map[string]bool
	out    []api.Incident
}

func has(d *Device, codes ...string) bool {
	for _, c := range codes {
		if slices.Contains(d.Diagnoses, c) {
			return true
		}
	}
	return false
}

// group is the devices of one key (site, FMC, version...): all of them, and
// those with the rule's diagnosis not yet explained by an earlier rule.
type group struct {
	key     string
	all     int
	matched []*Device
}

// groups buckets the devices that pass in by key (empty keys skipped) and
// marks which of them match.
func (f *finder) groups(in func(*Device) bool, key func(*Device) string, match func(*Device) bool) []*group {
	by := map[string]*group{}
	for i := range f.devs {
		d := &f.devs[i]
		if !in(d) {
			continue
		}
		k := key(d)
		if k == "" {
			continue
		}
		g := by[k]
		if g == nil {
			g = &group{key: k}
			by[k] = g
		}
		g.all++
		if !f.taken[d.Name] && match(d) {
			g.matched = append(g.matched, d)
		}
	}
	out := make([]*group, 0, len(by))
	for _, g := range by {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// concentrated is the threshold: enough devices, and enough of the group.
func (f *finder) concentrated(g *group) bool {
	n := len(g.matched)
	return n >= f.cfg.MinDevices && float64(n) >= f.cfg.MinShare*float64(g.all)
}

func (f *finder) add(in api.Incident, devs []*Device) {
	names := make([]string, 0, len(devs))
	sites := map[string]bool{}
	for _, d := range devs {
		names = append(names, d.Name)
		sites[d.Site] = true
		f.taken[d.Name] = true
	}
	sort.Strings(names)
	in.Devices = names
	if in.Site == "" && len(sites) == 1 {
		for s := range sites {
			in.Site = s
		}
	}
	in.ID = in.Kind + "/" + in.Scope
	if in.Evidence == nil {
		in.Evidence = map[string]any{}
	}
	f.out = append(f.out, in)
}

func isFTD(d *Device) bool   { return d.Kind != "fmc" }
func anyDevice(*Device) bool { return true }

func checkedFTD(d *Device) bool {
	return isFTD(d) && d.Health != string(diagnose.HealthError)
}

// EvidenceChecks says which checks the rules read, so that a loader can
// pass only those: the SSE endpoints and connector.log of egress-blocked
// devices (site-egress) and an FMC's REST checks (fmc-rooted). Every other
// rule groups by diagnosis and inventory facts alone. Parsing every
// unhealthy device's full check documents cost a 10,000-device fleet
// ~100 ms; these few cost a tenth of that.
var EvidenceChecks = struct {
	// Of devices with this diagnosis, the checks with these IDs.
	Diagnosis string
	IDs       []string
	// Of devices of this kind, the checks with this ID prefix.
	Kind, Prefix string
}{Diagnosis: dEgress, IDs: []string{diagnose.CheckSSEConnectivity, diagnose.CheckConnectorLog}, Kind: "fmc", Prefix: "fmc."}

func (f *finder) check(d *Device, id string) (Check, bool) {
	for _, c := range d.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}
