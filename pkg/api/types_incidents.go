package api

// Incident is one fleet-level root cause: many devices that are unhealthy or
// unreachable for one shared reason (docs/design.md, "A run object also
// carries incidents"). pkg/incident finds them; a run and `GET
// /v1/incidents` carry them.
type Incident struct {
	// ID is stable across runs for the same cause ("site-egress/site=emea"),
	// so that two sweeps' incidents can be compared (new, resolved).
	ID   string `json:"id"`
	Kind string `json:"kind"` // site-egress | fmc-rooted | upgrade | credential | path
	// Site is the devices' site when they share one ("" otherwise).
	Site string `json:"site,omitempty"`
	// Scope is what the devices share: "site=emea", "fmc=fmc-emea-00001",
	// "version=6.4.0.9", "credential=lab", "jump=dmz".
	Scope   string `json:"scope"`
	Summary string `json:"summary"`
	// Devices are the devices the incident explains, by name.
	Devices    []string       `json:"devices"`
	Evidence   map[string]any `json:"evidence"`
	Fix        string         `json:"fix"`
	Confidence string         `json:"confidence"` // high | medium
}

// Incident kinds.
const (
	IncidentSiteEgress = "site-egress"
	IncidentFMCRooted  = "fmc-rooted"
	IncidentUpgrade    = "upgrade"
	IncidentCredential = "credential"
	IncidentPath       = "path"
)

// Incident confidences.
const (
	ConfidenceHigh   = "high"
	ConfidenceMedium = "medium"
)

// IncidentList is the answer of GET /v1/incidents: the incidents of the
// devices' latest results, and how many unhealthy or unreachable devices
// they explain.
type IncidentList struct {
	Incidents []Incident `json:"incidents"`
	// NotHealthy counts the devices (of the site asked for) whose latest
	// result is unhealthy or error; Explained those an incident names.
	NotHealthy int `json:"not_healthy"`
	Explained  int `json:"explained"`
}
