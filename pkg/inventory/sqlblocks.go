package inventory

import "github.com/jackc/pgx/v5"

// SQL building blocks for other packages' queries that must read the
// inventory in the same statement as their own tables: a device job loads
// its device with its run row (one round trip per device, at 10,000 devices
// per run), the recorder writes the latest status only of devices that still
// exist (in the statement that records the results), and the status listing
// joins every device with its latest result. The table and column names stay
// here, in the package that owns devices and host_keys (internal/archtest
// checks that no other package names them); the caller chooses the alias and
// the expression that gives the device's id.

// JobDeviceSQL returns the select-list columns and the joins that load, for
// the device whose id is the SQL expression deviceID, what a job needs to
// reach it: address, credential, tags and pinned host key. The joins are
// LEFT JOINs under the aliases alias and alias_hk: a device deleted since its
// run started gives NULLs, not a missing row. Scan the columns, which the
// caller puts last in its select list, with ScanJobDevice.
func JobDeviceSQL(alias, deviceID string) (columns, joins string) {
	hk := alias + "_hk"
	columns = alias + `.address, ` + alias + `.credential, coalesce(` + alias + `.tags, '{}'), ` + hk + `.public_key`
	// Lateral probes of the primary key and host_keys_one_pinned_idx per
	// device, fenced with OFFSET 0 so the planner cannot turn them into
	// joins: a job loads a batch of devices, and as plain joins the plan
	// scanned every pinned key or device whenever the statistics led it
	// there (19–80 ms instead of 0.5 ms a batch, issue 15).
	joins = `LEFT JOIN LATERAL (SELECT address, credential, tags FROM devices WHERE id = ` + deviceID + ` OFFSET 0) ` + alias + ` ON true
		LEFT JOIN LATERAL (SELECT public_key FROM host_keys WHERE device_id = ` + deviceID + `
			AND state = 'pinned' AND kind = 'ssh' OFFSET 0) ` + hk + ` ON true`
	return columns, joins
}

// JobDevice is what JobDeviceSQL's columns load; all empty when no device
// has the id any more.
type JobDevice struct {
	Address       string
	Credential    string
	Tags          map[string]string
	PinnedHostKey []byte // SSH wire format; nil when none is pinned yet
}

// ScanJobDevice scans row into dest (the caller's own columns, first in the
// select list) and then into a JobDevice (JobDeviceSQL's columns, last).
func ScanJobDevice(row pgx.Row, dest ...any) (JobDevice, error) {
	var d JobDevice
	var address, credential *string
	err := row.Scan(append(dest, &address, &credential, &d.Tags, &d.PinnedHostKey)...)
	if address != nil {
		d.Address, d.Credential = *address, *credential
	}
	return d, err
}

// DeviceExistsSQL returns a condition that holds while a device with the
// id given by the SQL expression deviceID exists.
func DeviceExistsSQL(deviceID string) string {
	return `EXISTS (SELECT 1 FROM devices WHERE devices.id = ` + deviceID + `)`
}

// DevicesSQL returns a FROM item, under alias, with one row per device of
// the inventory and the columns id, name, site, kind, address and tags
// (jsonb). PostgreSQL pulls
// the subquery up into the caller's query: it costs what naming the table
// would.
func DevicesSQL(alias string) string {
	return `(SELECT id, name, site, kind, address, tags FROM devices) ` + alias
}

// IncidentFactsSQL returns the select-list columns and the join that load,
// for the device whose id is the SQL expression deviceID, what incidents
// group devices by: the managing FMC, the credential and the tags (the
// jump chain and, for simulated or tagged fleets, the software version) and
// the software version an FMC sync recorded.
// A LEFT JOIN under alias: a device deleted since gives empty values. Scan
// the columns with IncidentFactsDest.
func IncidentFactsSQL(alias, deviceID string) (columns, join string) {
	a := alias + "."
	columns = `coalesce(` + a + `managed_by, ''), coalesce(` + a + `credential, ''), coalesce(` + a + `tags, '{}'), coalesce(` + a + `sw_version, '')`
	join = `LEFT JOIN devices ` + alias + ` ON ` + alias + `.id = ` + deviceID
	return columns, join
}

// IncidentFacts is what IncidentFactsSQL's columns load.
type IncidentFacts struct {
	ManagedBy  string
	Credential string
	Tags       map[string]string
	SWVersion  string // devices.sw_version: what the managing FMC reported (device sync)
}

// Version is the device's software version as the inventory knows it: what
// its FMC reported at the last sync, else the version tag (ftdsim's
// inventories carry it).
func (f IncidentFacts) Version() string {
	if f.SWVersion != "" {
		return f.SWVersion
	}
	return f.Tags["version"]
}

// JumpChain is the device's jump=NAME tag ("" when it has none).
func (f IncidentFacts) JumpChain() string { return f.Tags["jump"] }

// IncidentFactsDest returns the scan destinations of IncidentFactsSQL's columns.
func (f *IncidentFacts) IncidentFactsDest() []any {
	return []any{&f.ManagedBy, &f.Credential, &f.Tags, &f.SWVersion}
}
