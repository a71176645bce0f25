package fmc

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The REST paths fleetd reads (docs/firepower.md §5).
const (
	PathGenerateToken = "/api/fmc_platform/v1/auth/generatetoken"
	PathRefreshToken  = "/api/fmc_platform/v1/auth/refreshtoken"
	PathSmartLicenses = "/api/fmc_platform/v1/license/smartlicenses"
	// Under /api/fmc_config/v1/domain/{domainUUID}:
	PathCloudEvents   = "/integration/cloudeventsconfigs"
	PathCloudRegions  = "/integration/cloudregions"
	PathDeviceRecords = "/devices/devicerecords"
)

// DomainPath is the path of a domain-scoped endpoint.
func DomainPath(domainUUID, suffix string) string {
	return "/api/fmc_config/v1/domain/" + domainUUID + suffix
}

// The headers of the token exchange.
const (
	HeaderAccessToken  = "X-auth-access-token"
	HeaderRefreshToken = "X-auth-refresh-token"
	HeaderDomainUUID   = "DOMAIN_UUID"
	HeaderDomains      = "DOMAINS"
)

// Domain is one entry of the DOMAINS header.
type Domain struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// ParseDomains parses the DOMAINS header: a JSON list of {name, uuid}.
func ParseDomains(header string) ([]Domain, error) {
	if strings.TrimSpace(header) == "" {
		return nil, nil
	}
	var ds []Domain
	if err := json.Unmarshal([]byte(header), &ds); err != nil {
		return nil, fmt.Errorf("fmc: DOMAINS header: %w", err)
	}
	return ds, nil
}

// PickDomain chooses the domain UUID: the one named (case-insensitively,
// also matching the last part of a "Global/Leaf" name), else DOMAIN_UUID.
func PickDomain(name, domainUUID string, domains []Domain) (string, error) {
	if name == "" {
		if domainUUID == "" {
			return "", fmt.Errorf("fmc: login answer has no %s header", HeaderDomainUUID)
		}
		return domainUUID, nil
	}
	var known []string
	for _, d := range domains {
		known = append(known, d.Name)
		leaf := d.Name[strings.LastIndex(d.Name, "/")+1:]
		if strings.EqualFold(d.Name, name) || strings.EqualFold(leaf, name) {
			if d.UUID == "" {
				return "", fmt.Errorf("fmc: domain %q has no uuid", d.Name)
			}
			return d.UUID, nil
		}
	}
	return "", fmt.Errorf("fmc: no domain %q on the FMC (known: %s)", name, strings.Join(known, ", "))
}

// Paging is the paging object of a list answer.
type Paging struct {
	Offset int      `json:"offset"`
	Limit  int      `json:"limit"`
	Count  int      `json:"count"`
	Pages  int      `json:"pages"`
	Next   []string `json:"next,omitempty"`
}

// page is one list answer.
type page struct {
	Items  []json.RawMessage `json:"items"`
	Paging Paging            `json:"paging"`
}

// CloudEventsConfig is cloudeventsconfigs' one object. Cloud events are off
// when SendIntrusionEvents is false: those are what SSE carries to CTR/XDR.
type CloudEventsConfig struct {
	ID                      string `json:"id"`
	Type                    string `json:"type"`
	SendIntrusionEvents     bool   `json:"sendIntrusionEvents"`
	SendFileEvents          bool   `json:"sendFileEvents"`
	SendConnectionEvents    bool   `json:"sendConnectionEvents"`
	SendAllConnectionEvents bool   `json:"sendAllConnectionEvents"`
}

// CloudRegion is one entry of cloudregions.
type CloudRegion struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Name    string `json:"name"` // e.g. "EUROPE (api.eu.sse.itd.cisco.com)"
	Current bool   `json:"current"`
}

// APIHost is the host name in the region's name's parentheses
// ("EUROPE (api.eu.sse.itd.cisco.com)" → "api.eu.sse.itd.cisco.com"), or "".
func (r CloudRegion) APIHost() string {
	open, closing := strings.LastIndexByte(r.Name, '('), strings.LastIndexByte(r.Name, ')')
	if open < 0 || closing < open {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(r.Name[open+1 : closing]))
}

// Smart licence registration states.
const (
	RegRegistered   = "REGISTERED"
	RegEvaluation   = "EVALUATION"
	RegUnregistered = "UNREGISTERED"
)

// SmartLicense is smartlicenses' one object.
type SmartLicense struct {
	Type      string               `json:"type"`
	RegStatus string               `json:"regStatus"`
	Metadata  SmartLicenseMetadata `json:"metadata"`
}

// SmartLicenseMetadata is what the licence answer adds.
type SmartLicenseMetadata struct {
	AuthStatus        string `json:"authStatus"`
	EvalUsed          bool   `json:"evalUsed"`
	EvalExpiresInDays int    `json:"evalExpiresInDays"`
	VirtualAccount    string `json:"virtualAccount"`
}

// DeviceRecord is one FTD the FMC manages (devicerecords?expanded=true).
type DeviceRecord struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Name         string         `json:"name"`
	HostName     string         `json:"hostName"`
	Model        string         `json:"model"`
	SWVersion    string         `json:"sw_version"`
	HealthStatus string         `json:"healthStatus"`
	FTDMode      string         `json:"ftdMode"`
	IsConnected  bool           `json:"isConnected"`
	Metadata     DeviceMetadata `json:"metadata"`
}

// DeviceMetadata is the part of a device record's metadata fleetd reads.
type DeviceMetadata struct {
	DeviceSerialNumber string `json:"deviceSerialNumber"`
}

// decodeItems decodes each raw item into a T.
func decodeItems[T any](raw []json.RawMessage) ([]T, error) {
	out := make([]T, 0, len(raw))
	for i, r := range raw {
		var v T
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}
