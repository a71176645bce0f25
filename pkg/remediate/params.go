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
type canonicalParams struct {
	Version          int               `json:"v"`
	RequestID        uuid.UUID         `json:"request_id"`
	Action           Action            `json:"action"`
	RequestedBy      string            `json:"requested_by"`
	Reason           string            `json:"reason"`
	Selector         Selector          `json:"selector"`
	Devices          []canonicalDevice `json:"devices"`
	Schedule         Schedule          `json:"schedule"`
	At               string            `json:"at"`
	BatchSize        int               `json:"batch_size"`
	FailureThreshold int               `json:"failure_threshold"`
}

type canonicalDevice struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
	Site string    `json:"site"`
}

const paramsVersion = 1

// paramsHash returns the SHA-256 (hex) of the request's canonical
// parameters; devs must be in execution order (position).
func paramsHash(id uuid.UUID, action Action, requestedBy, reason string, sel Selector, devs []Device,
	sched Schedule, at *time.Time, batchSize, threshold int) string {
	p := canonicalParams{
		Version: paramsVersion, RequestID: id, Action: action, RequestedBy: requestedBy, Reason: reason,
		Selector: sel, Schedule: sched, BatchSize: batchSize, FailureThreshold: threshold,
		Devices: make([]canonicalDevice, len(devs)),
	}
	if p.Selector.Devices == nil {
		p.Selector.Devices = []string{}
	}
	for i, d := range devs {
		p.Devices[i] = canonicalDevice{ID: d.ID, Name: d.Name, Site: d.Site}
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
