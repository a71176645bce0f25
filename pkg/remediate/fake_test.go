package remediate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
)

// fakeDevice is a device as the fake sees it.
type fakeDevice struct {
	disabled    bool // SSEConnector User Disabled
	fault       bool // eventhandler-disconnected
	stubborn    bool // a restart does not clear the fault (a reboot does)
	unreachable bool
	otherDiag   string // an unhealthy diagnosis no action fixes
	restarts    int    // enable after disable
	disables    int
	enables     int
	reboots     int
	checks      int
}

// fakeActions is an in-memory DeviceActions.
type fakeActions struct {
	mu   sync.Mutex
	devs map[string]*fakeDevice
}

var errUnreachable = errors.New("dial tcp: connection refused")

type classed struct{ error }

func (classed) Class() string { return "unreachable" }

func newFake() *fakeActions { return &fakeActions{devs: map[string]*fakeDevice{}} }

func (f *fakeActions) dev(name string) *fakeDevice {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devs[name]
	if !ok {
		d = &fakeDevice{}
		f.devs[name] = d
	}
	return d
}

func (f *fakeActions) snapshot(name string) fakeDevice {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.devs[name]
}

func (f *fakeActions) set(name string, fn func(d *fakeDevice)) {
	d := f.dev(name)
	f.mu.Lock()
	fn(d)
	f.mu.Unlock()
}

func (f *fakeActions) Check(_ context.Context, dev remediate.Device) remediate.Assessment {
	d := f.dev(dev.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	d.checks++
	switch {
	case d.unreachable:
		return remediate.Assessment{Health: runs.HealthError, Diagnoses: []string{"unreachable"},
			Error: errUnreachable.Error(), ErrorClass: "unreachable"}
	case d.disabled:
		return remediate.Assessment{Health: runs.HealthUnhealthy, Diagnoses: []string{"connector-stopped"}, Recommended: "restart-connector"}
	case d.fault:
		return remediate.Assessment{Health: runs.HealthUnhealthy, Diagnoses: []string{"eventhandler-disconnected"}, Recommended: "restart-connector"}
	case d.otherDiag != "":
		return remediate.Assessment{Health: runs.HealthUnhealthy, Diagnoses: []string{d.otherDiag}, Recommended: "fix-egress"}
	}
	return remediate.Assessment{Health: runs.HealthHealthy, Diagnoses: []string{}}
}

func (f *fakeActions) ConnectorStatus(_ context.Context, dev remediate.Device) (remediate.ConnectorState, error) {
	d := f.dev(dev.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.unreachable {
		return "", classed{errUnreachable}
	}
	if d.disabled {
		return remediate.ConnectorDisabled, nil
	}
	return remediate.ConnectorRunning, nil
}

func (f *fakeActions) DisableConnector(_ context.Context, dev remediate.Device) error {
	d := f.dev(dev.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.unreachable {
		return classed{errUnreachable}
	}
	d.disables++
	d.disabled = true
	return nil
}

func (f *fakeActions) EnableConnector(_ context.Context, dev remediate.Device) error {
	d := f.dev(dev.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.unreachable {
		return classed{errUnreachable}
	}
	d.enables++
	if d.disabled {
		d.restarts++
		d.disabled = false
		if !d.stubborn {
			d.fault = false
		}
	}
	return nil
}

func (f *fakeActions) Reboot(_ context.Context, dev remediate.Device) error {
	d := f.dev(dev.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.unreachable {
		return classed{errUnreachable}
	}
	d.reboots++
	d.fault, d.disabled = false, false
	return nil
}

func (f *fakeActions) WaitBack(context.Context, remediate.Device, time.Duration) error { return nil }

// harness is one test's database, service, fake devices and clock.
type harness struct {
	t     *testing.T
	pool  *pgxpool.Pool
	svc   *remediate.Service
	fake  *fakeActions
	clock *remediate.ManualClock
	sites map[string]remediate.Site
	log   *zap.Logger
	// inserter is a River client that only inserts (the API side).
	inserter *jobs.Client
	// notifier, when set (withNotifier), is given to the service and to
	// every worker startWorkers makes.
	notifier remediate.Notifier
	// deps and rc built svc.
	deps remediate.ServiceDeps
	rc   remediate.Config
}

// withNotifier rebuilds the service with a notifier, which every worker
// startWorkers makes gets too.
func (h *harness) withNotifier(n remediate.Notifier) {
	h.notifier = n
	h.deps.Notifier = n
	h.svc = remediate.NewService(h.pool, h.deps, h.rc, h.log)
}

var t0 = time.Date(2031, 3, 8, 10, 0, 0, 0, time.UTC) // a Saturday

func newHarness(t *testing.T, rc remediate.Config) *harness {
	t.Helper()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx := context.Background()
	cfgSites := map[string]config.Site{
		// Sundays 02:00-04:00 Amsterdam time.
		"emea": {Region: "eu", Timezone: "Europe/Amsterdam", RebootTimeout: time.Minute,
			MaintenanceWindow: config.MaintenanceWindow{Weekdays: []string{"sun"}, Start: "02:00", Duration: 2 * time.Hour}},
		"amer": {Region: "us", Timezone: "America/New_York"},
	}
	for name, s := range cfgSites {
		_, err := pool.Exec(ctx, `INSERT INTO sites (name, region, timezone) VALUES ($1, $2, $3)`, name, s.Region, s.Timezone)
		require.NoError(t, err)
	}
	sites := app.RemediationSites(config.Config{Sites: cfgSites})
	_, err := pool.Exec(ctx, `INSERT INTO credentials (name, username) VALUES ('lab', 'admin')`)
	require.NoError(t, err)
	inserter, err := jobs.NewClient(pool, nil, jobs.Config{}, log)
	require.NoError(t, err)
	rc.Sites = sites
	clock := remediate.NewManualClock(t0)
	statusSrc := runs.NewService(pool, nil, nil, 1, log)
	deps := remediate.ServiceDeps{Queue: inserter, Clock: clock,
		Devices: remediate.InventorySource{Inventory: inventory.NewStore(pool, inventory.Catalog{}, log), Status: statusSrc}}
	return &harness{t: t, pool: pool, svc: remediate.NewService(pool, deps, rc, log), deps: deps, rc: rc,
		fake: newFake(), clock: clock, sites: sites, log: log, inserter: inserter}
}

// addDevices inserts inventory devices and gives each a fake state.
func (h *harness) addDevices(site string, state func(d *fakeDevice), names ...string) {
	h.t.Helper()
	for _, n := range names {
		_, err := h.pool.Exec(context.Background(),
			`INSERT INTO devices (name, kind, site, address, credential) VALUES ($1, 'ftd', $2, '127.0.0.1', 'lab')`, n, site)
		require.NoError(h.t, err)
		h.pinKey(n, fakeFingerprint(n))
		h.fake.set(n, func(d *fakeDevice) {
			if state != nil {
				state(d)
			}
		})
	}
}

// fakeFingerprint is the host key a fake device's inventory row pins.
func fakeFingerprint(name string) string { return "SHA256:key-of-" + name }

// pinKey makes fp the device's pinned host key (replacing any pinned one),
// as `hostkey accept` would.
func (h *harness) pinKey(device, fp string) {
	h.t.Helper()
	ctx := context.Background()
	_, err := h.pool.Exec(ctx, `DELETE FROM host_keys WHERE state = 'pinned'
		AND device_id = (SELECT id FROM devices WHERE name = $1)`, device)
	require.NoError(h.t, err)
	_, err = h.pool.Exec(ctx, `INSERT INTO host_keys (device_id, key_type, public_key, fingerprint, state, pinned_by, pinned_at)
		SELECT id, 'ssh-ed25519', $2::bytea, $3, 'pinned', 'test', now() FROM devices WHERE name = $1`, device, []byte(fp), fp)
	require.NoError(h.t, err)
}

// sick is an eventhandler-disconnected device.
func sick(d *fakeDevice) { d.fault = true }

// startWorkers starts a River client working the remediate queue.
func (h *harness) startWorkers(hooks remediate.Hooks) *jobs.Client {
	h.t.Helper()
	return h.startWorkersActions(h.fake, hooks)
}

func (h *harness) startWorkersActions(actions remediate.DeviceActions, hooks remediate.Hooks) *jobs.Client {
	h.t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, remediate.NewWorker(h.pool,
		remediate.WorkerDeps{Actions: actions, Notifier: h.notifier, Clock: h.clock},
		remediate.WorkerConfig{Sites: h.sites, MaxWait: 50 * time.Millisecond,
			VerifyAttempts: 2, VerifyInterval: time.Millisecond, Hooks: hooks}, h.log))
	c, err := jobs.NewClient(h.pool, workers, jobs.Config{FetchPollInterval: 50 * time.Millisecond, TestOnly: true}, h.log)
	require.NoError(h.t, err)
	require.NoError(h.t, c.Start(context.Background()))
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.StopAndCancel(ctx)
	})
	return c
}

var (
	alice = remediate.Actor{Name: "alice", Role: "operator"} // requester
	bob   = remediate.Actor{Name: "bob", Role: "approver"}   // approver
	carol = remediate.Actor{Name: "carol", Role: "admin"}    // admin
	dave  = remediate.Actor{Name: "dave", Role: "operator"}  // another operator
	vic   = remediate.Actor{Name: "vic", Role: "viewer"}     // viewer
	amy   = remediate.Actor{Name: "amy", Role: "approver"}   // an approver who requests
)

// waitState waits until the request reaches one of the states.
func (h *harness) waitState(id uuid.UUID, timeout time.Duration, states ...remediate.State) remediate.Request {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, err := h.svc.Get(context.Background(), id)
		require.NoError(h.t, err)
		for _, s := range states {
			if r.State == s {
				return r
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("request %s is %s after %v, want one of %v (note %q)", id, r.State, timeout, states, r.ScheduleNote)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// steps returns a device's journal, in order.
func (h *harness) steps(id uuid.UUID, device string) []string {
	h.t.Helper()
	rows, err := h.pool.Query(context.Background(), `SELECT s.step FROM remediation_steps s
		JOIN remediation_devices d ON d.request_id = s.request_id AND d.device_id = s.device_id
		WHERE s.request_id = $1 AND d.device = $2 ORDER BY s.id`, id, device)
	require.NoError(h.t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(h.t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(h.t, rows.Err())
	return out
}

// auditActions returns the request's audit actions, oldest first.
func (h *harness) auditActions(id uuid.UUID) []string {
	h.t.Helper()
	evs, err := h.svc.History(context.Background(), id)
	require.NoError(h.t, err)
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action
	}
	return out
}
