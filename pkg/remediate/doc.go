// Package remediate owns remediation requests: the two-person approval state
// machine, the frozen device list and its preview, reboot scheduling into
// maintenance windows, and the durable execution of an approved request as a
// River job that runs pre-check → act → verify on each device, a canary first
// and then batches, stopping when failures pass the configured threshold.
//
// States (every transition is an audit event):
//
//	pending ─approve─▶ approved ─▶ scheduled ─▶ running ─▶ succeeded | failed
//	   │                  │            │
//	   ├─reject─▶ rejected│            │
//	   ├─(ttl)──▶ expired │            │
//	   └─cancel─┴─────────┴──cancel────┴─▶ cancelled
//
// Binding: at creation the request's canonical parameters (id, action,
// requester, frozen device list in execution order, schedule, batch size,
// failure threshold, reason) are hashed with SHA-256. Approval records the
// hash it approved; the executing job recomputes the hash from the stored
// request and device rows and refuses to act if it differs.
//
// Crash safety (docs/design.md R4): every step a device goes through is journalled
// in PostgreSQL (remediation_steps, and the latest step on
// remediation_devices) BEFORE a command that changes the device is sent and
// AFTER its effect is seen. A re-run of the job (River retry or rescue after
// a crash) reads the journal and, where a command may or may not have landed,
// asks the device (pmtool status) before acting again; so a connector is
// restarted at most once per approval. One job runs a request at a time: the
// job holds a session advisory lock on the request for as long as it works.
//
// Notifications (ServiceDeps and WorkerDeps.Notifier, optional): Create queues approval.pending and
// the worker queues remediation.finished when a request ends succeeded or
// failed, each inside the transaction of that state change, so an event
// goes out if and only if the change commits, and once.
//
// The device side is the DeviceActions interface, so the state machine is
// tested with a fake; RunnerActions implements it over pkg/runner and
// pkg/diagnose.
package remediate
