package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/audit"
)

func TestRecordCommitsWithTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)

	// Rolled back: the event goes with the change.
	boom := errors.New("change failed")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		require.NoError(t, audit.Record(ctx, tx, audit.Event{Actor: "alice", Action: audit.ActionDeviceAdd, TargetKind: audit.TargetDevice, Target: "ftd-1"}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	events, err := audit.List(ctx, pool, audit.Filter{})
	require.NoError(t, err)
	require.Empty(t, events)

	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Event{Actor: "alice", Action: audit.ActionDeviceAdd, TargetKind: audit.TargetDevice,
			Target: "ftd-1", Details: map[string]any{"site": "emea", "n": 3}})
	}))
	events, err = audit.List(ctx, pool, audit.Filter{})
	require.NoError(t, err)
	require.Len(t, events, 1)
	e := events[0]
	require.Equal(t, "alice", e.Actor)
	require.Equal(t, "device.add", e.Action)
	require.Equal(t, "device", e.TargetKind)
	require.Equal(t, "ftd-1", e.Target)
	require.Equal(t, map[string]any{"site": "emea", "n": float64(3)}, e.Details)
	require.WithinDuration(t, time.Now(), e.At, time.Minute)
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)

	var evs []audit.Event
	for i, actor := range []string{"alice", "bob", "alice", "carol", "alice"} {
		action := audit.ActionDeviceAdd
		if i%2 == 1 {
			action = audit.ActionTokenCreate
		}
		evs = append(evs, audit.Event{Actor: actor, Action: action, TargetKind: "device", Target: string(rune('a' + i))})
	}
	require.NoError(t, audit.RecordMany(ctx, pool, evs))

	all, err := audit.List(ctx, pool, audit.Filter{})
	require.NoError(t, err)
	require.Len(t, all, 5)
	require.Equal(t, []string{"e", "d", "c", "b", "a"}, targets(all), "newest first, in insertion order")

	got, err := audit.List(ctx, pool, audit.Filter{Actor: "alice"})
	require.NoError(t, err)
	require.Equal(t, []string{"e", "c", "a"}, targets(got))

	got, err = audit.List(ctx, pool, audit.Filter{Action: "token."})
	require.NoError(t, err)
	require.Equal(t, []string{"d", "b"}, targets(got))

	got, err = audit.List(ctx, pool, audit.Filter{Target: "c", TargetKind: "device"})
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, targets(got))

	page1, err := audit.List(ctx, pool, audit.Filter{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"e", "d"}, targets(page1))
	page2, err := audit.List(ctx, pool, audit.Filter{Limit: 2, BeforeID: page1[1].ID})
	require.NoError(t, err)
	require.Equal(t, []string{"c", "b"}, targets(page2))

	got, err = audit.List(ctx, pool, audit.Filter{Since: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = audit.List(ctx, pool, audit.Filter{Until: time.Now().Add(time.Hour), Since: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, got, 5)
}

func TestTrailIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	require.NoError(t, audit.Record(ctx, pool, audit.Event{Actor: "alice", Action: audit.ActionTokenCreate}))

	_, err := pool.Exec(ctx, `UPDATE audit_events SET actor = 'mallory'`)
	require.ErrorContains(t, err, "append-only")
	_, err = pool.Exec(ctx, `DELETE FROM audit_events`)
	require.ErrorContains(t, err, "append-only")
	events, err := audit.List(ctx, pool, audit.Filter{})
	require.NoError(t, err)
	require.Equal(t, "alice", events[0].Actor)
}

func TestRecordRequiresActor(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	err := audit.Record(context.Background(), pool, audit.Event{Action: audit.ActionDeviceAdd})
	require.ErrorContains(t, err, "needs an actor")
}

func targets(events []audit.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Target
	}
	return out
}
