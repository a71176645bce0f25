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
