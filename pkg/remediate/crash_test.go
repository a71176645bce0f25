package remediate_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/remediate"
)

// crashHook stops the job the first time it reaches point, as a killed
// process would: it blocks until the River client is stopped.
func crashHook(point string) (remediate.Hooks, <-chan struct{}) {
	reached := make(chan struct{})
	var once sync.Once
	return remediate.Hooks{At: func(ctx context.Context, _ uuid.UUID, _ string, p string) error {
		if p != point {
			return nil
		}
		first := false
		once.Do(func() { first = true; close(reached) })
		if !first {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}}, reached
}

// landThenCrash wraps the fake so that a chosen command reaches the device
// and then the process "dies" before the job can journal what it saw.
type landThenCrash struct {
	*fakeActions
	after   string // "disable" or "enable"
	once    sync.Once
	reached chan struct{}
}

func (l *landThenCrash) crash(ctx context.Context, what string) error {
	first := false
	if what == l.after {
		l.once.Do(func() { first = true; close(l.reached) })
	}
	if !first {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (l *landThenCrash) DisableConnector(ctx context.Context, dev remediate.Device) error {
	if err := l.fakeActions.DisableConnector(ctx, dev); err != nil {
		return err
	}
	return l.crash(ctx, "disable")
}

func (l *landThenCrash) EnableConnector(ctx context.Context, dev remediate.Device) error {
	if err := l.fakeActions.EnableConnector(ctx, dev); err != nil {
		return err
	}
	return l.crash(ctx, "enable")
}

// TestCrashResumesWithAtMostOneRestart kills the job at every step boundary
// of a restart (and right after a command landed but before it was
// journalled), starts a new worker, and checks that the device is restarted
// exactly once and the request ends succeeded.
func TestCrashResumesWithAtMostOneRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		point     string // hook point, or
		landed    string // command that lands before the crash
		wantSteps []string
	}{
		{name: "before pre-check", point: remediate.PointPrecheck,
			wantSteps: []string{"precheck", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}},
		{name: "before disable", point: remediate.PointDisable,
			wantSteps: []string{"precheck", "precheck", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}},
		{name: "disable journalled, not sent", point: remediate.PointDisableSent,
			wantSteps: []string{"precheck", "disable-sent", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}},
		{name: "disable landed, not journalled", landed: "disable",
			wantSteps: []string{"precheck", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}},
		{name: "between disable and enable", point: remediate.PointDisabled,
			wantSteps: []string{"precheck", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}},
		{name: "enable journalled, not sent", point: remediate.PointEnableSent,
			wantSteps: []string{"precheck", "disable-sent", "disabled", "enable-sent", "enable-sent", "enabled", "verified"}},
		{name: "enable landed, not journalled", landed: "enable",
			wantSteps: []string{"precheck", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}},
		{name: "during verify", point: remediate.PointVerify,
			wantSteps: []string{"precheck", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := newHarness(t, remediate.Config{})
			h.addDevices("emea", sick, "ftd-ams-01")

			var reached <-chan struct{}
			var hooks remediate.Hooks
			first := h.fake
			var actions remediate.DeviceActions = first
			if tc.point != "" {
				hooks, reached = crashHook(tc.point)
			} else {
				l := &landThenCrash{fakeActions: first, after: tc.landed, reached: make(chan struct{})}
				actions, reached = l, l.reached
			}
			c1 := h.startWorkersActions(actions, hooks)

			r, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
			require.NoError(t, err)
			_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
			require.NoError(t, err)
			select {
			case <-reached:
			case <-time.After(15 * time.Second):
				t.Fatal("the job never reached the crash point")
			}
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			require.NoError(t, c1.StopAndCancel(stopCtx))
			cancel()
			mid, err := h.svc.Get(ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, remediate.StateRunning, mid.State, "interrupted mid-way: still running, not finished")

			h.startWorkers(remediate.Hooks{})
			got := h.waitState(r.ID, 20*time.Second, remediate.StateSucceeded, remediate.StateFailed)
			require.Equal(t, remediate.StateSucceeded, got.State, got.Result.Message)
			d := h.fake.snapshot("ftd-ams-01")
			require.Equal(t, 1, d.restarts, "restarted exactly once per approval")
			require.LessOrEqual(t, d.disables, 1, "disable sent at most once")
			require.False(t, d.disabled)
			require.False(t, d.fault)
			require.Equal(t, tc.wantSteps, h.steps(r.ID, "ftd-ams-01"))
		})
	}
}
