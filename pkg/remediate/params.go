package remediate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// canonicalParams is everything an approval covers. Its JSON encoding (fixed
// field order, devices in execution order, times in UTC) is hashed; adding a
// field changes every hash, so bump Version when doing so and keep old
// versions computable for requests approved before the change.
//
// Versions:
//   - 1: devices are id, name and site. Requests stored before device
//     identities were frozen; their hash still verifies, but fleetd neither
//     approves nor runs them (ErrLegacyRequest): nothing says which box
//     was approved.
//   - 2: devices also carry kind, address, credential name and the pinned
//     host-key fingerprint: the approval is of one box, reached one way.
type canonicalParams struct {
	Version          int       `json:"v"`
	RequestID        uuid.UUID `json:"request_id"`
	Action           Action    `json:"action"`
	RequestedBy      string    `json:"requested_by"`
	Reason           string    `json:"reason"`
	Selector         Selector  `json:"selector"`
	Devices          any       `json:"devices"` // []canonicalDeviceV1 or []canonicalDevice
	Schedule         Schedule  `json:"schedule"`
	At               string    `json:"at"`
	BatchSize        int       `json:"batch_size"`
	FailureThreshold int       `json:"failure_threshold"`
}

type canonicalDeviceV1 struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
	Site string    `json:"site"`
}

type canonicalDevice struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	Site       string    `json:"site"`
	Kind       string    `json:"kind"`
	Address    string    `json:"address"`
	Credential string    `json:"credential"`
	HostKey    string    `json:"host_key"`
}

// Parameter versions (remediation_requests.params_version).
const (
	paramsVersionLegacy = 1
	paramsVersion       = 2 // what new requests use
)

// paramsHash returns the SHA-256 (hex) of the request's canonical
// parameters in the given version; devs must be in execution order
// (position).
func paramsHash(version int, id uuid.UUID, action Action, requestedBy, reason string, sel Selector, devs []Device,
	sched Schedule, at *time.Time, batchSize, threshold int) string {
	p := canonicalParams{
		Version: version, RequestID: id, Action: action, RequestedBy: requestedBy, Reason: reason,
		Selector: sel, Schedule: sched, BatchSize: batchSize, FailureThreshold: threshold,
	}
	if p.Selector.Devices == nil {
		p.Selector.Devices = []string{}
	}
	if version == paramsVersionLegacy {
		ds := make([]canonicalDeviceV1, len(devs))
		for i, d := range devs {
			ds[i] = canonicalDeviceV1{ID: d.ID, Name: d.Name, Site: d.Site}
		}
		p.Devices = ds
	} else {
		ds := make([]canonicalDevice, len(devs))
		for i, d := range devs {
			ds[i] = canonicalDevice{ID: d.ID, Name: d.Name, Site: d.Site, Kind: d.Kind, Address: d.Address,
				Credential: d.Credential, HostKey: d.HostKey}
		}
		p.Devices = ds
	}
	if at != nil {
		p.At = at.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(p)
	if err != nil {
		// Only plain strings, ints and uuids: cannot fail.
		panic("remediate: encode canonical params: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
