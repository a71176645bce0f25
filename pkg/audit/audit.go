package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Actions recorded by the foundation. Later packages add their own
// ("remediation.approve", ...) following the same noun.verb form.
const (
	ActionDeviceAdd       = "device.add"
	ActionDeviceUpdate    = "device.update"
	ActionDeviceDelete    = "device.delete"
	ActionHostKeyPending  = "hostkey.pending"
	ActionHostKeyPin      = "hostkey.pin" // trust on first use
	ActionHostKeyAccept   = "hostkey.accept"
	ActionHostKeyMismatch = "hostkey.mismatch"
	ActionTokenCreate     = "token.create"
	ActionTokenRevoke     = "token.revoke"
)

// ActionHostKeyAcceptRefused: a host-key accept the two-person rule refused
// (pkg/inventory AcceptHostKeys); nothing was pinned.
const ActionHostKeyAcceptRefused = "hostkey.accept_refused"

// Target kinds.
const (
	TargetDevice = "device"
	TargetToken  = "token"
	TargetSite   = "site"
)

// Event is one audited change.
type Event struct {
	ID         int64          `json:"id"`
	At         time.Time      `json:"at"`
	Actor      string         `json:"actor"`
	Action     string         `json:"action"`
	TargetKind string         `json:"target_kind"`
	Target     string         `json:"target"`
	Details    map[string]any `json:"details"`
}

// DB is what Record and List need: a pool, a connection or a transaction.
// Pass the transaction that makes the change so the event commits with it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Record appends one event. The database sets At.
func Record(ctx context.Context, db DB, e Event) error {
	return RecordMany(ctx, db, []Event{e})
}

// RecordMany appends events in one statement (an import of 10,000 devices is
// 10,000 events).
func RecordMany(ctx context.Context, db DB, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	actors := make([]string, len(events))
	actions := make([]string, len(events))
	kinds := make([]string, len(events))
	targets := make([]string, len(events))
	details := make([]string, len(events))
	for i, e := range events {
		if e.Actor == "" || e.Action == "" {
			return errors.New("audit: event needs an actor and an action")
		}
		d := e.Details
		if d == nil {
			d = map[string]any{}
		}
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("audit: details of %s: %w", e.Action, err)
		}
		actors[i], actions[i], kinds[i], targets[i], details[i] = e.Actor, e.Action, e.TargetKind, e.Target, string(b)
	}
	_, err := db.Exec(ctx, `
		INSERT INTO audit_events (actor, action, target_kind, target, details)
		SELECT a, b, c, d, e::jsonb
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(a, b, c, d, e, n)
		ORDER BY n`, actors, actions, kinds, targets, details)
	if err != nil {
		return fmt.Errorf("audit: record %d event(s): %w", len(events), err)
	}
	return nil
}

// Page sizes for List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter narrows List. Zero fields do not filter.
type Filter struct {
	Actor      string
	Action     string // exact, or a prefix ending in "." ("device.")
	TargetKind string
	Target     string
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	BeforeID   int64     // page backwards: events with a smaller id
	Limit      int
}

// List returns events newest first.
func List(ctx context.Context, db DB, f Filter) ([]Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(f.Actor))
	}
	if strings.HasSuffix(f.Action, ".") {
		where = append(where, "starts_with(action, "+arg(f.Action)+")")
	} else if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.TargetKind != "" {
		where = append(where, "target_kind = "+arg(f.TargetKind))
	}
	if f.Target != "" {
		where = append(where, "target = "+arg(f.Target))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(f.Until))
	}
	if f.BeforeID > 0 {
		where = append(where, "id < "+arg(f.BeforeID))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	q := "SELECT id, at, actor, action, target_kind, target, details FROM audit_events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(limit)

	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.TargetKind, &e.Target, &e.Details)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return events, nil
}

// Web console sign-in and sign-out (pkg/auth sessions); the target is the
// token's name.
const (
	ActionSessionStart = "session.start"
	ActionSessionEnd   = "session.end"
)
