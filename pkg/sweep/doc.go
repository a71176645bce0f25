// Package sweep owns scheduled sweeps: the schedules (synced from config into
// the sweep_schedules table at start, listed with their next and last run,
// enabled or disabled at run time), the River periodic jobs that start them
// on exactly one replica, the catch-up that runs a sweep missed during an
// outage once (not once per missed night), and the report of each finished
// sweep: its diff against the previous sweep of the same selector, the
// remediation requests it may open for curable diagnoses (never executions:
// a person still approves them) and its notification.
//
// How a slot becomes one run:
//
//	periodic job (leader only) ─┐
//	catch-up job (leader; at    ├─▶ SweepArgs{schedule, slot}  (unique by args)
//	  start and every few min) ─┘        │
//	                                     ▼
//	SweepWorker: locks the schedule row; skips a disabled schedule, a slot
//	at or before last_slot, or a slot whose run already exists (a retry
//	after a crash between starting the run and recording it); otherwise
//	runs.Service.Start(kind sweep) and records last_slot.
//
// A slot is a cron time. A slot is "missed" when it is the latest cron time
// at or before now, it is after the schedule's last handled slot, and after
// active_since (when the schedule was created, re-enabled or re-timed): so a
// fleetd down for three nights runs one sweep when it returns.
//
// When a sweep run completes (RunsCompleted, one of runs.Recorder's
// OnRecorded observers, or the catch-up job's reconciliation if that
// process died first), a ReportArgs job computes the diff, stores it in
// sweep_reports (the row makes the report happen once), opens remediation
// requests if the schedule allows it (at most once: the claim commits
// first), and queues the notification in the same transaction that marks
// the report notified.
package sweep
