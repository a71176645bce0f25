package sweep_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

func day(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }

func nightly(name string) sweep.ScheduleConfig {
	return sweep.ScheduleConfig{Name: name, Cron: "0 3 * * *", Timezone: "UTC", Selector: runs.Selector{All: true}, Enabled: true}
}

func countRuns(t *testing.T, e *env, schedule string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM runs WHERE kind = 'sweep' AND schedule = $1`, schedule).Scan(&n))
	return n
}

// An outage over several nights costs one sweep at start-up; a schedule
// created after tonight's slot does not run it.
func TestCatchUpRunsAMissedSweepOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-1", "ftd-2")
	e.clock.Set(day(1, 12, 0)) // created after day 1's 03:00
	s := e.service(t, nightly("nightly"))

	e.clock.Set(day(1, 20, 0))
	due, err := s.CatchUp(ctx)
	require.NoError(t, err)
	require.Empty(t, due, "the 03:00 slot before the schedule existed is not missed")

	// fleetd was down from day 1 evening to day 4 10:00: three slots passed.
	e.clock.Set(day(4, 10, 0))
	due, err = s.CatchUp(ctx)
	require.NoError(t, err)
	require.Equal(t, []sweep.Due{{Schedule: "nightly", Slot: day(4, 3, 0)}}, due, "only the latest missed slot")
	require.Equal(t, []sweep.SweepArgs{{Schedule: "nightly", Slot: day(4, 3, 0)}}, e.queue.sweeps())

	res, err := s.StartSlot(ctx, "nightly", day(4, 3, 0))
	require.NoError(t, err)
	require.Equal(t, sweep.SlotStarted, res.Outcome)
	require.Equal(t, 1, countRuns(t, e, "nightly"))

	// The same slot again (the periodic job, a retry) or an older one: nothing.
	for _, slot := range []time.Time{day(4, 3, 0), day(3, 3, 0)} {
		again, err := s.StartSlot(ctx, "nightly", slot)
		require.NoError(t, err)
		require.Equal(t, sweep.SlotDone, again.Outcome)
	}
	due, err = s.CatchUp(ctx)
	require.NoError(t, err)
	require.Empty(t, due)
	require.Equal(t, 1, countRuns(t, e, "nightly"))

	// The next night runs normally, and list shows last and next run.
	e.clock.Set(day(5, 3, 0))
	res2, err := s.StartSlot(ctx, "nightly", day(5, 3, 0))
	require.NoError(t, err)
	require.Equal(t, sweep.SlotStarted, res2.Outcome)
	e.clock.Set(day(5, 4, 0))
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, res2.RunID, list[0].LastRun.ID)
	require.Equal(t, "queued", list[0].LastRun.Status)
	require.Equal(t, 2, list[0].LastRun.Summary.Devices)
	require.Equal(t, day(6, 3, 0), *list[0].NextRun)
	require.Equal(t, day(5, 3, 0), list[0].LastSlot.UTC())
}

// A run started by an attempt that died before recording its slot is
// found, not started twice.
func TestStartSlotAdoptsTheRunOfACrashedAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-1")
	e.clock.Set(day(1, 2, 0))
	s := e.service(t, nightly("nightly"))
	e.clock.Set(day(1, 3, 0))
	orphan := e.run(t, runs.KindSweep, "nightly", runs.Selector{All: true}, nil)

	res, err := s.StartSlot(ctx, "nightly", day(1, 3, 0))
	require.NoError(t, err)
	require.Equal(t, sweep.SlotDone, res.Outcome)
	require.Equal(t, orphan, res.RunID)
	require.Equal(t, 1, countRuns(t, e, "nightly"))
	sc, err := s.Get(ctx, "nightly")
	require.NoError(t, err)
	require.Equal(t, orphan, sc.LastRun.ID)
}

func TestDisableSkipsAndEnableDoesNotCatchUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-1")
	e.clock.Set(day(1, 2, 0))
	s := e.service(t, nightly("nightly"))

	sc, err := s.SetEnabled(ctx, "ops-emea", "nightly", false)
	require.NoError(t, err)
	require.False(t, sc.Enabled)
	require.Nil(t, sc.NextRun, "a disabled schedule has no next run")
	require.Equal(t, "ops-emea", sc.EnabledBy)

	e.clock.Set(day(3, 3, 0))
	res, err := s.StartSlot(ctx, "nightly", day(3, 3, 0))
	require.NoError(t, err)
	require.Equal(t, sweep.SlotDisabled, res.Outcome)
	due, err := s.CatchUp(ctx)
	require.NoError(t, err)
	require.Empty(t, due)

	// Re-enabled later that day: the nights it was off are not "missed".
	e.clock.Set(day(3, 9, 0))
	sc, err = s.SetEnabled(ctx, "ops-emea", "nightly", true)
	require.NoError(t, err)
	require.Equal(t, day(4, 3, 0), *sc.NextRun)
	due, err = s.CatchUp(ctx)
	require.NoError(t, err)
	require.Empty(t, due)
	require.Zero(t, countRuns(t, e, "nightly"))

	var audited int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE target = 'nightly'
		AND action IN ('schedule.enable', 'schedule.disable') AND actor = 'ops-emea'`).Scan(&audited))
	require.Equal(t, 2, audited)

	_, err = s.SetEnabled(ctx, "ops-emea", "weekly", true)
	require.ErrorIs(t, err, sweep.ErrUnknownSchedule)
}

// A run-time decision survives restarts (re-syncs) until the config itself
// changes its enabled value; schedules removed from config go away; new
// times do not catch up.
func TestSyncFromConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.clock.Set(day(1, 1, 0))
	weekly := sweep.ScheduleConfig{Name: "weekly", Cron: "0 4 * * 0", Selector: runs.Selector{Site: "emea"}, Enabled: true}
	s := e.service(t, nightly("nightly"), weekly)
	_, err := s.SetEnabled(ctx, "ops", "nightly", false)
	require.NoError(t, err)

	// Restart with the same config: still disabled, by ops.
	s = e.service(t, nightly("nightly"), weekly)
	sc, err := s.Get(ctx, "nightly")
	require.NoError(t, err)
	require.False(t, sc.Enabled)
	require.Equal(t, "ops", sc.EnabledBy)

	// The config now says disabled, then enabled again: the config's change wins.
	off := nightly("nightly")
	off.Enabled = false
	e.service(t, off)
	sc, err = s.Get(ctx, "nightly")
	require.NoError(t, err)
	require.False(t, sc.Enabled)
	require.Equal(t, "config", sc.EnabledBy)
	_, err = s.Get(ctx, "weekly")
	require.ErrorIs(t, err, sweep.ErrUnknownSchedule, "removed from config")

	e.clock.Set(day(2, 12, 0))
	on := nightly("nightly")
	on.Cron = "30 2 * * *"
	on.Timezone = "Europe/Amsterdam"
	s = e.service(t, on)
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.True(t, list[0].Enabled)
	require.Equal(t, "30 2 * * *", list[0].Cron)
	require.Equal(t, "Europe/Amsterdam", list[0].Timezone)
	require.Equal(t, time.Date(2026, 3, 3, 1, 30, 0, 0, time.UTC), *list[0].NextRun, "02:30 CET")
	due, err := s.CatchUp(ctx)
	require.NoError(t, err)
	require.Empty(t, due, "today's 02:30 predates the change")
}

func TestNoDeviceSlotIsRecordedNotRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.clock.Set(day(1, 1, 0))
	s := e.service(t, sweep.ScheduleConfig{Name: "apjc", Cron: "0 3 * * *", Selector: runs.Selector{Site: "apjc"}, Enabled: true})
	res, err := s.StartSlot(ctx, "apjc", day(1, 3, 0))
	require.NoError(t, err)
	require.Equal(t, sweep.SlotNoDevice, res.Outcome)
	sc, err := s.Get(ctx, "apjc")
	require.NoError(t, err)
	require.Contains(t, sc.LastError, "no devices")
	require.Nil(t, sc.LastRun)
	_, err = s.StartSlot(ctx, "nope", day(1, 3, 0))
	require.ErrorIs(t, err, sweep.ErrUnknownSchedule)
}

func TestPeriodicJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(t, nightly("a"), nightly("b"))
	require.Len(t, s.PeriodicJobs(), 3, "one per schedule and the maintenance job")
	_, err := sweep.New(e.pool, sweep.Config{Schedules: []sweep.ScheduleConfig{{Name: "x", Cron: "0 3 * *"}}}, sweep.Deps{}, e.log)
	require.ErrorContains(t, err, "want 5 fields")
}
