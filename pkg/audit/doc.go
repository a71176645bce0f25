// Package audit owns the append-only audit trail: who did what to which
// object, recorded in the same transaction as the change itself, so that a
// change and its audit event commit together or not at all.
//
// Record (and RecordMany, one round trip for bulk imports) write an Event
// through any DB — a pool, a connection or, usually, the caller's
// transaction; the database sets its time. List reads the trail newest first
// with a Filter and pages backwards by event id. The action and target-kind
// names are constants here (ActionDeviceAdd, ActionHostKeyAccept, ...;
// TargetDevice, ...) so that every writer and the API's filters agree.
//
// The table rejects UPDATE and DELETE (a trigger), so the trail cannot be
// rewritten through fleetd's own connection.
package audit
