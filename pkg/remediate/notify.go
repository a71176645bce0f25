package remediate

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/notify"
)

// Notifier queues a notification inside a transaction, so that it goes out
// if and only if the state change it reports commits (*notify.Service).
type Notifier interface {
	NotifyTx(ctx context.Context, tx pgx.Tx, ev notify.Event) error
}

// SetNotifier makes Create announce each new pending request
// (approval.pending). nil (the default) sends nothing. Call it before the
// service is used: it is not synchronised with running calls.
func (s *Service) SetNotifier(n Notifier) { s.notify = n }

// SetNotifier makes the worker announce each request that ends succeeded
// or failed (remediation.finished). nil (the default) sends nothing. Call
// it before the worker is registered with a River client.
func (w *Worker) SetNotifier(n Notifier) { w.notify = n }

// finishedEvent is the remediation.finished event of a request that ended
// in state with result res.
func finishedEvent(r Request, state State, res Result) notify.Event {
	s := res.Summary
	info := notify.RemediationInfo{RequestID: r.ID.String(), Action: string(r.Action), State: string(state),
		Succeeded: s.Succeeded, Skipped: s.Skipped, Failed: s.Failed,
		// Devices still pending when a request is failed as a whole (fleetd
		// gave up) were not run either.
		NotRun:     s.NotRun + s.Pending,
		ApprovedBy: r.ApprovedBy, Summary: res.Message}
	for _, d := range res.Devices {
		if d.Outcome == OutcomeFailed {
			info.FailedOn = append(info.FailedOn, d.Device)
		}
	}
	return notify.RemediationFinished(info)
}
