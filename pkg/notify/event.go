package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event types. A webhook subscribes to some (config: events) or all.
const (
	EventSweepCompleted      = "sweep.completed"
	EventApprovalPending     = "approval.pending"
	EventRemediationFinished = "remediation.finished"
)

// EventTypes lists every event type, for config validation.
func EventTypes() []string {
	return []string{EventSweepCompleted, EventApprovalPending, EventRemediationFinished}
}

// Event is one notification. Title and Lines are for people (chat formats
// render them); Data is the event's machine-readable body (generic JSON
// carries it whole).
type Event struct {
	Type string `json:"event"`
	// ID identifies the event so a receiver can drop a duplicate delivery
	// (a retry after a timeout whose request did arrive).
	ID    string          `json:"id"`
	Time  time.Time       `json:"time"`
	Title string          `json:"title"`
	Lines []string        `json:"lines,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	// Link is the web console's page of what the event is about: set by
	// the Service, as Config.PublicURL + Path, when a public URL is
	// configured; chat formats show it as a last line.
	Link string `json:"link,omitempty"`
	// Path is Link's path on the console (/ui/requests/ID); it is not
	// sent.
	Path string `json:"-"`
}

// RequestPath and RunPath are the console's pages of a remediation request
// and of a run: the paths of internal/console's routes.
func RequestPath(id string) string { return "/ui/requests/" + id }

// RunPath is the console page of run id.
func RunPath(id string) string { return "/ui/runs/" + id }

// NewEvent builds an event; data is encoded as JSON.
func NewEvent(typ, id, title string, lines []string, data any) (Event, error) {
	ev := Event{Type: typ, ID: id, Time: time.Now().UTC(), Title: title, Lines: lines}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return Event{}, fmt.Errorf("encode %s event data: %w", typ, err)
		}
		ev.Data = b
	}
	return ev, nil
}

// ApprovalInfo describes a remediation request waiting for approval.
type ApprovalInfo struct {
	RequestID   string    `json:"request_id"`
	Action      string    `json:"action"`
	Devices     []string  `json:"devices"`
	RequestedBy string    `json:"requested_by"`
	Reason      string    `json:"reason,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// ApprovalPending is the event of a new pending remediation request.
func ApprovalPending(a ApprovalInfo) Event {
	lines := []string{
		fmt.Sprintf("%s on %s, requested by %s", a.Action, deviceList(a.Devices, 10), a.RequestedBy),
		fmt.Sprintf("approve with `fleetctl approve %s` before %s", a.RequestID, a.ExpiresAt.UTC().Format(time.RFC3339)),
	}
	if a.Reason != "" {
		lines = append(lines, "reason: "+a.Reason)
	}
	ev, _ := NewEvent(EventApprovalPending, "approval.pending/"+a.RequestID,
		fmt.Sprintf("Remediation %s waits for approval (%d device(s))", a.RequestID, len(a.Devices)), lines, a)
	ev.Path = RequestPath(a.RequestID)
	return ev
}

// RemediationInfo describes a remediation request that reached a final
// execution state (succeeded or failed).
type RemediationInfo struct {
	RequestID  string   `json:"request_id"`
	Action     string   `json:"action"`
	State      string   `json:"state"`
	Succeeded  int      `json:"succeeded"`
	Skipped    int      `json:"skipped"`
	Failed     int      `json:"failed"`
	NotRun     int      `json:"not_run"`
	FailedOn   []string `json:"failed_devices,omitempty"`
	ApprovedBy string   `json:"approved_by,omitempty"`
	Summary    string   `json:"summary,omitempty"`
}

// RemediationFinished is the event of a finished remediation request.
func RemediationFinished(r RemediationInfo) Event {
	lines := []string{fmt.Sprintf("%d succeeded, %d already healthy, %d failed, %d not run",
		r.Succeeded, r.Skipped, r.Failed, r.NotRun)}
	if len(r.FailedOn) > 0 {
		lines = append(lines, "failed: "+deviceList(r.FailedOn, 20))
	}
	if r.Summary != "" {
		lines = append(lines, r.Summary)
	}
	ev, _ := NewEvent(EventRemediationFinished, "remediation.finished/"+r.RequestID,
		fmt.Sprintf("Remediation %s (%s) %s", r.RequestID, r.Action, r.State), lines, r)
	ev.Path = RequestPath(r.RequestID)
	return ev
}

// deviceList names up to max devices, then says how many more.
func deviceList(devs []string, max int) string {
	if len(devs) == 0 {
		return "no devices"
	}
	quoted := make([]string, 0, min(len(devs), max))
	for i, d := range devs {
		if i == max {
			break
		}
		quoted = append(quoted, "`"+d+"`")
	}
	s := strings.Join(quoted, ", ")
	if len(devs) > max {
		s += fmt.Sprintf(" and %d more", len(devs)-max)
	}
	return s
}

// DeviceList is deviceList for other packages' event lines.
func DeviceList(devs []string, max int) string { return deviceList(devs, max) }
