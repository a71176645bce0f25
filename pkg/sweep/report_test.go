package sweep_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

func TestReportOnceWithRequestsAndNotification(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-ok", "ftd-eh1", "ftd-eh2", "ftd-held", "ftd-egress", "ftd-dark")
	withRequests := nightly("nightly")
	withRequests.CreateRemediationRequests = true
	s := e.service(t, withRequests)

	// ftd-held is already in an open (pending) request: not asked again.
	reqID := uuid.New()
	_, err := e.pool.Exec(ctx, `INSERT INTO remediation_requests (id, action, state, requested_by, schedule,
			batch_size, failure_threshold, params_hash, created_at, expires_at)
		VALUES ($1, 'restart-connector', 'pending', 'ops', 'now', 10, 3, 'h', now(), now() + interval '1 hour')`, reqID)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO remediation_devices (request_id, device_id, device, site, kind, position, batch)
		VALUES ($1, $2, 'ftd-held', 'emea', 'ftd', 0, 0)`, reqID, e.devices["ftd-held"])
	require.NoError(t, err)

	id := e.run(t, runs.KindSweep, "nightly", runs.Selector{All: true}, map[string]string{"ftd-ok": "healthy",
		"ftd-eh1": "eh", "ftd-eh2": "eh", "ftd-held": "eh", "ftd-egress": "egress", "ftd-dark": "timeout"})

	rep, err := s.Report(ctx, id)
	require.NoError(t, err)
	require.True(t, rep.NotifiedNow)
	require.Len(t, e.requests.calls, 1)
	call := e.requests.calls[0]
	require.Equal(t, "sweep:nightly", call.by)
	require.Equal(t, []string{"ftd-eh1", "ftd-eh2"}, call.devices, "curable devices not in an open request")
	require.Contains(t, call.reason, id.String())
	require.Equal(t, []uuid.UUID{call.id}, rep.Requests)

	events := e.notifier.all()
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, notify.EventSweepCompleted, ev.Type)
	require.Equal(t, "sweep.completed/"+id.String(), ev.ID)
	require.Contains(t, ev.Title, "4 newly unhealthy")
	require.Contains(t, ev.Title, "1 unreachable")
	var data sweep.SweepEventData
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	require.Equal(t, "nightly", data.Schedule)
	require.Equal(t, 4, data.Diff.Summary.NewlyUnhealthy)
	require.Equal(t, []uuid.UUID{call.id}, data.RemediationRequests)
	require.Contains(t, ev.Lines[len(ev.Lines)-1], call.id.String())

	// Again (a retried job, the maintenance reconciliation): nothing new.
	again, err := s.Report(ctx, id)
	require.NoError(t, err)
	require.False(t, again.NotifiedNow)
	require.Len(t, e.requests.calls, 1)
	require.Len(t, e.notifier.all(), 1)
	require.Equal(t, rep.Requests, again.Requests)

	// Diagnose runs get no report; unfinished sweeps wait.
	diag := e.run(t, runs.KindDiagnose, "", runs.Selector{All: true}, map[string]string{"ftd-ok": "healthy"})
	_, err = s.Report(ctx, diag)
	require.ErrorContains(t, err, "not a sweep")
	pending := e.run(t, runs.KindSweep, "nightly", runs.Selector{All: true}, map[string]string{"ftd-ok": "healthy"})
	_, err = s.Report(ctx, pending)
	require.ErrorContains(t, err, "not finished")
}

func TestReportWithoutRequestsWhenNotAllowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-eh")
	s := e.service(t, nightly("nightly")) // create_remediation_requests: false
	id := e.run(t, runs.KindSweep, "nightly", runs.Selector{All: true}, map[string]string{"ftd-eh": "eh"})
	rep, err := s.Report(ctx, id)
	require.NoError(t, err)
	require.Empty(t, e.requests.calls)
	require.Empty(t, rep.Requests)
	require.Len(t, e.notifier.all(), 1)
}

// The completion hook queues the report of sweeps only; the maintenance
// job finds the ones whose process died before it could.
func TestCompletionHookAndReconciliation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-1")
	s := e.service(t, nightly("nightly"))
	sw := e.run(t, runs.KindSweep, "nightly", runs.Selector{All: true}, map[string]string{"ftd-1": "healthy"})
	diag := e.run(t, runs.KindDiagnose, "", runs.Selector{All: true}, map[string]string{"ftd-1": "healthy"})

	s.RunsCompleted([]uuid.UUID{sw, diag})
	require.Eventually(t, func() bool { return len(e.queue.reports()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, []uuid.UUID{sw}, e.queue.reports())

	// Not reported yet, and finished more than a minute ago (by the clock).
	e.clock.Set(time.Now().Add(2 * time.Minute))
	ids, err := s.ReconcileReports(ctx)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{sw}, ids)
	_, err = s.Report(ctx, sw)
	require.NoError(t, err)
	ids, err = s.ReconcileReports(ctx)
	require.NoError(t, err)
	require.Empty(t, ids, "reported and notified")
}

// A sweep's diff and its webhook name the incidents that are new since
// the previous sweep and those that are resolved.
func TestReportNamesNewAndResolvedIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-1", "ftd-2", "ftd-3", "ftd-4")
	s := e.service(t, nightly("nightly"))
	all := runs.Selector{All: true}
	e.run(t, runs.KindSweep, "nightly", all, map[string]string{"ftd-1": "egress", "ftd-2": "egress", "ftd-3": "egress", "ftd-4": "healthy"})
	id := e.run(t, runs.KindSweep, "nightly", all, map[string]string{"ftd-1": "timeout", "ftd-2": "timeout", "ftd-3": "timeout", "ftd-4": "egress"})

	d, err := s.Diff(ctx, id)
	require.NoError(t, err)
	require.Len(t, d.NewIncidents, 1)
	require.Equal(t, "path/site=emea", d.NewIncidents[0].ID)
	require.Equal(t, []string{"ftd-1", "ftd-2", "ftd-3"}, d.NewIncidents[0].Devices)
	require.Len(t, d.ResolvedIncidents, 1)
	require.Equal(t, "site-egress/site=emea", d.ResolvedIncidents[0].ID)

	_, err = s.Report(ctx, id)
	require.NoError(t, err)
	events := e.notifier.all()
	require.Len(t, events, 1)
	require.Contains(t, events[0].Title, "1 new incident(s), 1 resolved")
	require.Contains(t, strings.Join(events[0].Lines, "\n"), "new incident path/site=emea: 3 of 4 devices of emea cannot be reached")
	require.Contains(t, events[0].Lines, "resolved incident site-egress/site=emea (3 devices)")
	var data sweep.SweepEventData
	require.NoError(t, json.Unmarshal(events[0].Data, &data))
	require.Equal(t, "path/site=emea", data.Diff.NewIncidents[0].ID)

	short := sweep.TruncateDiff(d, 2)
	require.True(t, short.Truncated)
	require.Equal(t, []string{"ftd-1", "ftd-2"}, short.NewIncidents[0].Devices)
	require.Len(t, d.NewIncidents[0].Devices, 3, "Truncate copies")
}
