// Package inventory owns the device inventory in PostgreSQL: devices, the
// sites and credential references they point at, and pinned SSH host keys;
// the CSV/YAML importer with its all-or-nothing validation; the device-name
// rule (CheckName, which every package that accepts a device name uses); and
// the host-key store the runner consults before sending anything to a
// device.
//
// A Store is built over a pool and a Catalog (the sites and credential
// references rows may name; never a secret). Devices are listed, read,
// added, updated and deleted by name, every change audited with its actor.
// Parse turns a file into Rows (a pure function: every bad row becomes one
// Problem of a *ValidationError naming its line, the first MaxProblems of
// them listed with the total), and ImportFile/Import apply them in one
// transaction as a Plan, or only compute the Plan for a dry run. Rows are
// also checked against the catalog: a literal IP outside its site's
// allowed networks and a credential its site may not use are refused at
// import, so that a secret never goes to an address nobody meant (host
// names are checked by the runner when it connects).
//
// Other packages reach these tables only through the Store, or, where their
// own query must load a device in the same round trip (pkg/runs' device job,
// recorder and status), through the SQL building blocks of sqlblocks.go
// (JobDeviceSQL with ScanJobDevice, DeviceExistsSQL, DevicesSQL).
//
// Host keys: CheckHostKey is the runner's view (pinned and equal: go on;
// none pinned: record it pending, or pin it under the tofu policy; pinned
// and different: record the mismatch, refuse, audit). AcceptHostKeys is the
// operator's: it pins pending or mismatching keys, all or nothing for named
// devices. Replacing a pinned key, or the first key of a device whose
// address changed after it was added, needs an approver other than whoever
// set that address (*AcceptRefusedError, wrapping ErrTwoPersonRule, each
// refusal audited): an operator who moves a device onto a box they control
// cannot also vouch for its key.
//
// Errors: ErrNotFound, ErrExists, *ValidationError; ErrHostKeyUnknown and
// ErrHostKeyMismatch are the runner's, so its error classes apply.
package inventory
