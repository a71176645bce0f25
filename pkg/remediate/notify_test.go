package remediate_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// txNotifier is a recording fake Notifier that writes each event through
// the caller's transaction, as *notify.Service does (a River insert): an
// event whose transaction rolls back leaves no trace. failAfterWrite makes
// the next calls for an event type fail once the row is written, as a
// failed insert aborts the transaction.
type txNotifier struct {
	pool           *pgxpool.Pool
	mu             sync.Mutex
	failAfterWrite map[string]int
	calls          map[string]int
}

func newTxNotifier(t *testing.T, h *harness) *txNotifier {
	t.Helper()
	_, err := h.pool.Exec(context.Background(),
		`CREATE TABLE test_notifications (seq bigserial PRIMARY KEY, type text NOT NULL, body jsonb NOT NULL)`)
	require.NoError(t, err)
	n := &txNotifier{pool: h.pool, failAfterWrite: map[string]int{}, calls: map[string]int{}}
	h.withNotifier(n)
	return n
}

var errQueueDown = errors.New("queue notification: connection reset")

func (n *txNotifier) NotifyTx(ctx context.Context, tx pgx.Tx, ev notify.Event) error {
	n.mu.Lock()
	n.calls[ev.Type]++
	fail := n.failAfterWrite[ev.Type] > 0
	if fail {
		n.failAfterWrite[ev.Type]--
	}
	n.mu.Unlock()
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO test_notifications (type, body) VALUES ($1, $2)`, ev.Type, body); err != nil {
		return err
	}
	if fail {
		return errQueueDown
	}
	return nil
}

func (n *txNotifier) failNext(typ string, times int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failAfterWrite[typ] = times
}

func (n *txNotifier) callCount(typ string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[typ]
}

// sent returns the committed events of a type, oldest first.
func (n *txNotifier) sent(t *testing.T, typ string) []notify.Event {
	t.Helper()
	rows, err := n.pool.Query(context.Background(), `SELECT body FROM test_notifications WHERE type = $1 ORDER BY seq`, typ)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (notify.Event, error) {
		var ev notify.Event
		err := row.Scan(&ev)
		return ev, err
	})
	require.NoError(t, err)
	return out
}

func TestNotifyApprovalPendingOnCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, remediate.Config{ApprovalTTL: time.Hour})
	h.addDevices("emea", sick, "ftd-ams-01", "ftd-ams-02")
	n := newTxNotifier(t, h)

	req, err := h.svc.Create(ctx, alice, restartReq("ftd-ams-02", "ftd-ams-01"))
	require.NoError(t, err)
	evs := n.sent(t, notify.EventApprovalPending)
	require.Len(t, evs, 1)
	require.Equal(t, "approval.pending/"+req.ID.String(), evs[0].ID)
	var info notify.ApprovalInfo
	require.NoError(t, json.Unmarshal(evs[0].Data, &info))
	require.Equal(t, notify.ApprovalInfo{RequestID: req.ID.String(), Action: "restart-connector",
		Devices: []string{"ftd-ams-01", "ftd-ams-02"}, RequestedBy: "alice", Reason: "INC-1: no events in XDR",
		ExpiresAt: t0.Add(time.Hour)}, info)
	require.Contains(t, evs[0].Lines[1], "fleetctl approve "+req.ID.String())

	// Deciding on it is not a new pending request; an invalid request is
	// not one at all.
	_, err = h.svc.Approve(ctx, bob, req.ID, "", "")
	require.NoError(t, err)
	_, err = h.svc.Create(ctx, alice, restartReq("ftd-nope"))
	require.ErrorIs(t, err, remediate.ErrInvalid)
	require.Len(t, n.sent(t, notify.EventApprovalPending), 1)

	// A request whose transaction rolls back is announced to nobody, and
	// the caller learns it was not created.
	n.failNext(notify.EventApprovalPending, 1)
	_, err = h.svc.Create(ctx, alice, restartReq("ftd-ams-01"))
	require.ErrorIs(t, err, errQueueDown)
	require.Equal(t, 2, n.callCount(notify.EventApprovalPending), "the valid creates tried to notify, the invalid one not")
	require.Len(t, n.sent(t, notify.EventApprovalPending), 1, "its event rolled back with it")
	var stored int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM remediation_requests`).Scan(&stored))
	require.Equal(t, 1, stored, "nor was the request stored")
}

func TestNotifyRemediationFinished(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dev  func(d *fakeDevice)
		// failFinish makes the first finish transactions fail after the
		// event was written: they roll back and River retries the job.
		failFinish int
		want       notify.RemediationInfo
		wantCalls  int
	}{
		{name: "succeeded", dev: sick, wantCalls: 1,
			want: notify.RemediationInfo{Action: "restart-connector", State: "succeeded", Succeeded: 1, ApprovedBy: "bob",
				Summary: "1 of 1 device(s) remediated"}},
		{name: "failed", dev: func(d *fakeDevice) { d.fault, d.stubborn = true, true }, wantCalls: 1,
			want: notify.RemediationInfo{Action: "restart-connector", State: "failed", Failed: 1, ApprovedBy: "bob",
				FailedOn: []string{"ftd-ams-01"}}},
		{name: "finish rolled back once, then committed", dev: sick, failFinish: 1, wantCalls: 2,
			want: notify.RemediationInfo{Action: "restart-connector", State: "succeeded", Succeeded: 1, ApprovedBy: "bob",
				Summary: "1 of 1 device(s) remediated"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, remediate.Config{})
			h.addDevices("emea", tc.dev, "ftd-ams-01")
			n := newTxNotifier(t, h)
			n.failNext(notify.EventRemediationFinished, tc.failFinish)
			h.startWorkers(remediate.Hooks{})
			got := approveAndRun(t, h, restartReq("ftd-ams-01"))
			require.Equal(t, remediate.State(tc.want.State), got.State, got.Result.Message)

			evs := n.sent(t, notify.EventRemediationFinished)
			require.Len(t, evs, 1, "exactly one event per finished request")
			require.Equal(t, "remediation.finished/"+got.ID.String(), evs[0].ID)
			var info notify.RemediationInfo
			require.NoError(t, json.Unmarshal(evs[0].Data, &info))
			want := tc.want
			want.RequestID = got.ID.String()
			if want.Summary == "" {
				want.Summary = got.Result.Message
			}
			require.Equal(t, want, info)
			require.Equal(t, tc.wantCalls, n.callCount(notify.EventRemediationFinished))
			require.Equal(t, 1, h.fake.snapshot("ftd-ams-01").restarts, "a retried finish does not act again")
			// The request is final: nothing later announces it again.
			time.Sleep(100 * time.Millisecond)
			require.Len(t, n.sent(t, notify.EventRemediationFinished), 1)
		})
	}
}
