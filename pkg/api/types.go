package api

import "time"

// Wire types of the /v1 API. They are pkg/api's own, not the store's, so the
// JSON contract (docs/design.md) changes only when this file does. Field names are
// snake_case as in the inventory file columns.

// Identity is who a token belongs to (GET /v1/whoami).
type Identity struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Site is a configured site (GET /v1/sites).
type Site struct {
	Name              string            `json:"name"`
	Region            string            `json:"region"`
	Timezone          string            `json:"timezone"`
	HostKeyPolicy     string            `json:"hostkey_policy"`
	MaintenanceWindow MaintenanceWindow `json:"maintenance_window"`
	// AllowedNetworks are the prefixes the runner may dial for this site's
	// devices (sites.X.allowed_networks); empty means any address.
	AllowedNetworks []string `json:"allowed_networks"`
	// LegacySSH says whether the site's devices may use SHA-1 era algorithms.
	LegacySSH bool `json:"legacy_ssh"`
	Devices   int  `json:"devices"`
}

// MaintenanceWindow is when a site may be rebooted, in its time zone.
type MaintenanceWindow struct {
	Weekdays []string `json:"weekdays"`
	Start    string   `json:"start"`
	Duration string   `json:"duration"` // Go duration, e.g. "2h0m0s"; "" when no window
}

// Device is one FMC or FTD of the inventory.
type Device struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Site       string            `json:"site"`
	Address    string            `json:"address"`
	Credential string            `json:"credential"`
	Tags       map[string]string `json:"tags"`
	ManagedBy  string            `json:"managed_by"`
	// APIAddress is an FMC's REST API when not its address on port 443.
	APIAddress string `json:"api_address,omitempty"`
	// Model and SWVersion are what the managing FMC said at the last sync
	// from it (SyncedFrom; empty for devices added or imported by hand).
	Model      string    `json:"model,omitempty"`
	SWVersion  string    `json:"sw_version,omitempty"`
	SyncedFrom string    `json:"synced_from,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// NewDevice is the body of POST /v1/devices. Adding a name that exists is a
// conflict; use import to upsert.
type NewDevice struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Site       string            `json:"site"`
	Address    string            `json:"address"`
	Credential string            `json:"credential"`
	Tags       map[string]string `json:"tags,omitempty"`
	ManagedBy  string            `json:"managed_by,omitempty"`
	APIAddress string            `json:"api_address,omitempty"`
}

// DeviceFilter narrows GET /v1/devices (query: site, kind, tag=k=v repeated).
type DeviceFilter struct {
	Site string
	Kind string
	Tags map[string]string
}

// ImportRequest is the body of POST /v1/devices/import. The server parses the
// file itself so that every error names the line of the file the user wrote.
type ImportRequest struct {
	// Filename is used for the format (by extension) and in error messages.
	Filename string `json:"filename"`
	// Format is "csv" or "yaml"; empty means by extension, then by content.
	Format  string `json:"format,omitempty"`
	Content string `json:"content"`
	DryRun  bool   `json:"dry_run"`
}

// ImportResult is the plan an import applied (or, with dry_run, would apply).
type ImportResult struct {
	DryRun    bool           `json:"dry_run"`
	Added     []Device       `json:"added"`
	Changed   []DeviceChange `json:"changed"`
	Unchanged []string       `json:"unchanged"`
}

// DeviceChange is one device an import changes, field by field.
type DeviceChange struct {
	Device string        `json:"device"`
	Fields []FieldChange `json:"fields"`
}

// FieldChange is one field's old and new value, as the inventory file spells
// it (tags as k=v;k=v).
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// HostKey is a device's SSH host key, pinned or waiting for a decision.
type HostKey struct {
	Device  string `json:"device"`
	Site    string `json:"site"`
	Address string `json:"address"`
	// Kind is ssh (the SSH host key) or tls (an FMC's REST API certificate).
	Kind        string     `json:"kind"`
	KeyType     string     `json:"key_type"`
	Fingerprint string     `json:"fingerprint"` // SHA256:...
	PublicKey   string     `json:"public_key"`  // authorized_keys form
	State       string     `json:"state"`       // pending | pinned | mismatch
	SeenCount   int64      `json:"seen_count"`
	FirstSeen   time.Time  `json:"first_seen"`
	LastSeen    time.Time  `json:"last_seen"`
	PinnedBy    string     `json:"pinned_by,omitempty"`
	PinnedAt    *time.Time `json:"pinned_at,omitempty"`
}

// HostKeyFilter narrows GET /v1/hostkeys.
type HostKeyFilter struct {
	State string
	Site  string
	Kind  string // ssh | tls; empty = both
}

// DeviceSyncRequest is the body of POST /v1/devices/sync: read the FTDs FMC
// From manages (its REST API's devicerecords) and upsert them.
type DeviceSyncRequest struct {
	From   string `json:"from"`
	DryRun bool   `json:"dry_run"`
	// Prune removes the devices synced from this FMC that it no longer lists.
	Prune bool `json:"prune"`
	// Credential is the SSH credential of the FTDs (default: an existing
	// device keeps its own, a new one gets the FMC's).
	Credential string `json:"credential,omitempty"`
}

// DeviceSyncResult is what a sync did (or, with dry_run, would do).
type DeviceSyncResult struct {
	FMC       string         `json:"fmc"`
	DryRun    bool           `json:"dry_run"`
	Prune     bool           `json:"prune"`
	Records   int            `json:"records"`
	Added     []Device       `json:"added"`
	Changed   []DeviceChange `json:"changed"`
	Unchanged []string       `json:"unchanged"`
	// Gone: synced from this FMC, no longer listed by it; removed (and
	// listed in Removed) only with prune.
	Gone         []GoneDevice `json:"gone"`
	Removed      []string     `json:"removed"`
	Disconnected []string     `json:"disconnected"`
}

// GoneDevice is a device its FMC no longer lists.
type GoneDevice struct {
	Device  string `json:"device"`
	Address string `json:"address"`
	Hint    string `json:"hint,omitempty"`
}

// AcceptHostKeysRequest is the body of POST /v1/hostkeys/accept: either
// Devices, or AllPending (optionally within Site).
type AcceptHostKeysRequest struct {
	Devices    []string `json:"devices,omitempty"`
	AllPending bool     `json:"all_pending,omitempty"`
	Site       string   `json:"site,omitempty"`
}

// AcceptHostKeysResult lists the keys that are now pinned, and with
// all_pending the devices left alone and why.
type AcceptHostKeysResult struct {
	Accepted []HostKey        `json:"accepted"`
	Skipped  []SkippedHostKey `json:"skipped"`
}

// SkippedHostKey is a device whose key was not accepted.
type SkippedHostKey struct {
	Device string `json:"device"`
	Reason string `json:"reason"`
}

// AuditEvent is one recorded action.
type AuditEvent struct {
	ID         int64          `json:"id"`
	At         time.Time      `json:"at"`
	Actor      string         `json:"actor"`
	Action     string         `json:"action"`
	TargetKind string         `json:"target_kind"`
	Target     string         `json:"target"`
	Details    map[string]any `json:"details"`
}

// AuditFilter narrows GET /v1/audit. BeforeID pages backwards: pass the
// smallest ID of the previous page.
type AuditFilter struct {
	Actor      string
	Action     string
	TargetKind string
	Target     string
	Since      time.Time
	Until      time.Time
	BeforeID   int64
	Limit      int
}
