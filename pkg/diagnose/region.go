package diagnose

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Endpoints are one SSE region's hosts (docs/firepower.md §2). Every host is validated as a hostname
// before it is put into a device command.
type Endpoints struct {
	API      string `json:"api" yaml:"api" mapstructure:"api"`
	EST      string `json:"est" yaml:"est" mapstructure:"est"`
	MX       string `json:"mx" yaml:"mx" mapstructure:"mx"`
	DEX      string `json:"dex,omitempty" yaml:"dex,omitempty" mapstructure:"dex"`
	Eventing string `json:"eventing" yaml:"eventing" mapstructure:"eventing"`
}

// Validate reports the first missing or malformed host. DEX is optional: no check contacts it.
func (e Endpoints) Validate() error {
	for _, f := range []struct{ name, host string }{
		{"api", e.API}, {"est", e.EST}, {"mx", e.MX}, {"eventing", e.Eventing},
	} {
		if f.host == "" {
			return fmt.Errorf("%s host is empty", f.name)
		}
		if !ValidHostname(f.host) {
			return fmt.Errorf("%s host %q is not a valid hostname", f.name, f.host)
		}
	}
	if e.DEX != "" && !ValidHostname(e.DEX) {
		return fmt.Errorf("dex host %q is not a valid hostname", e.DEX)
	}
	return nil
}

// APIRegistrationPath is appended to the API host in the connectivity test: the registration
// endpoint answers 403 to a bare curl, which proves the path works.
const APIRegistrationPath = "/providers/sse/services/registration/api/v2/clients"

// ConnectivityTarget is one URL that sse.connectivity curls.
type ConnectivityTarget struct {
	Name string `json:"name"` // api, est, eventing, mx
	Host string `json:"host"`
	Path string `json:"path,omitempty"`
}

// URL is the https URL curled.
func (t ConnectivityTarget) URL() string { return "https://" + t.Host + t.Path }

// ConnectivityTargets lists what sse.connectivity curls, in order (the seed's order: the API
// first, because a device that cannot reach it can do nothing else).
func (e Endpoints) ConnectivityTargets() []ConnectivityTarget {
	return []ConnectivityTarget{
		{Name: "api", Host: e.API, Path: APIRegistrationPath},
		{Name: "est", Host: e.EST},
		{Name: "eventing", Host: e.Eventing},
		{Name: "mx", Host: e.MX},
	}
}

// RegionTable maps an SSE region name (us, eu, apj, ...) to its endpoints. It belongs in
// configuration because Cisco adds regions; DefaultRegions is the table of docs/firepower.md §2.
type RegionTable map[string]Endpoints

// DefaultRegions returns a fresh copy of the regions known when this was written.
func DefaultRegions() RegionTable {
	return RegionTable{
		"us": {
			API: "api-sse.cisco.com", EST: "est.sco.cisco.com", MX: "mx01.sse.itd.cisco.com",
			DEX: "dex.sse.itd.cisco.com", Eventing: "eventing-ingest.sse.itd.cisco.com",
		},
		"eu": {
			API: "api.eu.sse.itd.cisco.com", EST: "est.sco.cisco.com", MX: "mx01.eu.sse.itd.cisco.com",
			DEX: "dex.eu.sse.itd.cisco.com", Eventing: "eventing-ingest.eu.sse.itd.cisco.com",
		},
		"apj": {
			API: "api.apj.sse.itd.cisco.com", EST: "est.sco.cisco.com", MX: "mx01.apj.sse.itd.cisco.com",
			DEX: "dex.apj.sse.itd.cisco.com", Eventing: "eventing-ingest.apj.sse.itd.cisco.com",
		},
	}
}

var regionNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Validate checks every region name and host, and that no two regions share an API host (which
// would make region-mismatch undecidable). The EST host is shared by design.
func (t RegionTable) Validate() error {
	if len(t) == 0 {
		return errors.New("region table is empty")
	}
	apiOwner := make(map[string]string, len(t))
	for _, name := range t.Names() {
		if !regionNameRE.MatchString(name) {
			return fmt.Errorf("region %q: name must be lower-case letters, digits and '-'", name)
		}
		e := t[name]
		if err := e.Validate(); err != nil {
			return fmt.Errorf("region %q: %w", name, err)
		}
		api := strings.ToLower(e.API)
		if other, dup := apiOwner[api]; dup {
			return fmt.Errorf("regions %q and %q share the API host %q", other, name, e.API)
		}
		apiOwner[api] = name
	}
	return nil
}

// Names lists the regions sorted.
func (t RegionTable) Names() []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RegionOfAPIHost says which region's API host host is (case-insensitive).
func (t RegionTable) RegionOfAPIHost(host string) (string, bool) {
	for _, name := range t.Names() {
		if strings.EqualFold(t[name].API, host) {
			return name, true
		}
	}
	return "", false
}

// ValidHostname reports whether h is a DNS hostname (RFC 1123 labels, no trailing dot). Only
// such strings are ever pasted into a device command.
func ValidHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
