package remediate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sim"
)

// TestE2EApprovedDeviceSwappedBeforeRun replays issue 10 §1: ops1 requests a
// connector restart of ftd-emea-00011 for later, lead2 approves; ops1 then
// deletes the device, adds it again under the same name at another box's
// address, lets a diagnose record that box's key and accepts it. When the
// time comes, no pmtool command reaches either box, the device ends failed
// naming what changed, and an audit event records the refusal.
func TestE2EApprovedDeviceSwappedBeforeRun(t *testing.T) {
	t.Parallel()
	const name = "ftd-emea-00011"
	w := newWorld(t, worldOpts{offInventory: []string{"box-b"}, devices: []sim.DeviceSpec{
		ftd(name, "emea", sim.FaultEventHandlerDisconnected),
		ftd("box-b", "emea", sim.FaultEventHandlerDisconnected), // the other simulated box
	}})
	w.startWorkers(remediate.Hooks{})
	boxA, boxB := w.dev(name), w.dev("box-b")

	// ops1 requests for later; the preview shows the frozen identity.
	at := t0.Add(2 * time.Hour)
	r := w.request(requester, "--restart-connector", name, "--at", at.Format(time.RFC3339), "--reason", "INC-11")
	require.Len(t, r.Preview.Devices, 1)
	frozen := r.Preview.Devices[0]
	require.Equal(t, boxA.Addr(), frozen.Address)
	require.Equal(t, "lab", frozen.Credential)
	require.Equal(t, boxA.Fingerprint(), frozen.HostKey)
	show := w.ctlOK(approver, "requests", "show", r.ID.String())
	require.Contains(t, show, boxA.Addr())
	require.Contains(t, show, boxA.Fingerprint())

	list := w.ctlOK(approver, "approvals", "list")
	require.Contains(t, list, name+"@"+boxA.Addr()+"("+boxA.Fingerprint()[:19]+"…)")

	// lead2 approves what was shown.
	w.ctlOK(approver, "approve", r.ID.String(), "--params-hash", r.ParamsHash)

	// ops1 swaps the device behind the approval.
	w.ctlOK(requester, "device", "rm", name)
	w.ctlOK(requester, "device", "add", name, "--kind", "ftd", "--site", "emea", "--address", boxB.Addr(), "--credential", "lab")
	w.diagnoseKey(name) // records box-b's key as pending
	out := w.ctlOK(requester, "hostkey", "accept", name)
	require.Contains(t, out, name)
	pinned, err := w.svc.Inventory.PinnedHostKey(w.ctx, name)
	require.NoError(t, err)
	require.Equal(t, boxB.Fingerprint(), ssh.FingerprintSHA256(pinned), "the attacker's box is now pinned under the name")
	before := [2]sim.Counters{boxA.Counters(), boxB.Counters()}

	// The scheduled time comes.
	w.clock.Set(at.Add(time.Minute))
	got := w.waitFinal(r.ID)
	require.Equal(t, api.RequestFailed, got.State)
	dr := got.DeviceResults[0]
	require.Equal(t, remediate.OutcomeFailed, dr.Outcome)
	require.Equal(t, remediate.ClassIdentityChanged, dr.ErrorClass)
	for _, want := range []string{"refused: device " + name + " changed since approval: ",
		"(deleted and re-added)", "address " + boxA.Addr() + " → " + boxB.Addr(),
		"host key " + boxA.Fingerprint() + " → " + boxB.Fingerprint(), "; nothing was sent"} {
		require.Contains(t, dr.Message, want)
	}

	// Nothing reached either box: not a login, let alone pmtool.
	for i, d := range []*sim.Device{boxA, boxB} {
		c := d.Counters()
		require.Zero(t, c.ConnectorDisables+c.ConnectorEnables+c.ConnectorRestarts+c.Reboots, "%s: %+v", d.Name(), c)
		require.Equal(t, before[i].Logins, c.Logins, "%s: no login after approval", d.Name())
		require.Equal(t, before[i].Commands, c.Commands, "%s: no command after approval", d.Name())
	}
	require.True(t, hasFault(boxA, sim.FaultEventHandlerDisconnected))
	require.True(t, hasFault(boxB, sim.FaultEventHandlerDisconnected))

	// Audited, and shown.
	evs, err := audit.List(w.ctx, w.svc.Pool, audit.Filter{TargetKind: remediate.TargetRemediation, Target: r.ID.String(),
		Action: remediate.AuditDeviceRefused})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, name, evs[0].Details["device"])
	show = w.ctlOK(viewer, "requests", "show", r.ID.String())
	require.Contains(t, show, remediate.AuditDeviceRefused)
	require.Contains(t, show, "changed since approval")
}

// TestE2EStalePreviewNotApproved: the device was swapped between the
// request and its approval; the approver's approval is refused.
func TestE2EStalePreviewNotApproved(t *testing.T) {
	t.Parallel()
	const name = "ftd-emea-00012"
	w := newWorld(t, worldOpts{offInventory: []string{"box-c"}, devices: []sim.DeviceSpec{
		ftd(name, "emea", sim.FaultEventHandlerDisconnected), ftd("box-c", "emea")}})
	r := w.request(requester, "--restart-connector", name)
	w.ctlOK(requester, "device", "rm", name)
	w.ctlOK(requester, "device", "add", name, "--kind", "ftd", "--site", "emea", "--address", w.dev("box-c").Addr(), "--credential", "lab")
	w.diagnoseKey(name)
	w.ctlOK(requester, "hostkey", "accept", name)

	code, _, errOut := w.ctl(approver, "approve", r.ID.String())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "cannot be approved: its devices changed since it was requested")
	require.Contains(t, errOut, "(deleted and re-added)")
	got, _ := w.show(r.ID)
	require.Equal(t, api.RequestPending, got.State)

	// A hash other than the one shown is refused too.
	r2 := w.request(requester, "--restart-connector", name)
	code, _, errOut = w.ctl(approver, "approve", r2.ID.String(), "--params-hash", r.ParamsHash)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "is not the one you reviewed")
}

// TestE2ESessionBoundToFrozenHostKey: even when the inventory agrees, a
// session of an approved request accepts only the frozen key: a box that
// presents another is refused before any password is sent.
func TestE2ESessionBoundToFrozenHostKey(t *testing.T) {
	t.Parallel()
	const name = "ftd-emea-00013"
	w := newWorld(t, worldOpts{devices: []sim.DeviceSpec{ftd(name, "emea", sim.FaultEventHandlerDisconnected)}})
	box := w.dev(name)
	inv, err := w.svc.Inventory.Get(w.ctx, name)
	require.NoError(t, err)
	dev := remediate.Device{ID: uuid.MustParse(inv.ID), Name: name, Site: "emea", Kind: "ftd", Address: inv.Address,
		Credential: "lab", HostKey: "SHA256:not-the-box-key"}
	a := w.actions.Check(w.ctx, dev)
	require.Equal(t, runs.HealthError, a.Health)
	require.Equal(t, string(runner.ClassHostKeyMismatch), a.ErrorClass, a.Error)
	require.Contains(t, a.Error, "the approved request froze SHA256:not-the-box-key")
	require.Zero(t, box.Counters().PasswordsReceived, "no secret sent to a box that is not the approved one")
	require.Zero(t, box.Counters().Logins)

	// The frozen key itself works.
	dev.HostKey = box.Fingerprint()
	a = w.actions.Check(w.ctx, dev)
	require.NotEqual(t, runs.HealthError, a.Health, a.Error)

	// Deleted since: the session is refused without dialling.
	w.ctlOK(requester, "device", "rm", name)
	conns := box.Counters().Connections
	a = w.actions.Check(w.ctx, dev)
	require.Equal(t, runs.HealthError, a.Health)
	require.Contains(t, a.Error, "id "+inv.ID)
	require.Equal(t, conns, box.Counters().Connections)
}

// diagnoseKey opens a session to the device the way a diagnose does under
// the strict policy: the runner's host-key check records the presented key
// as pending (and nothing is sent, as the key is unknown).
func (w *world) diagnoseKey(name string) {
	w.t.Helper()
	res, err := w.targets.Resolve(w.ctx, name)
	require.NoError(w.t, err)
	res.Target.HostKeyPolicy = runner.HostKeyStrict
	rr := w.runner.Session(w.ctx, res.Target, func(context.Context, *runner.Session) error { return nil })
	require.ErrorIs(w.t, rr.Err, runner.ErrHostKeyUnknown)
	out := w.ctlOK(viewer, "hostkey", "list", "--state", "pending")
	require.True(w.t, strings.Contains(out, name), out)
}
