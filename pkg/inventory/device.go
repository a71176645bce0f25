package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Kind is what a device is.
type Kind string

// Device kinds.
const (
	KindFMC Kind = "fmc"
	KindFTD Kind = "ftd"
)

// ParseKind accepts "fmc" or "ftd" in any case.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case KindFMC, KindFTD:
		return k, nil
	}
	return "", fmt.Errorf("unknown kind %q (want fmc or ftd)", s)
}

// Device is one FMC or FTD in the inventory.
type Device struct {
	ID         string            `json:"id,omitempty" yaml:"id,omitempty"`
	Name       string            `json:"name" yaml:"name"`
	Kind       Kind              `json:"kind" yaml:"kind"`
	Site       string            `json:"site" yaml:"site"`
	Address    string            `json:"address" yaml:"address"` // host or host:port
	Credential string            `json:"credential" yaml:"credential"`
	Tags       map[string]string `json:"tags" yaml:"tags"`
	ManagedBy  string            `json:"managed_by" yaml:"managed_by"` // e.g. the FMC managing an FTD
	// APIAddress is an FMC's REST API (host or host:port) when it is not
	// the device's address on port 443.
	APIAddress string `json:"api_address,omitempty" yaml:"api_address,omitempty"`
	// Model and SWVersion are what the managing FMC's devicerecords said at
	// the last sync; SyncedFrom is that FMC ("" = added or imported by hand).
	Model      string    `json:"model,omitempty" yaml:"model,omitempty"`
	SWVersion  string    `json:"sw_version,omitempty" yaml:"sw_version,omitempty"`
	SyncedFrom string    `json:"synced_from,omitempty" yaml:"synced_from,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero" yaml:"created_at,omitempty"`
	UpdatedAt  time.Time `json:"updated_at,omitzero" yaml:"updated_at,omitempty"`
}

// DefaultSSHPort is used when an address has no port.
const DefaultSSHPort = "22"

// SSHAddr returns host:port for dialling, with port 22 when Address has none.
func (d Device) SSHAddr() string {
	a := d.Address
	if strings.HasPrefix(a, "[") || strings.Count(a, ":") == 1 {
		if _, _, err := net.SplitHostPort(a); err == nil {
			return a
		}
	}
	return net.JoinHostPort(strings.Trim(a, "[]"), DefaultSSHPort)
}

var (
	// Names and tags reach CLI arguments, logs and device-side context: a safe
	// set, and no leading '-' that a command line would take for a flag.
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	tagValueRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,63}$`)
)

// CheckName validates a device name: 1-63 of [A-Za-z0-9._-], not starting with '.', '_' or '-'.
func CheckName(s string) error {
	if s == "" {
		return errors.New("required")
	}
	if !nameRE.MatchString(s) {
		return fmt.Errorf("bad name %q (1-63 letters, digits, '.', '_', '-'; starting with a letter or digit)", s)
	}
	return nil
}

// ParseTags parses "k=v;k=v" (empty string = no tags). Keys follow the name
// rule; values are 1-63 of [A-Za-z0-9._-].
func ParseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	s = strings.TrimSpace(s)
	if s == "" {
		return tags, nil
	}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue // tolerate "a=b;" and "a=b;;c=d"
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if err := checkTag(k, v); err != nil {
			return nil, err
		}
		if _, dup := tags[k]; dup {
			return nil, fmt.Errorf("tag %q given twice", k)
		}
		tags[k] = v
	}
	return tags, nil
}

func checkTag(k, v string) error {
	if !nameRE.MatchString(k) {
		return fmt.Errorf("bad tag key %q (letters, digits, '.', '_', '-')", k)
	}
	if !tagValueRE.MatchString(v) {
		return fmt.Errorf("bad value %q for tag %q (1-63 letters, digits, '.', '_', '-')", v, k)
	}
	return nil
}

// FormatTags renders tags as "k=v;k=v", sorted by key (stable for diffs and CSV).
func FormatTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k + "=" + tags[k])
	}
	return b.String()
}

// ValidateDevice checks one device against the rules of an inventory row;
// problems come back as a *ValidationError (Line 0).
func ValidateDevice(d Device, cat Catalog) error {
	if p := validateDevice(d, cat.index(), 0); len(p) > 0 {
		return newValidationError("", p)
	}
	return nil
}

func validateDevice(d Device, cat catIndex, line int) []Problem {
	var p []Problem
	add := func(field string, err error) {
		if err != nil {
			p = append(p, Problem{Line: line, Field: field, Message: err.Error()})
		}
	}
	add("name", CheckName(d.Name))
	if d.Kind != KindFMC && d.Kind != KindFTD {
		add("kind", fmt.Errorf("unknown kind %q (want fmc or ftd)", d.Kind))
	}
	switch {
	case d.Site == "":
		add("site", errors.New("required"))
	case !cat.sites[d.Site]:
		add("site", fmt.Errorf("unknown site %q (known: %s)", d.Site, cat.siteList))
	}
	if err := CheckAddress(d.Address); err != nil {
		add("address", err)
	} else if cat.sites[d.Site] {
		add("address", cat.checkNetworks(d.Site, d.Address))
	}
	switch {
	case d.Credential == "":
		add("credential", errors.New("required"))
	case !cat.creds[d.Credential]:
		add("credential", fmt.Errorf("unknown credential %q (known: %s)", d.Credential, cat.credsList))
	case cat.sites[d.Site]:
		add("credential", cat.checkCredentialSite(d.Credential, d.Site))
	}
	for _, k := range sortedTagKeys(d.Tags) {
		add("tags", checkTag(k, d.Tags[k]))
	}
	if j, ok := d.Tags["jump"]; ok && cat.jumps != nil && !cat.jumps[j] {
		add("tags", fmt.Errorf("jump=%s names no chain in jump_chains (known: %s)", j, cat.jumpsList))
	}
	if d.ManagedBy != "" {
		if err := CheckName(d.ManagedBy); err != nil {
			add("managed_by", err)
		}
	}
	if d.APIAddress != "" {
		if d.Kind != KindFMC {
			add("api_address", errors.New("only an FMC has a REST API address"))
		} else if err := CheckAddress(d.APIAddress); err != nil {
			add("api_address", err)
		} else if cat.sites[d.Site] {
			add("api_address", cat.checkNetworks(d.Site, d.APIAddress))
		}
	}
	add("model", checkLabel(d.Model))
	add("sw_version", checkLabel(d.SWVersion))
	return p
}

// labelRE is what a model or software version may hold: the words FMCs
// print ("Cisco Firepower Threat Defense for VMWare", "6.5.0.4 (build 57)").
var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._()/+-]{0,127}$`)

func checkLabel(s string) error {
	if s != "" && !labelRE.MatchString(s) {
		return fmt.Errorf("bad value %q (1-128 letters, digits, spaces and . _ ( ) / + -)", s)
	}
	return nil
}

func sortedTagKeys(tags map[string]string) []string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tagsJSON renders tags for a jsonb column; a map of strings always marshals.
func tagsJSON(tags map[string]string) string {
	if len(tags) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(tags)
	return string(b)
}
