// Package audit owns the append-only audit trail: who did what to which
// object, recorded in the same transaction as the change itself.
//
// API:
//
//	type Event struct {ID int64; At time.Time; Actor, Action, TargetKind, Target string; Details map[string]any}
//	  JSON: {"id","at","actor","action","target_kind","target","details"}
//	type DB interface { Exec; Query; QueryRow }   // *pgxpool.Pool, *pgx.Conn and pgx.Tx all satisfy it
//	Record(ctx, db DB, e Event) error              // At is set by the database; call it with the change's tx
//	RecordMany(ctx, db DB, events []Event) error   // one round trip, for bulk imports
//	List(ctx, db DB, f Filter) ([]Event, error)    // newest first
//	type Filter struct {Actor, Action, TargetKind, Target string; Since, Until time.Time; BeforeID int64; Limit int}
//	  Limit 0 = DefaultLimit (100), capped at MaxLimit (1000); BeforeID pages backwards (pass the last ID seen).
//
// Actions used so far (constants in this package): device.add, device.update,
// device.delete, hostkey.pending, hostkey.pin, hostkey.accept, hostkey.mismatch,
// token.create, token.revoke. Target kinds: device, token, site.
//
// The table rejects UPDATE and DELETE (a trigger), so the trail cannot be
// rewritten through fleetd's own connection.
package audit
