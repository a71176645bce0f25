package remediate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/pkg/remediate"
)

func restartReq(devices ...string) remediate.CreateRequest {
	return remediate.CreateRequest{Action: remediate.ActionRestartConnector, Devices: devices, Reason: "INC-1: no events in XDR"}
}

func TestApprovalRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{ApprovalTTL: time.Hour})
	h.addDevices("emea", sick, "ftd-ams-01")

	type step struct {
		name    string
		do      func(id uuid.UUID) error
		wantErr error
		wantMsg string
		state   remediate.State
	}
	approve := func(a remediate.Actor) func(uuid.UUID) error {
		return func(id uuid.UUID) error { _, err := h.svc.Approve(ctx, a, id, "ok", ""); return err }
	}
	reject := func(a remediate.Actor, why string) func(uuid.UUID) error {
		return func(id uuid.UUID) error { _, err := h.svc.Reject(ctx, a, id, why); return err }
	}
	cancel := func(a remediate.Actor) func(uuid.UUID) error {
		return func(id uuid.UUID) error { _, err := h.svc.Cancel(ctx, a, id, "not needed"); return err }
	}
	tests := []struct {
		name      string
		requester remediate.Actor
		steps     []step
	}{
		{"self-approval refused even for an approver", amy, []step{
			{"amy approves her own", approve(amy), remediate.ErrSelfApproval, "amy requested", remediate.StatePending},
		}},
		{"viewer and operator cannot approve", alice, []step{
			{"viewer", approve(vic), remediate.ErrForbidden, `role "viewer" cannot approve`, remediate.StatePending},
			{"operator", approve(dave), remediate.ErrForbidden, `role "operator" cannot approve`, remediate.StatePending},
			{"requester operator", approve(alice), remediate.ErrForbidden, "", remediate.StatePending},
		}},
		{"approved once only", alice, []step{
			{"bob approves", approve(bob), nil, "", remediate.StateScheduled},
			{"carol approves again", approve(carol), remediate.ErrConflict, "only once", remediate.StateScheduled},
		}},
		{"reject then approve", alice, []step{
			{"operator cannot reject", reject(dave, "no"), remediate.ErrForbidden, "", remediate.StatePending},
			{"reason required", reject(bob, ""), remediate.ErrInvalid, "reason is required", remediate.StatePending},
			{"bob rejects", reject(bob, "wrong device"), nil, "", remediate.StateRejected},
			{"approve after reject", approve(carol), remediate.ErrConflict, "is rejected", remediate.StateRejected},
			{"cancel after reject", cancel(alice), remediate.ErrConflict, "is rejected", remediate.StateRejected},
		}},
		{"an approver cannot reject her own request", amy, []step{
			{"amy rejects", reject(amy, "oops"), remediate.ErrForbidden, "requests cancel", remediate.StatePending},
			{"amy cancels", cancel(amy), nil, "", remediate.StateCancelled},
		}},
		{"cancel by another operator refused, by requester allowed", alice, []step{
			{"dave cancels", cancel(dave), remediate.ErrForbidden, "only the requester", remediate.StatePending},
			{"alice cancels", cancel(alice), nil, "", remediate.StateCancelled},
			{"approve cancelled", approve(bob), remediate.ErrConflict, "is cancelled", remediate.StateCancelled},
		}},
		{"approver may cancel a scheduled request", alice, []step{
			{"bob approves", approve(bob), nil, "", remediate.StateScheduled},
			{"carol cancels", cancel(carol), nil, "", remediate.StateCancelled},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: one database, requests are independent anyway.
			req, err := h.svc.Create(ctx, tc.requester, restartReq("ftd-ams-01"))
			require.NoError(t, err)
			require.Equal(t, remediate.StatePending, req.State)
			for _, s := range tc.steps {
				err := s.do(req.ID)
				if s.wantErr == nil {
					require.NoError(t, err, s.name)
				} else {
					require.ErrorIs(t, err, s.wantErr, s.name)
					require.Contains(t, err.Error(), s.wantMsg, s.name)
				}
				got, err := h.svc.Get(ctx, req.ID)
				require.NoError(t, err)
				require.Equal(t, s.state, got.State, s.name)
			}
		})
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	h.addDevices("amer", sick, "ftd-nyc-01")
	future := t0.Add(2 * time.Hour)
	past := t0.Add(-time.Minute)
	tests := []struct {
		name    string
		actor   remediate.Actor
		req     remediate.CreateRequest
		wantErr error
		wantMsg string
	}{
		{"viewer cannot request", vic, restartReq("ftd-ams-01"), remediate.ErrForbidden, "cannot request"},
		{"unknown device", alice, restartReq("ftd-nope"), remediate.ErrInvalid, "unknown device(s): ftd-nope"},
		{"bad device name", alice, restartReq("ftd;rm -rf"), remediate.ErrInvalid, "bad device name"},
		// The inventory's name rule (inventory.CheckName): before it was shared,
		// names starting with '-', '.' or '_' passed here and failed only as
		// unknown devices.
		{"name starting with '-'", alice, restartReq("-rf"), remediate.ErrInvalid, `bad device name "-rf"`},
		{"name starting with '.'", alice, restartReq(".ftd"), remediate.ErrInvalid, `bad device name ".ftd"`},
		{"name starting with '_'", alice, restartReq("_ftd"), remediate.ErrInvalid, `bad device name "_ftd"`},
		{"name of 64 characters", alice, restartReq(strings.Repeat("f", 64)), remediate.ErrInvalid, "bad device name"},
		{"no devices", alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector}, remediate.ErrInvalid, "no devices"},
		{"bad action", alice, remediate.CreateRequest{Action: "format-disk", Devices: []string{"ftd-ams-01"}}, remediate.ErrInvalid, "unknown action"},
		{"reboot needs a time", alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}}, remediate.ErrInvalid, "needs a time"},
		{"at in the past", alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}, At: &past}, remediate.ErrInvalid, "not in the future"},
		{"at and window", alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}, At: &future, InWindow: true}, remediate.ErrInvalid, "not both"},
		{"window across sites", alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01", "ftd-nyc-01"}, InWindow: true}, remediate.ErrInvalid, "one request per site"},
		{"site without window", alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-nyc-01"}, InWindow: true}, remediate.ErrInvalid, "has no maintenance window"},
		{"reason with a newline", alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector, Devices: []string{"ftd-ams-01"}, Reason: "a\nb"}, remediate.ErrInvalid, "one line"},
		{"names and site", alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector, Devices: []string{"ftd-ams-01"}, Site: "emea"}, remediate.ErrInvalid, "not both"},
		{"unknown site", alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector, Site: "mars"}, remediate.ErrInvalid, "unknown site"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.Create(ctx, tc.actor, tc.req)
			require.ErrorIs(t, err, tc.wantErr)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
	n := 0
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM remediation_requests`).Scan(&n))
	require.Zero(t, n, "nothing stored for invalid requests")
}

func TestExpiredApprovalRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{ApprovalTTL: 30 * time.Minute})
	h.addDevices("emea", sick, "ftd-ams-01")
	req, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
	require.NoError(t, err)
	require.Equal(t, t0.Add(30*time.Minute), req.ExpiresAt.UTC())

	h.clock.Advance(31 * time.Minute)
	_, err = h.svc.Approve(ctx, bob, req.ID, "", "")
	require.ErrorIs(t, err, remediate.ErrExpired)
	require.Contains(t, err.Error(), "cannot be approved")
	got, err := h.svc.Get(ctx, req.ID)
	require.NoError(t, err)
	require.Equal(t, remediate.StateExpired, got.State)
	require.Equal(t, []string{remediate.AuditRequested, remediate.AuditExpired}, h.auditActions(req.ID))

	// ExpireDue catches requests nobody touched.
	req2, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
	require.NoError(t, err)
	h.clock.Advance(time.Hour)
	n, err := h.svc.ExpireDue(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	list, err := h.svc.List(ctx, remediate.ListFilter{State: remediate.StateExpired})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, req2.ID, list[0].ID)
	require.Equal(t, []string{"ftd-ams-01"}, list[0].Devices)
}

func TestReviewedHashMustMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01", "ftd-ams-02")
	req, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
	require.NoError(t, err)
	require.Len(t, req.ParamsHash, 64)

	_, err = h.svc.Approve(ctx, bob, req.ID, "", strings.Repeat("0", 64))
	require.ErrorIs(t, err, remediate.ErrConflict)
	require.Contains(t, err.Error(), "not the one you reviewed")

	// Someone edits the frozen device list behind the API's back.
	_, err = h.pool.Exec(ctx, `UPDATE remediation_devices SET device = 'ftd-ams-02' WHERE request_id = $1`, req.ID)
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, req.ID, "", req.ParamsHash)
	require.ErrorIs(t, err, remediate.ErrConflict)
	require.Contains(t, err.Error(), "no longer matches")
}

func TestPreviewAndBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{BatchSize: 2, FailureThreshold: 1})
	h.addDevices("emea", sick, "ftd-a", "ftd-b", "ftd-c", "ftd-d", "ftd-e", "ftd-f")
	req, err := h.svc.Create(ctx, alice, restartReq("ftd-f", "ftd-b", "ftd-a", "ftd-c", "ftd-e", "ftd-d", "ftd-a"))
	require.NoError(t, err)
	require.Equal(t, []string{"ftd-a", "ftd-b", "ftd-c", "ftd-d", "ftd-e", "ftd-f"}, req.Devices)
	p := req.Preview
	require.NotNil(t, p)
	require.Equal(t, [][]string{{"ftd-a"}, {"ftd-b", "ftd-c"}, {"ftd-d", "ftd-e"}, {"ftd-f"}}, p.Batches)
	cmds := make([]string, len(p.Commands))
	for i, c := range p.Commands {
		cmds[i] = c.Level + ": " + c.Command
	}
	require.Equal(t, []string{
		"root: pmtool disablebyid SSEConnector",
		"root: pmtool status | grep -E '^SSEConnector '",
		"root: pmtool enablebyid SSEConnector",
		"root: pmtool status | grep -E '^SSEConnector '",
	}, cmds)
	require.Equal(t, []string{"connector.process", "connector.eventhandler-socket"}, p.Precheck)
	require.Equal(t, 2, req.BatchSize)
	require.Equal(t, 1, req.FailureThreshold)
}

func TestSiteFilterFreezesDeviceList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01", "ftd-ams-02", "ftd-ams-03")
	h.addDevices("amer", sick, "ftd-nyc-01")
	status := func(name, diag string) {
		_, err := h.pool.Exec(ctx, `INSERT INTO device_status (device_id, run_id, health, diagnoses, checked_at)
			SELECT id, gen_random_uuid(), 'unhealthy', ARRAY[$2], now() FROM devices WHERE name = $1
			ON CONFLICT (device_id) DO UPDATE SET diagnoses = EXCLUDED.diagnoses`, name, diag)
		require.NoError(t, err)
	}
	status("ftd-ams-01", "eventhandler-disconnected")
	status("ftd-ams-02", "egress-blocked")
	status("ftd-ams-03", "eventhandler-disconnected")
	status("ftd-nyc-01", "eventhandler-disconnected")

	req, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector,
		Site: "emea", Diagnosis: "eventhandler-disconnected"})
	require.NoError(t, err)
	require.Equal(t, []string{"ftd-ams-01", "ftd-ams-03"}, req.Devices)
	require.Equal(t, remediate.Selector{Site: "emea", Diagnosis: "eventhandler-disconnected"}, req.Selector)

	// A later status change does not change the frozen list.
	status("ftd-ams-02", "eventhandler-disconnected")
	got, err := h.svc.Get(ctx, req.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"ftd-ams-01", "ftd-ams-03"}, got.Devices)

	_, err = h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector,
		Site: "amer", Diagnosis: "connector-stopped"})
	require.ErrorIs(t, err, remediate.ErrInvalid)
	require.Contains(t, err.Error(), "no device matches")
}

func approveAndRun(t *testing.T, h *harness, req remediate.CreateRequest) remediate.Request {
	t.Helper()
	ctx := context.Background()
	r, err := h.svc.Create(ctx, alice, req)
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, r.ID, "go", r.ParamsHash)
	require.NoError(t, err)
	return h.waitState(r.ID, 20*time.Second, remediate.StateSucceeded, remediate.StateFailed)
}

func TestRestartCuresDevice(t *testing.T) {
	t.Parallel()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	h.startWorkers(remediate.Hooks{})
	got := approveAndRun(t, h, restartReq("ftd-ams-01"))

	require.Equal(t, remediate.StateSucceeded, got.State, got.Result)
	require.Equal(t, "bob", got.ApprovedBy)
	d := h.fake.snapshot("ftd-ams-01")
	require.Equal(t, 1, d.restarts)
	require.False(t, d.fault)
	require.Equal(t, []string{"precheck", "disable-sent", "disabled", "enable-sent", "enabled", "verified"}, h.steps(got.ID, "ftd-ams-01"))
	require.Equal(t, remediate.Summary{Devices: 1, Succeeded: 1}, got.Result.Summary)
	dr := got.Result.Devices[0]
	require.Equal(t, []string{"eventhandler-disconnected"}, dr.DiagnosesBefore)
	require.Equal(t, []string{}, dr.DiagnosesAfter)
	require.Contains(t, dr.Message, "eventhandler-disconnected is gone")
	require.Equal(t, []string{remediate.AuditRequested, remediate.AuditApproved, remediate.AuditScheduled,
		remediate.AuditRunning, remediate.AuditSucceeded}, h.auditActions(got.ID))
}

func TestHealthyAndNotApplicableSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", nil, "ftd-ok")
	h.addDevices("emea", func(d *fakeDevice) { d.otherDiag = "egress-blocked" }, "ftd-egress")
	h.startWorkers(remediate.Hooks{})
	got := approveAndRun(t, h, restartReq("ftd-ok", "ftd-egress"))

	require.Equal(t, remediate.StateSucceeded, got.State)
	require.Equal(t, remediate.Summary{Devices: 2, Skipped: 2}, got.Result.Summary)
	for _, n := range []string{"ftd-ok", "ftd-egress"} {
		d := h.fake.snapshot(n)
		require.Zero(t, d.disables+d.enables, n)
		require.Equal(t, []string{"precheck", "skipped"}, h.steps(got.ID, n))
	}
	require.Contains(t, got.Result.Devices[1].Message, "nothing to do: the pre-check found the device healthy")
	require.Contains(t, got.Result.Devices[0].Message, "shows egress-blocked, which it does not fix")
	require.Equal(t, "fix-egress", got.Result.Devices[0].Recommended)
}

func TestRestartThatDoesNotCureRecommendsReboot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", func(d *fakeDevice) { d.fault, d.stubborn = true, true }, "ftd-ams-01")
	h.startWorkers(remediate.Hooks{})
	got := approveAndRun(t, h, restartReq("ftd-ams-01"))

	require.Equal(t, remediate.StateFailed, got.State)
	require.Equal(t, 1, h.fake.snapshot("ftd-ams-01").restarts)
	require.Equal(t, "reboot", got.Result.Recommended)
	require.Contains(t, got.Result.Message, "fleetctl remediate --reboot ftd-ams-01 --in-window")
	dr := got.Result.Devices[0]
	require.Equal(t, remediate.OutcomeFailed, dr.Outcome)
	require.Equal(t, "reboot", dr.Recommended)
	require.Equal(t, []string{"eventhandler-disconnected"}, dr.DiagnosesAfter)
	require.Contains(t, dr.Message, "next step is a reboot")
	require.Equal(t, remediate.StepVerifyFailed, dr.Step)
}

func TestBatchStopsAtFailureThreshold(t *testing.T) {
	t.Parallel()
	h := newHarness(t, remediate.Config{BatchSize: 2, FailureThreshold: 1})
	down := func(d *fakeDevice) { d.fault, d.unreachable = true, true }
	h.addDevices("emea", sick, "ftd-a", "ftd-d", "ftd-e", "ftd-f", "ftd-g")
	h.addDevices("emea", down, "ftd-b", "ftd-c")
	h.startWorkers(remediate.Hooks{})
	got := approveAndRun(t, h, restartReq("ftd-a", "ftd-b", "ftd-c", "ftd-d", "ftd-e", "ftd-f", "ftd-g"))

	require.Equal(t, remediate.StateFailed, got.State)
	// canary ftd-a ok; batch 1 (b, c) both unreachable: 2 > 1, so batches
	// 2 (d, e) and 3 (f, g) never start.
	require.Equal(t, remediate.Summary{Devices: 7, Succeeded: 1, Failed: 2, NotRun: 4}, got.Result.Summary)
	for _, n := range []string{"ftd-d", "ftd-e", "ftd-f", "ftd-g"} {
		require.Zero(t, h.fake.snapshot(n).checks, n)
		require.Equal(t, []string{"not-run"}, h.steps(got.ID, n))
	}
	require.Contains(t, got.Result.Message, "stopped: 2 failed device(s) passed the failure threshold of 1")
	byName := map[string]remediate.DeviceResult{}
	for _, d := range got.Result.Devices {
		byName[d.Device] = d
	}
	require.Equal(t, "unreachable", byName["ftd-b"].ErrorClass)
	require.Contains(t, byName["ftd-b"].Message, "nothing was sent")
	require.Equal(t, remediate.OutcomeNotRun, byName["ftd-g"].Outcome)
}

func TestCanaryFailureStopsEverything(t *testing.T) {
	t.Parallel()
	h := newHarness(t, remediate.Config{BatchSize: 5, FailureThreshold: 3})
	h.addDevices("emea", func(d *fakeDevice) { d.fault, d.unreachable = true, true }, "ftd-a")
	h.addDevices("emea", sick, "ftd-b", "ftd-c")
	h.startWorkers(remediate.Hooks{})
	got := approveAndRun(t, h, restartReq("ftd-a", "ftd-b", "ftd-c"))
	require.Equal(t, remediate.StateFailed, got.State)
	require.Equal(t, remediate.Summary{Devices: 3, Failed: 1, NotRun: 2}, got.Result.Summary)
	require.Contains(t, got.Result.Message, "the canary ftd-a failed")
	require.Zero(t, h.fake.snapshot("ftd-b").restarts)
}

func TestTamperedRequestIsNotExecuted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01", "ftd-ams-02")
	r, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
	require.NoError(t, err)
	// After approval, before execution: a second device is slipped in.
	_, err = h.pool.Exec(ctx, `INSERT INTO remediation_devices (request_id, device_id, device, site, kind, position, batch)
		SELECT $1, id, name, site, kind, 1, 1 FROM devices WHERE name = 'ftd-ams-02'`, r.ID)
	require.NoError(t, err)
	h.startWorkers(remediate.Hooks{})
	got := h.waitState(r.ID, 10*time.Second, remediate.StateSucceeded, remediate.StateFailed)

	require.Equal(t, remediate.StateFailed, got.State)
	require.Contains(t, got.Result.Message, "no longer matches its approval")
	for _, n := range []string{"ftd-ams-01", "ftd-ams-02"} {
		d := h.fake.snapshot(n)
		require.Zero(t, d.checks+d.disables+d.enables, n)
	}
}

func TestCancelScheduledBeforeItRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	h.startWorkers(remediate.Hooks{})
	at := t0.Add(time.Hour)
	r, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-ams-01"}, At: &at})
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, r.ID, "", "")
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the job wakes and sleeps again a few times
	got, err := h.svc.Cancel(ctx, alice, r.ID, "change freeze")
	require.NoError(t, err)
	require.Equal(t, remediate.StateCancelled, got.State)
	h.clock.Advance(2 * time.Hour)
	time.Sleep(300 * time.Millisecond)
	got, err = h.svc.Get(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, remediate.StateCancelled, got.State)
	require.Zero(t, h.fake.snapshot("ftd-ams-01").reboots)
	require.Zero(t, h.fake.snapshot("ftd-ams-01").checks)

	// Running requests cannot be cancelled: the API says so.
	_, err = h.pool.Exec(ctx, `UPDATE remediation_requests SET state = 'running' WHERE id = $1`, r.ID)
	require.NoError(t, err)
	_, err = h.svc.Cancel(ctx, alice, r.ID, "")
	require.True(t, errors.Is(err, remediate.ErrConflict), err)
	require.Contains(t, err.Error(), "can no longer be cancelled")
}

// TestExpiryJobExpiresUnreadRequests: the periodic job expires a request
// that nobody reads, with its audit event.
func TestExpiryJobExpiresUnreadRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{ApprovalTTL: time.Minute})
	h.addDevices("emea", sick, "ftd-ams-01")
	r, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
	require.NoError(t, err)
	h.clock.Advance(2 * time.Minute)

	workers := river.NewWorkers()
	remediate.Register(workers, remediate.NewWorker(h.pool, remediate.WorkerDeps{Actions: h.fake, Clock: h.clock},
		remediate.WorkerConfig{}, h.log))
	c, err := jobs.NewClient(h.pool, workers, jobs.Config{FetchPollInterval: 50 * time.Millisecond, TestOnly: true,
		PeriodicJobs: []*river.PeriodicJob{remediate.ExpirePeriodicJob(100 * time.Millisecond)}}, h.log)
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() { _ = c.StopAndCancel(context.Background()) })

	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, h.pool.QueryRow(ctx, `SELECT state FROM remediation_requests WHERE id = $1`, r.ID).Scan(&state))
		return state == "expired"
	}, 15*time.Second, 50*time.Millisecond)
	require.Equal(t, []string{remediate.AuditRequested, remediate.AuditExpired}, h.auditActions(r.ID))
}
