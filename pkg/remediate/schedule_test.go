package remediate_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/remediate"
)

// emea's window: Sundays 02:00-04:00 Europe/Amsterdam. In March 2031
// (before the 30th) Amsterdam is UTC+1, so: Sunday 9 March 01:00-03:00 UTC,
// then Sunday 16 March 01:00-03:00 UTC. t0 is Saturday 8 March 10:00 UTC.
var (
	window1 = time.Date(2031, 3, 9, 1, 0, 0, 0, time.UTC)
	window2 = time.Date(2031, 3, 16, 1, 0, 0, 0, time.UTC)
)

// stays asserts the request keeps its state for a while (jobs wake and sleep).
func (h *harness) stays(id uuid.UUID, state remediate.State) remediate.Request {
	h.t.Helper()
	time.Sleep(300 * time.Millisecond)
	got, err := h.svc.Get(context.Background(), id)
	require.NoError(h.t, err)
	require.Equal(h.t, state, got.State, got.ScheduleNote)
	return got
}

func TestRebootAtTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	h.startWorkers(remediate.Hooks{})
	at := t0.Add(90 * time.Minute)
	r, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}, At: &at})
	require.NoError(t, err)
	require.Equal(t, at, r.NotBefore.UTC())
	require.Contains(t, r.Preview.Schedule, "at 2031-03-08T11:30:00Z")
	require.Equal(t, "clish", r.Preview.Commands[0].Level)
	require.Equal(t, "reboot", r.Preview.Commands[0].Command)
	_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
	require.NoError(t, err)

	got := h.stays(r.ID, remediate.StateScheduled)
	require.Contains(t, got.ScheduleNote, "runs at the requested time")
	require.Zero(t, h.fake.snapshot("ftd-ams-01").reboots)

	h.clock.Advance(89 * time.Minute)
	h.stays(r.ID, remediate.StateScheduled)
	require.Zero(t, h.fake.snapshot("ftd-ams-01").reboots)

	h.clock.Advance(time.Minute)
	got = h.waitState(r.ID, 10*time.Second, remediate.StateSucceeded, remediate.StateFailed)
	require.Equal(t, remediate.StateSucceeded, got.State, got.Result.Message)
	require.Equal(t, 1, h.fake.snapshot("ftd-ams-01").reboots)
	require.Equal(t, []string{"precheck", "reboot-sent", "rebooted", "back", "verified"}, h.steps(r.ID, "ftd-ams-01"))
	require.Equal(t, at, got.StartedAt.UTC(), "started by the clock at the requested time")
}

func TestApproveAfterRequestedTimeRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	at := t0.Add(10 * time.Minute)
	r, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}, At: &at})
	require.NoError(t, err)
	h.clock.Advance(20 * time.Minute)
	_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
	require.ErrorIs(t, err, remediate.ErrConflict)
	require.Contains(t, err.Error(), "has passed")
}

func TestRebootInWindowWaitsForWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	h.startWorkers(remediate.Hooks{})
	r, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}, InWindow: true})
	require.NoError(t, err)
	require.Equal(t, window1, r.NotBefore.UTC())
	require.Contains(t, r.Preview.Schedule, "only inside site emea maintenance window")
	_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
	require.NoError(t, err)
	got := h.stays(r.ID, remediate.StateScheduled)
	require.Contains(t, got.ScheduleNote, "waits for site emea maintenance window 2031-03-09T01:00:00Z")

	h.clock.Set(window1.Add(-time.Second))
	h.stays(r.ID, remediate.StateScheduled)
	require.Zero(t, h.fake.snapshot("ftd-ams-01").reboots)

	h.clock.Set(window1.Add(time.Minute))
	got = h.waitState(r.ID, 10*time.Second, remediate.StateSucceeded, remediate.StateFailed)
	require.Equal(t, remediate.StateSucceeded, got.State, got.Result.Message)
	require.Equal(t, 1, h.fake.snapshot("ftd-ams-01").reboots)
}

// TestMissedWindowWaitsForNext: fleetd is down through the whole window;
// when it comes back, the reboot is not run late but moved to the next
// window, with the reason recorded.
func TestMissedWindowWaitsForNext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	r, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}, InWindow: true})
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
	require.NoError(t, err)

	// No worker runs until after the window closed.
	h.clock.Set(window1.Add(2*time.Hour + time.Minute))
	h.startWorkers(remediate.Hooks{})
	var got remediate.Request
	require.Eventually(t, func() bool {
		got, err = h.svc.Get(ctx, r.ID)
		require.NoError(t, err)
		return got.NotBefore != nil && got.NotBefore.Equal(window2)
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, remediate.StateScheduled, got.State)
	require.Contains(t, got.ScheduleNote, "missed the maintenance window that began 2031-03-09T01:00:00Z")
	require.Contains(t, got.ScheduleNote, "2031-03-16T01:00:00Z")
	require.True(t, slices.Contains(h.auditActions(r.ID), remediate.AuditRescheduled))
	h.stays(r.ID, remediate.StateScheduled)
	require.Zero(t, h.fake.snapshot("ftd-ams-01").reboots, "never rebooted outside the window")
	require.Zero(t, h.fake.snapshot("ftd-ams-01").checks, "not even looked at outside the window")

	h.clock.Set(window2.Add(30 * time.Minute))
	got = h.waitState(r.ID, 10*time.Second, remediate.StateSucceeded, remediate.StateFailed)
	require.Equal(t, remediate.StateSucceeded, got.State, got.Result.Message)
	require.Equal(t, 1, h.fake.snapshot("ftd-ams-01").reboots)
}

// TestWindowClosingMidRequest: devices not yet rebooted when the window
// closes wait for the next window; rebooted ones are finished.
func TestWindowClosingMidRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{BatchSize: 1, FailureThreshold: 0})
	h.addDevices("emea", sick, "ftd-a", "ftd-b", "ftd-c")
	// The window closes while ftd-b is being pre-checked.
	h.startWorkers(remediate.Hooks{At: func(_ context.Context, _ uuid.UUID, dev, point string) error {
		if dev == "ftd-b" && point == remediate.PointPrecheck && h.clock.Now().Before(window2) {
			h.clock.Set(window1.Add(2 * time.Hour))
		}
		return nil
	}})
	h.clock.Set(window1.Add(time.Hour))
	r, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionReboot,
		Devices: []string{"ftd-a", "ftd-b", "ftd-c"}, InWindow: true})
	require.NoError(t, err)
	require.Equal(t, window1.Add(time.Hour), r.NotBefore.UTC(), "window open now")
	_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
	require.NoError(t, err)

	var got remediate.Request
	require.Eventually(t, func() bool {
		got, err = h.svc.Get(ctx, r.ID)
		require.NoError(t, err)
		return got.NotBefore != nil && got.NotBefore.Equal(window2)
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, remediate.StateRunning, got.State)
	require.Contains(t, got.ScheduleNote, "2 device(s) not yet rebooted")
	require.Equal(t, 1, h.fake.snapshot("ftd-a").reboots)
	require.Zero(t, h.fake.snapshot("ftd-b").reboots, "window closed before its reboot")
	require.Zero(t, h.fake.snapshot("ftd-c").reboots)
	h.stays(r.ID, remediate.StateRunning)

	h.clock.Set(window2.Add(time.Minute))
	got = h.waitState(r.ID, 10*time.Second, remediate.StateSucceeded, remediate.StateFailed)
	require.Equal(t, remediate.StateSucceeded, got.State, got.Result.Message)
	for _, n := range []string{"ftd-a", "ftd-b", "ftd-c"} {
		require.Equal(t, 1, h.fake.snapshot(n).reboots, n)
	}
	// ftd-b was pre-checked in the first window and again in the second.
	require.Equal(t, []string{"precheck", "precheck", "reboot-sent", "rebooted", "back", "verified"}, h.steps(r.ID, "ftd-b"))
}
