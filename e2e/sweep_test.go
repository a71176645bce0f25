package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
	"github.com/fleetd/fleetd/pkg/sweep"
)

// TestScheduledSweepAcrossReplicas is the scheduled-sweep story end to end,
// and R1 at small scale with two replicas: a nightly sweep missed while
// fleetd was down runs once when it is back; two fleetd processes on one
// database share its device jobs; one of them is SIGKILLed mid-sweep and
// restarted (as its supervisor would), each device ending with exactly one
// result; the report (diff, a pending remediation request for the curable
// devices) reaches both webhooks, the failing one through retries; schedule
// list/disable, runs show --diff and /metrics answer through the real
// binaries.
//
// The killed replica is restarted here because River hands a dead process's
// jobs to the others only after jobs.rescue_after (at least the job timeout,
// runner.session_timeout + 30s) plus up to 30s for its rescuer: over a
// minute. sweep_long_test.go holds that case (no restart: the survivors
// finish the dead replica's devices) at 2,000 devices.
func TestScheduledSweepAcrossReplicas(t *testing.T) {
	t.Parallel()
	const devices = 40
	f := startFleet(t, sim.FleetConfig{Count: devices, Sites: []string{"emea"}, TimeScale: 0.3,
		Faults: "eventhandler-disconnected=20%"})
	curable := faulty(f, sim.FaultEventHandlerDisconnected)
	require.NotEmpty(t, curable)
	noc, chat := newHookReceiver(t, 0), newHookReceiver(t, 2)
	opts := serverOpts{MaxConcurrent: 4, ExtraYAML: sweepYAML(noc.URL+"/fleetd", chat.URL+"/slack")}
	a := newServer(t, opts)
	r := a.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)

	// Nothing ran at first start: the schedule is new.
	var scheds []sweep.Schedule
	a.ctlJSON("auditor", &scheds, "schedule", "list")
	require.Len(t, scheds, 1)
	require.Nil(t, scheds[0].LastRun)
	require.NotNil(t, scheds[0].NextRun)

	// fleetd was "down" for three nights; back up with a second replica.
	pretendMissedNights(t, a.dbURL)
	a.stop()
	a.start()
	b := a.replica(opts)
	runID := waitSweepRun(t, a.dbURL, 30*time.Second)

	// Kill a replica mid-sweep, the one that is not the leader (the leader
	// is killed in the long test), and restart it: it takes back the jobs
	// it held while the other goes on.
	waitDone(t, a, runID, func(done int) bool { return done >= 6 }, time.Minute)
	victim, survivor := b, a
	if leaderPort(t, a.dbURL) == b.port() {
		victim, survivor = a, b
	}
	victim.kill()
	var doneAtKill int
	require.NoError(t, connectDB(t, a.dbURL).QueryRow(context.Background(), `SELECT done FROM runs WHERE id = $1`,
		runID).Scan(&doneAtKill))
	require.Less(t, doneAtKill, devices, "the kill must land mid-sweep")
	time.Sleep(time.Second)
	victim.start()
	final := waitDone(t, survivor, runID, func(done int) bool { return done == devices }, 90*time.Second)
	require.Equal(t, "completed", final.Status)
	exactlyOnce(t, a.dbURL, runID, devices)
	require.Len(t, workedBy(t, a.dbURL, runID), 2, "both replicas worked the sweep's device jobs")

	// The diff: a first sweep, so every curable device is newly unhealthy.
	var diff api.RunDiff
	r = survivor.ctlJSON("auditor", &diff, "runs", "show", runID.String(), "--diff")
	require.Equal(t, 3, r.code, "unhealthy devices: exit 3")
	require.Nil(t, diff.PreviousRunID)
	require.Equal(t, len(curable), diff.Summary.NewlyUnhealthy)
	require.Equal(t, devices, diff.Summary.Devices)
	r = survivor.ctl("auditor", "runs", "show", runID.String(), "--diff")
	require.Equal(t, 3, r.code)
	require.Contains(t, r.stdout, "newly unhealthy")
	require.Contains(t, r.stdout, curable[0])

	// The report reached both webhooks once; chat only after two 503s.
	require.Eventually(t, func() bool {
		nb, _ := noc.delivered()
		cb, _ := chat.delivered()
		return len(sweepEvents(t, nb)) == 1 && len(cb) == 1
	}, 30*time.Second, 100*time.Millisecond)
	nb, _ := noc.delivered()
	ev := sweepEvents(t, nb)[0]
	var data sweep.SweepEventData
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	require.Equal(t, "nightly", data.Schedule)
	require.Equal(t, runID, data.Diff.RunID)
	require.Equal(t, len(curable), data.Diff.Summary.NewlyUnhealthy)
	require.Len(t, data.RemediationRequests, 1)
	cb, calls := chat.delivered()
	require.Equal(t, 3, calls, "two failures, then delivered")
	var slack map[string]string
	require.NoError(t, json.Unmarshal(cb[0], &slack))
	require.Contains(t, slack["text"], "*Sweep nightly finished:")

	// The request it opened waits for a person's approval.
	var req struct {
		State       string `json:"state"`
		RequestedBy string `json:"requested_by"`
		Devices     []any  `json:"devices"`
		Action      string `json:"action"`
		Reason      string `json:"reason"`
	}
	survivor.ctlJSON("auditor", &req, "requests", "show", data.RemediationRequests[0].String())
	require.Equal(t, "pending", req.State)
	require.Equal(t, "sweep:nightly", req.RequestedBy)
	require.Equal(t, "restart-connector", req.Action)
	require.Len(t, req.Devices, len(curable))

	// schedule list shows the run; disable needs an operator.
	survivor.ctlJSON("auditor", &scheds, "schedule", "list")
	require.Equal(t, runID, scheds[0].LastRun.ID)
	require.Equal(t, "completed", scheds[0].LastRun.Status)
	r = survivor.ctl("auditor", "schedule", "disable", "nightly")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "operator")
	r = survivor.ctl("ops-emea", "schedule", "disable", "nightly")
	require.Zero(t, r.code, r.stderr)
	r = survivor.ctl("auditor", "schedule", "list")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "no (by ops-emea)")

	// Metrics: behind a token; the survivor counted devices and sees the queue.
	code, _ := survivor.scrape(t, "")
	require.Equal(t, 401, code)
	code, body := survivor.scrape(t, survivor.tokens["auditor"])
	require.Equal(t, 200, code)
	checked := metricValue(body, "fleetd_devices_checked_total")
	require.Greater(t, checked, 0.0)
	require.Contains(t, body, `fleetd_jobs{queue="diagnose",state="available"}`)
	// The run's duration is observed once, by whichever replica completed it.
	_, victimBody := victim.scrape(t, victim.tokens["auditor"])
	require.Equal(t, 1.0, max(metricValue(body, `fleetd_run_duration_seconds_count{kind="sweep"}`), 0)+
		max(metricValue(victimBody, `fleetd_run_duration_seconds_count{kind="sweep"}`), 0))
	// The fleet gauges are read from the database, the same on every replica.
	require.Eventually(t, func() bool {
		_, body = survivor.scrape(t, survivor.tokens["auditor"])
		return metricValue(body, `fleetd_sweep_last_completed_timestamp_seconds{schedule="nightly"}`) >= float64(final.FinishedAt.Unix())
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, float64(final.Summary.Unhealthy+final.Summary.Error), metricValue(body, `fleetd_sweep_last_unhealthy{schedule="nightly"}`))
	require.Equal(t, float64(devices), metricValue(body, `fleetd_sweep_last_devices{schedule="nightly"}`))
	require.Equal(t, float64(final.Summary.Unhealthy), metricValue(body, `fleetd_devices{health="unhealthy",site="emea"}`))
	t.Logf("sweep of %d devices over 2 replicas, one killed at %d done and restarted: completed; the other checked %.0f",
		devices, doneAtKill, checked)
}

// metricValue returns the value of an unlabelled sample, -1 if absent.
func metricValue(body, name string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return -1
}
