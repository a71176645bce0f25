package remediate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// TestFrozenIdentityInPreview: a request freezes each device's id, address,
// credential and pinned host key; the preview shows them and they are in
// the hash the approver approves.
func TestFrozenIdentityInPreview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	var id string
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT id::text FROM devices WHERE name = 'ftd-ams-01'`).Scan(&id))

	req, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
	require.NoError(t, err)
	require.Len(t, req.Preview.Devices, 1)
	p := req.Preview.Devices[0]
	require.Equal(t, "ftd-ams-01", p.Device)
	require.Equal(t, id, p.ID.String())
	require.Equal(t, "127.0.0.1", p.Address)
	require.Equal(t, "lab", p.Credential)
	require.Equal(t, fakeFingerprint("ftd-ams-01"), p.HostKey)

	// Changing a frozen field behind the API's back breaks the hash.
	_, err = h.pool.Exec(ctx, `UPDATE remediation_devices SET host_key = 'SHA256:other' WHERE request_id = $1`, req.ID)
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, req.ID, "", req.ParamsHash)
	require.ErrorIs(t, err, remediate.ErrConflict)
	require.Contains(t, err.Error(), "no longer matches")
}

// TestRequestNeedsPinnedHostKey: without a pinned key nothing says which
// box an approval is of, so no request is made.
func TestRequestNeedsPinnedHostKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01", "ftd-ams-02")
	_, err := h.pool.Exec(ctx, `DELETE FROM host_keys WHERE device_id = (SELECT id FROM devices WHERE name = 'ftd-ams-02')`)
	require.NoError(t, err)
	_, err = h.svc.Create(ctx, alice, restartReq("ftd-ams-01", "ftd-ams-02"))
	require.ErrorIs(t, err, remediate.ErrInvalid)
	require.Contains(t, err.Error(), "1 device(s) have no pinned host key")
	require.Contains(t, err.Error(), "ftd-ams-02; diagnose them first")
	require.NotContains(t, err.Error(), "ftd-ams-01")
}

// identityChange is one way the inventory moves on between approval and
// execution.
type identityChange struct {
	name    string
	change  func(h *harness, device string)
	wantMsg []string
}

func identityChanges() []identityChange {
	exec := func(h *harness, sql string, args ...any) {
		_, err := h.pool.Exec(context.Background(), sql, args...)
		require.NoError(h.t, err)
	}
	return []identityChange{
		{"address only", func(h *harness, d string) {
			exec(h, `UPDATE devices SET address = '127.0.0.99:22' WHERE name = $1`, d)
		}, []string{"address 127.0.0.1 → 127.0.0.99:22"}},
		{"credential only", func(h *harness, d string) {
			exec(h, `INSERT INTO credentials (name, username) VALUES ('other', 'admin') ON CONFLICT DO NOTHING`)
			exec(h, `UPDATE devices SET credential = 'other' WHERE name = $1`, d)
		}, []string{"credential lab → other"}},
		{"host key only", func(h *harness, d string) {
			h.pinKey(d, "SHA256:replaced")
		}, []string{"host key " + "SHA256:key-of-", " → SHA256:replaced"}},
		{"host key unpinned", func(h *harness, d string) {
			exec(h, `DELETE FROM host_keys WHERE device_id = (SELECT id FROM devices WHERE name = $1)`, d)
		}, []string{"→ (none)"}},
		{"deleted", func(h *harness, d string) {
			exec(h, `DELETE FROM devices WHERE name = $1`, d)
		}, []string{"deleted from the inventory (id "}},
		{"deleted and re-added elsewhere", func(h *harness, d string) {
			exec(h, `DELETE FROM devices WHERE name = $1`, d)
			exec(h, `INSERT INTO devices (name, kind, site, address, credential) VALUES ($1, 'ftd', 'emea', '127.0.0.99:22', 'lab')`, d)
			h.pinKey(d, "SHA256:attacker")
		}, []string{"(deleted and re-added)", "address 127.0.0.1 → 127.0.0.99:22", "→ SHA256:attacker"}},
	}
}

// TestChangedDeviceRefusedAtExecution: whatever frozen field changes after
// approval, the device ends failed with what changed, an audit event
// records it, and nothing reaches the device (not even a pre-check).
func TestChangedDeviceRefusedAtExecution(t *testing.T) {
	t.Parallel()
	h := newHarness(t, remediate.Config{})
	ctx := context.Background()
	h.startWorkers(remediate.Hooks{})
	for i, tc := range identityChanges() {
		t.Run(tc.name, func(t *testing.T) {
			name := "ftd-chg-" + string(rune('a'+i))
			h.addDevices("emea", sick, name)
			// Not yet started: scheduled for later, so the change lands after approval.
			at := h.clock.Now().Add(time.Hour)
			r, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector,
				Devices: []string{name}, At: &at, Reason: "INC-2"})
			require.NoError(t, err)
			_, err = h.svc.Approve(ctx, bob, r.ID, "ok", r.ParamsHash)
			require.NoError(t, err)
			tc.change(h, name)
			h.clock.Advance(2 * time.Hour)

			got := h.waitState(r.ID, 20*time.Second, remediate.StateSucceeded, remediate.StateFailed)
			require.Equal(t, remediate.StateFailed, got.State)
			dr := got.Result.Devices[0]
			require.Equal(t, remediate.OutcomeFailed, dr.Outcome)
			require.Equal(t, remediate.ClassIdentityChanged, dr.ErrorClass)
			require.True(t, strings.HasPrefix(dr.Message, "refused: device "+name+" changed since approval: "), dr.Message)
			require.True(t, strings.HasSuffix(dr.Message, "; nothing was sent"), dr.Message)
			for _, want := range tc.wantMsg {
				require.Contains(t, dr.Message, want)
			}
			require.Equal(t, []string{"failed"}, h.steps(r.ID, name), "no pre-check journalled")
			f := h.fake.snapshot(name)
			require.Zero(t, f.checks+f.disables+f.enables+f.reboots, "nothing reached the device: %+v", f)

			evs, err := audit.List(ctx, h.pool, audit.Filter{TargetKind: remediate.TargetRemediation, Target: r.ID.String(),
				Action: remediate.AuditDeviceRefused})
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, remediate.SystemActor, evs[0].Actor)
			require.Equal(t, name, evs[0].Details["device"])
			require.Equal(t, dr.Message, evs[0].Details["why"])
			h.clock.Advance(-2 * time.Hour)
		})
	}
}

// TestChangedDeviceRefusedAtApproval: a preview whose devices changed since
// the request was made is stale; approving it is refused.
func TestChangedDeviceRefusedAtApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	for i, tc := range identityChanges() {
		t.Run(tc.name, func(t *testing.T) {
			name := "ftd-stale-" + string(rune('a'+i))
			h.addDevices("emea", sick, name)
			r, err := h.svc.Create(ctx, alice, restartReq(name))
			require.NoError(t, err)
			tc.change(h, name)
			_, err = h.svc.Approve(ctx, bob, r.ID, "ok", r.ParamsHash)
			require.ErrorIs(t, err, remediate.ErrConflict)
			require.Contains(t, err.Error(), "cannot be approved: its devices changed since it was requested ("+name+": ")
			for _, want := range tc.wantMsg {
				require.Contains(t, err.Error(), want)
			}
			got, err := h.svc.Get(ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, remediate.StatePending, got.State)
		})
	}
}

// toLegacy rewrites a stored request as fleetd stored it before device
// identities were frozen (parameters v1), with a hash that verifies.
func toLegacy(t *testing.T, h *harness, id any) {
	t.Helper()
	ctx := context.Background()
	_, err := h.pool.Exec(ctx, `UPDATE remediation_requests SET params_version = 1 WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = h.pool.Exec(ctx, `UPDATE remediation_devices SET address = '', credential = '', host_key = '' WHERE request_id = $1`, id)
	require.NoError(t, err)
}

// TestLegacyRequestVerifiesButIsRefused: a v1 request's hash still
// verifies (it is not reported as tampered), but it is neither approved nor
// run: nothing says which boxes were approved.
func TestLegacyRequestVerifiesButIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-old-1", "ftd-old-2")

	// Pending at the upgrade: cannot be approved.
	pending, err := h.svc.Create(ctx, alice, restartReq("ftd-old-1"))
	require.NoError(t, err)
	toLegacy(t, h, pending.ID)
	v1, err := remediate.StoredHashForTest(ctx, h.pool, pending.ID)
	require.NoError(t, err)
	_, err = h.pool.Exec(ctx, `UPDATE remediation_requests SET params_hash = $2 WHERE id = $1`, pending.ID, v1)
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, pending.ID, "ok", v1)
	require.ErrorIs(t, err, remediate.ErrConflict)
	require.Contains(t, err.Error(), "was made before fleetd froze device identities")
	require.NotContains(t, err.Error(), "no longer matches")

	// Approved and scheduled at the upgrade: refused when it comes to run.
	at := h.clock.Now().Add(time.Hour)
	sched, err := h.svc.Create(ctx, alice, remediate.CreateRequest{Action: remediate.ActionRestartConnector,
		Devices: []string{"ftd-old-2"}, At: &at})
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, sched.ID, "ok", sched.ParamsHash)
	require.NoError(t, err)
	toLegacy(t, h, sched.ID)
	v1, err = remediate.StoredHashForTest(ctx, h.pool, sched.ID)
	require.NoError(t, err)
	_, err = h.pool.Exec(ctx, `UPDATE remediation_requests SET params_hash = $2, approved_hash = $2 WHERE id = $1`, sched.ID, v1)
	require.NoError(t, err)
	h.startWorkers(remediate.Hooks{})
	h.clock.Advance(2 * time.Hour)
	got := h.waitState(sched.ID, 20*time.Second, remediate.StateSucceeded, remediate.StateFailed)
	require.Equal(t, remediate.StateFailed, got.State)
	require.Contains(t, got.Result.Message, "approved before fleetd froze device identities")
	require.Contains(t, got.Result.Message, "make a new request")
	require.NotContains(t, got.Result.Message, "no longer matches its approval")
	require.Equal(t, remediate.OutcomeNotRun, got.Result.Devices[0].Outcome)
	f := h.fake.snapshot("ftd-old-2")
	require.Zero(t, f.checks+f.disables+f.enables, "nothing reached the device: %+v", f)
}

// TestSelfApprovalIgnoresCase replays §4: `Lead1` approved `lead1`'s request.
func TestSelfApprovalIgnoresCase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-ams-01")
	lead1 := remediate.Actor{Name: "lead1", Role: "approver"}
	Lead1 := remediate.Actor{Name: "Lead1", Role: "approver"}
	r, err := h.svc.Create(ctx, lead1, restartReq("ftd-ams-01"))
	require.NoError(t, err)

	_, err = h.svc.Approve(ctx, Lead1, r.ID, "ok", r.ParamsHash)
	require.ErrorIs(t, err, remediate.ErrSelfApproval)
	require.Contains(t, err.Error(), "Lead1 requested "+r.ID.String()+" as lead1")
	_, err = h.svc.Reject(ctx, remediate.Actor{Name: "LEAD1", Role: "admin"}, r.ID, "no")
	require.ErrorIs(t, err, remediate.ErrForbidden)
	got, err := h.svc.Get(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, remediate.StatePending, got.State)

	// The database refuses it too, whatever writes the row.
	_, err = h.pool.Exec(ctx, `UPDATE remediation_requests SET approved_by = 'LeAd1' WHERE id = $1`, r.ID)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23514", pgErr.Code, "check violation")
	require.Equal(t, "remediation_requests_two_person_check", pgErr.ConstraintName)

	// Someone else still may.
	_, err = h.svc.Approve(ctx, bob, r.ID, "ok", r.ParamsHash)
	require.NoError(t, err)
}

// TestChangedDeviceNamedAmongMany: the approval-time lookup (one query for
// all devices) names exactly the devices that changed.
func TestChangedDeviceNamedAmongMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{})
	h.addDevices("emea", sick, "ftd-m-1", "ftd-m-2", "ftd-m-3", "ftd-m-4")
	r, err := h.svc.Create(ctx, alice, restartReq("ftd-m-1", "ftd-m-2", "ftd-m-3", "ftd-m-4"))
	require.NoError(t, err)
	_, err = h.pool.Exec(ctx, `UPDATE devices SET address = '127.0.0.42' WHERE name = 'ftd-m-2'`)
	require.NoError(t, err)
	_, err = h.pool.Exec(ctx, `DELETE FROM devices WHERE name = 'ftd-m-4'`)
	require.NoError(t, err)
	_, err = h.svc.Approve(ctx, bob, r.ID, "ok", r.ParamsHash)
	require.ErrorIs(t, err, remediate.ErrConflict)
	require.Contains(t, err.Error(), "(ftd-m-2: address 127.0.0.1 → 127.0.0.42; ftd-m-4: deleted from the inventory (id ")
	require.NotContains(t, err.Error(), "ftd-m-1:")
	require.NotContains(t, err.Error(), "ftd-m-3:")
}
