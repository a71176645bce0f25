package remediate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/sim"
)

// TestE2ERestartCuresDevice is the happy path: one identity requests, another
// approves, fleetd restarts the connector once and verifies the cure.
func TestE2ERestartCuresDevice(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{ftd("ftd-ams-01", "emea", sim.FaultEventHandlerDisconnected)}})
	w.startWorkers(remediate.Hooks{})

	// Table output: the preview says what will run where.
	code, out, errOut := w.ctl(requester, "remediate", "--restart-connector", "ftd-ams-01", "--reason", "INC-7 no events in XDR")
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{"State       pending", "canary    ftd-ams-01", "root#      pmtool disablebyid SSEConnector",
		"root#      pmtool enablebyid SSEConnector", "fleetctl approve "} {
		require.Contains(t, out, want)
	}
	id := uuid.MustParse(strings.Fields(strings.SplitN(out, "\n", 2)[0])[1])

	// It shows in approvals list until approved; nothing ran.
	list := w.ctlOK(approver, "approvals", "list")
	require.Contains(t, list, id.String())
	require.Zero(t, w.dev("ftd-ams-01").Counters().Connections, "nothing touches the device before approval")

	out = w.ctlOK(approver, "approve", id.String(), "--comment", "go ahead")
	require.Contains(t, out, "Approved restart-connector "+id.String())

	r := w.waitFinal(id)
	require.Equal(t, api.RequestSucceeded, r.State, r.Result.Message)
	d := w.dev("ftd-ams-01")
	require.Equal(t, int64(1), d.Counters().ConnectorRestarts)
	require.False(t, hasFault(d, sim.FaultEventHandlerDisconnected))

	// The docs/design.md contract of `requests show -o json`.
	_, raw := w.show(id)
	for _, k := range []string{"id", "action", "devices", "state", "requested_by", "approved_by", "reason", "not_before", "expires_at", "result"} {
		require.Contains(t, raw, k)
	}
	require.Equal(t, "restart-connector", raw["action"])
	require.Equal(t, []any{"ftd-ams-01"}, raw["devices"])
	require.Equal(t, requester, raw["requested_by"])
	require.Equal(t, approver, raw["approved_by"])
	require.Equal(t, "INC-7 no events in XDR", raw["reason"])
	res := raw["result"].(map[string]any)
	require.Equal(t, float64(1), res["summary"].(map[string]any)["succeeded"])

	// The table view tells the story, history included.
	show := w.ctlOK(viewer, "requests", "show", id.String())
	for _, want := range []string{"State       succeeded", "Approved    by lead-emea", "verified: eventhandler-disconnected is gone",
		"remediation.approve", "remediation.succeed"} {
		require.Contains(t, show, want)
	}
}

func TestE2EApprovalRules(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{ttl: 30 * time.Minute,
		devices: []sim.DeviceSpec{ftd("ftd-ams-01", "emea", sim.FaultEventHandlerDisconnected)}})

	// Self-approval, even by someone holding the approver role.
	r := w.request(approver2, "--restart-connector", "ftd-ams-01")
	code, _, errOut := w.ctl(approver2, "approve", r.ID.String())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "sec-lead requested "+r.ID.String()+" and cannot also approve it; another approver must")

	// Viewer and operator cannot approve: the server says which role is needed.
	for _, who := range []string{viewer, requester} {
		code, _, errOut = w.ctl(who, "approve", r.ID.String())
		require.Equal(t, 1, code, who)
		require.Contains(t, errOut, "needs role approver or higher", who)
	}
	// A viewer cannot even request.
	code, _, errOut = w.ctl(viewer, "remediate", "--restart-connector", "ftd-ams-01")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "needs role operator")

	// Reject with a reason; then it cannot be approved.
	code, _, errOut = w.ctl(approver, "reject", r.ID.String())
	require.Equal(t, 2, code, "reason is required")
	require.Contains(t, errOut, "--reason is required")
	out := w.ctlOK(approver, "reject", r.ID.String(), "--reason", "use the change window")
	require.Contains(t, out, "Rejected "+r.ID.String())
	code, _, errOut = w.ctl(approver, "approve", r.ID.String())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "is rejected; only a pending request can be approved")

	// Cancel by the requester.
	r2 := w.request(requester, "--restart-connector", "ftd-ams-01")
	out = w.ctlOK(requester, "requests", "cancel", r2.ID.String(), "--reason", "fixed by hand")
	require.Contains(t, out, "Cancelled "+r2.ID.String())
	got, _ := w.show(r2.ID)
	require.Equal(t, api.RequestCancelled, got.State)

	// Expired: the TTL passes before anyone approves.
	r3 := w.request(requester, "--restart-connector", "ftd-ams-01")
	w.clock.Advance(31 * time.Minute)
	code, _, errOut = w.ctl(approver, "approve", r3.ID.String())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "expired")
	require.Contains(t, errOut, "cannot be approved")
	got, _ = w.show(r3.ID)
	require.Equal(t, api.RequestExpired, got.State)
	expired := w.ctlOK(viewer, "approvals", "list", "--state", "expired")
	require.Contains(t, expired, r3.ID.String())

	require.Zero(t, w.dev("ftd-ams-01").Counters().Connections, "no request here reached the device")
}

func TestE2EAlreadyHealthySkipped(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{ftd("ftd-ok-01", "emea")}})
	w.startWorkers(remediate.Hooks{})
	r := w.request(requester, "--restart-connector", "ftd-ok-01")
	w.ctlOK(approver, "approve", r.ID.String())
	got := w.waitFinal(r.ID)
	require.Equal(t, api.RequestSucceeded, got.State)
	require.Equal(t, api.RemediationSummary{Devices: 1, Skipped: 1}, got.Result.Summary)
	require.Equal(t, "nothing to do: the pre-check found the device healthy", got.Result.Devices[0].Message)
	d := w.dev("ftd-ok-01")
	require.Zero(t, d.Counters().ConnectorRestarts)
	for _, c := range d.CommandLog() {
		require.NotContains(t, c, "pmtool disablebyid", "a healthy device gets no remediation command")
	}
}

func TestE2ERestartThatDoesNotCureRecommendsReboot(t *testing.T) {
	t.Parallel()
	// eventhandler-stuck: a restart runs but does not cure; a reboot does.
	w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{ftd("ftd-ams-02", "emea", sim.FaultEventHandlerStuck)}})
	w.startWorkers(remediate.Hooks{})
	r := w.request(requester, "--restart-connector", "ftd-ams-02")
	w.ctlOK(approver, "approve", r.ID.String())
	got := w.waitFinal(r.ID)
	require.Equal(t, api.RequestFailed, got.State)
	require.Equal(t, "reboot", got.Result.Recommended)
	d := w.dev("ftd-ams-02")
	require.Equal(t, int64(1), d.Counters().ConnectorRestarts)
	require.True(t, hasFault(d, sim.FaultEventHandlerStuck), "the restart did not cure it")
	show := w.ctlOK(viewer, "requests", "show", r.ID.String())
	require.Contains(t, show, "eventhandler-disconnected persists; as the tech note says, the next step is a reboot")
	require.Contains(t, show, "fleetctl remediate --reboot ftd-ams-02 --in-window")

	// The escalation the result recommends: a reboot cures it.
	at := t0.Add(time.Hour)
	rb := w.request(requester, "--reboot", "ftd-ams-02", "--at", at.Format(time.RFC3339))
	w.ctlOK(approver, "approve", rb.ID.String())
	w.clock.Set(at)
	got = w.waitFinal(rb.ID)
	require.Equal(t, api.RequestSucceeded, got.State, got.Result.Message)
	require.Equal(t, int64(1), d.Counters().Reboots)
	require.Empty(t, d.Faults())
}

// TestE2ERebootInWindow: the reboot waits for the site's window (judged by
// the injected clock), the device goes down and comes back, then verify runs.
func TestE2ERebootInWindow(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{ftd("ftd-ams-03", "emea", sim.FaultEventHandlerDisconnected)}})
	w.startWorkers(remediate.Hooks{})
	r := w.request(requester, "--reboot", "ftd-ams-03", "--in-window")
	window := time.Date(2031, 3, 9, 1, 0, 0, 0, time.UTC) // Sunday 02:00 Amsterdam
	require.Equal(t, window, r.NotBefore.UTC())
	w.ctlOK(approver, "approve", r.ID.String())

	time.Sleep(300 * time.Millisecond)
	got, _ := w.show(r.ID)
	require.Equal(t, api.RequestScheduled, got.State)
	require.Zero(t, w.dev("ftd-ams-03").Counters().Reboots)
	w.clock.Set(window.Add(-time.Second))
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, w.dev("ftd-ams-03").Counters().Reboots, "one second before the window is outside it")

	w.clock.Set(window.Add(10 * time.Minute))
	got = w.waitFinal(r.ID)
	require.Equal(t, api.RequestSucceeded, got.State, got.Result.Message)
	d := w.dev("ftd-ams-03")
	require.Equal(t, int64(1), d.Counters().Reboots)
	require.False(t, hasFault(d, sim.FaultEventHandlerDisconnected))
	dr := got.DeviceResults[0]
	require.Equal(t, remediate.StepVerified, dr.Step)
	require.Equal(t, []string{"eventhandler-disconnected"}, dr.DiagnosesBefore)
	require.Equal(t, []string{}, dr.DiagnosesAfter)
}

func TestE2ERebootAtTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{ftd("ftd-nyc-01", "amer", sim.FaultEventHandlerDisconnected)}})
	w.startWorkers(remediate.Hooks{})
	at := t0.Add(3 * time.Hour)
	r := w.request(requester, "--reboot", "ftd-nyc-01", "--at", at.Format(time.RFC3339))
	w.ctlOK(approver, "approve", r.ID.String())
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, w.dev("ftd-nyc-01").Counters().Reboots)
	w.clock.Set(at)
	got := w.waitFinal(r.ID)
	require.Equal(t, api.RequestSucceeded, got.State, got.Result.Message)
	require.Equal(t, int64(1), w.dev("ftd-nyc-01").Counters().Reboots)
	require.Equal(t, at, got.StartedAt.UTC())
}

// TestE2ECrashMidRestart is R4 in-process: the job is killed at a step
// boundary (its River client stopped with the job blocked there), a new
// client takes over, and the simulator's counter shows one restart.
func TestE2ECrashMidRestart(t *testing.T) {
	t.Parallel()
	for _, point := range []string{remediate.PointDisable, remediate.PointDisabled, remediate.PointVerify} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{ftd("ftd-ams-04", "emea", sim.FaultEventHandlerDisconnected)}})
			reached := make(chan struct{})
			var once sync.Once
			c1 := w.startWorkers(remediate.Hooks{At: func(ctx context.Context, _ uuid.UUID, _ string, p string) error {
				if p != point {
					return nil
				}
				first := false
				once.Do(func() { first = true; close(reached) })
				if first {
					<-ctx.Done() // "killed" here
					return ctx.Err()
				}
				return nil
			}})
			r := w.request(requester, "--restart-connector", "ftd-ams-04")
			w.ctlOK(approver, "approve", r.ID.String())
			select {
			case <-reached:
			case <-time.After(20 * time.Second):
				t.Fatal("never reached the crash point")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			require.NoError(t, c1.Queue.StopAndCancel(ctx))
			cancel()
			mid, _ := w.show(r.ID)
			require.Equal(t, api.RequestRunning, mid.State)

			w.startWorkers(remediate.Hooks{})
			got := w.waitFinal(r.ID)
			require.Equal(t, api.RequestSucceeded, got.State, got.Result.Message)
			d := w.dev("ftd-ams-04")
			c := d.Counters()
			require.Equal(t, int64(1), c.ConnectorRestarts, "restarted at most once per approval")
			require.Equal(t, int64(1), c.ConnectorDisables, "disable sent once per approval")
			require.Equal(t, int64(1), c.ConnectorEnables, "enable sent once per approval")
			require.False(t, hasFault(d, sim.FaultEventHandlerDisconnected))
		})
	}
}

// TestE2EBatchStopsAtFailureThreshold: a site-wide request from the latest
// status; the canary passes, the first batch has two unreachable devices,
// which passes the threshold of 1, so the last batch never starts.
func TestE2EBatchStopsAtFailureThreshold(t *testing.T) {
	t.Parallel()
	sick := sim.FaultEventHandlerDisconnected
	w := newWorld(t, worldOpts{batchSize: 2, failureThreshold: 1, deadAddr: []string{"ftd-b", "ftd-c"},
		devices: []sim.DeviceSpec{ftd("ftd-a", "emea", sick), ftd("ftd-b", "emea", sick), ftd("ftd-c", "emea", sick),
			ftd("ftd-d", "emea", sick), ftd("ftd-e", "emea", sick), ftd("ftd-f", "amer", sick)}})
	// The latest status says which devices have the diagnosis.
	for _, n := range []string{"ftd-a", "ftd-b", "ftd-c", "ftd-d", "ftd-e", "ftd-f"} {
		_, err := w.svc.Pool.Exec(w.ctx, `INSERT INTO device_status (device_id, run_id, health, diagnoses, checked_at)
			SELECT id, gen_random_uuid(), 'unhealthy', '{eventhandler-disconnected}', now() FROM devices WHERE name = $1`, n)
		require.NoError(t, err)
	}
	w.startWorkers(remediate.Hooks{})
	r := w.request(requester, "--restart-connector", "--site", "emea", "--diagnosis", "eventhandler-disconnected")
	require.Equal(t, []string{"ftd-a", "ftd-b", "ftd-c", "ftd-d", "ftd-e"}, r.Devices, "amer's ftd-f is not selected")
	require.Equal(t, [][]string{{"ftd-a"}, {"ftd-b", "ftd-c"}, {"ftd-d", "ftd-e"}}, r.Preview.Batches)
	w.ctlOK(approver, "approve", r.ID.String())

	got := w.waitFinal(r.ID)
	require.Equal(t, api.RequestFailed, got.State)
	require.Equal(t, api.RemediationSummary{Devices: 5, Succeeded: 1, Failed: 2, NotRun: 2}, got.Result.Summary)
	require.Contains(t, got.Result.Message, "stopped: 2 failed device(s) passed the failure threshold of 1")
	outcome := map[string]api.RemediationDeviceResult{}
	for _, d := range got.Result.Devices {
		outcome[d.Device] = d
	}
	require.Equal(t, "unreachable", outcome["ftd-b"].ErrorClass)
	require.Equal(t, remediate.OutcomeNotRun, outcome["ftd-d"].Outcome)
	require.Equal(t, int64(1), w.dev("ftd-a").Counters().ConnectorRestarts)
	for _, n := range []string{"ftd-d", "ftd-e", "ftd-f"} {
		require.Zero(t, w.dev(n).Counters().Connections, "%s was never contacted", n)
	}
	show := w.ctlOK(viewer, "requests", "show", r.ID.String())
	require.Contains(t, show, "not run: stopped")
}
