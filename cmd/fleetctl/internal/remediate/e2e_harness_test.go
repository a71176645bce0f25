package remediate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cli"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/targets"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/sim"
)

// world is one end-to-end test's fleetd: the backend as internal/app builds
// it for fleetd serve, its API on an httptest server over a fresh database,
// a pkg/sim fleet on loopback, tokens, and fleetctl run in-process. The
// API's backend has no job workers; startWorkers starts a backend that
// works the jobs (a fleetd replica), as often as a test needs one. Their
// remediation clock is a ManualClock.
type world struct {
	t       *testing.T
	ctx     context.Context
	cfg     config.Config
	svc     *app.App
	clock   *remediate.ManualClock
	fleet   *sim.Fleet
	actions *remediate.RunnerActions
	runner  *runner.Runner
	targets *targets.Resolver
	url     string
	home    string
	tokens  map[string]string
	log     *zap.Logger
}

type worldOpts struct {
	devices          []sim.DeviceSpec
	batchSize        int
	failureThreshold int
	ttl              time.Duration
	// deadAddr lists devices whose inventory address points at a closed
	// port (unreachable).
	deadAddr []string
	// offInventory lists simulated devices left out of the inventory
	// (boxes a test points a device at later).
	offInventory []string
}

var listenBlock atomic.Int32

// Identities of the tests: a requester, an approver, and the others.
const (
	requester = "ops-emea"  // operator
	approver  = "lead-emea" // approver
	approver2 = "sec-lead"  // approver who also requests
	viewer    = "auditor"   // viewer
)

// t0 is where the remediation clock starts: a Saturday, 10:00 UTC, in a
// month where Amsterdam is UTC+1 (emea's window: Sundays 02:00-04:00 local).
var t0 = time.Date(2031, 3, 8, 10, 0, 0, 0, time.UTC)

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	ctx := context.Background()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "lab.password")
	require.NoError(t, os.WriteFile(pwFile, []byte("Admin123\n"), 0o600))

	cfg := config.Default()
	cfg.Sites = map[string]config.Site{
		"emea": {Region: "eu", Timezone: "Europe/Amsterdam", HostKeyPolicy: "tofu", RebootTimeout: 20 * time.Second,
			MaintenanceWindow: config.MaintenanceWindow{Weekdays: []string{"sun"}, Start: "02:00", Duration: 2 * time.Hour}},
		"amer": {Region: "us", Timezone: "America/New_York", HostKeyPolicy: "tofu", RebootTimeout: 20 * time.Second},
	}
	cfg.Credentials = map[string]config.Credential{"lab": {Username: "admin", PasswordFile: pwFile}}
	cfg.Remediation.ApprovalTTL = time.Hour
	if o.ttl > 0 {
		cfg.Remediation.ApprovalTTL = o.ttl
	}
	cfg.Remediation.BatchSize = max(o.batchSize, 1)
	cfg.Remediation.FailureThreshold = o.failureThreshold
	require.NoError(t, cfg.Validate())

	pool := testdb.New(t)
	clock := remediate.NewManualClock(t0)
	svc, err := app.New(ctx, testOptions(cfg, pool, clock, log, false, remediate.Hooks{}))
	require.NoError(t, err)
	srv, err := apiserver.New(svc.APIDeps())
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	n := listenBlock.Add(1)
	fleet, err := sim.NewFleet(sim.FleetConfig{Devices: o.devices, Listen: fmt.Sprintf("127.91.%d.1", n),
		TimeScale: 0.01, RebootDowntime: 30 * time.Second}, zap.NewNop())
	require.NoError(t, err)
	fctx, cancel := context.WithCancel(ctx)
	require.NoError(t, fleet.Start(fctx))
	t.Cleanup(func() { cancel(); _ = fleet.Close() })

	var csv bytes.Buffer
	require.NoError(t, fleet.WriteInventoryCSV(&csv, "lab"))
	inv := csv.String()
	for _, name := range o.deadAddr {
		addr := fleet.Device(name).Addr()
		inv = strings.Replace(inv, addr, fmt.Sprintf("127.91.%d.250:1", n), 1)
	}
	var kept []string
	for _, line := range strings.SplitAfter(inv, "\n") {
		if !slices.ContainsFunc(o.offInventory, func(name string) bool { return strings.HasPrefix(line, name+",") }) {
			kept = append(kept, line)
		}
	}
	inv = strings.Join(kept, "")
	_, err = svc.Inventory.ImportFile(ctx, "test", "fleet.csv", []byte(inv), false)
	require.NoError(t, err)
	// Each device's key is pinned, as a first diagnose under tofu would:
	// a remediation request needs it.
	for _, d := range o.devices {
		if slices.Contains(o.offInventory, d.Name) {
			continue
		}
		sd := fleet.Device(d.Name)
		require.NoError(t, svc.Inventory.CheckHostKey(ctx, d.Name, sd.Addr(), sd.HostKey(), "tofu"))
	}

	w := &world{t: t, ctx: ctx, cfg: cfg, svc: svc, clock: clock, fleet: fleet, actions: svc.Actions, runner: svc.Runner,
		targets: svc.Targets, url: ts.URL, home: dir, tokens: map[string]string{}, log: log}
	for name, role := range map[string]auth.Role{requester: auth.RoleOperator, approver: auth.RoleApprover,
		approver2: auth.RoleApprover, viewer: auth.RoleViewer} {
		tok, _, err := svc.Auth.Create(ctx, "test", name, role)
		require.NoError(t, err)
		w.tokens[name] = tok
	}
	return w
}

// testOptions builds the world's backends: fleetd's wiring with the test's
// clock, a small fast runner and short remediation waits.
func testOptions(cfg config.Config, pool *pgxpool.Pool, clock *remediate.ManualClock, log *zap.Logger,
	workers bool, hooks remediate.Hooks) app.Options {
	return app.Options{Config: cfg, Pool: pool, Log: log, Workers: workers, Clock: clock,
		Runner: func(c *runner.Config) {
			*c = runner.Config{MaxConcurrent: 20, StartRate: -1, ConnectTimeout: 2 * time.Second,
				HandshakeTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second, SessionTimeout: 20 * time.Second,
				Retry: runner.RetryPolicy{Attempts: 1}}
		},
		RemediationChecks: func(c *remediate.RunnerActionsConfig) {
			*c = remediate.RunnerActionsConfig{PollInterval: 20 * time.Millisecond, PollTimeout: 5 * time.Second,
				WaitInterval: 50 * time.Millisecond, DownGrace: 2 * time.Second}
		},
		RemediationWorker: func(c *remediate.WorkerConfig) {
			c.MaxWait, c.VerifyAttempts, c.VerifyInterval = 50*time.Millisecond, 3, 50*time.Millisecond
			c.Hooks = hooks
		},
		Jobs: func(c *jobs.Config) { c.FetchPollInterval, c.TestOnly = 50*time.Millisecond, true },
	}
}

// startWorkers starts a backend that works the jobs with these remediation
// hooks, as another fleetd on the database would; it is stopped at cleanup.
func (w *world) startWorkers(hooks remediate.Hooks) *app.App {
	w.t.Helper()
	b, err := app.New(w.ctx, testOptions(w.cfg, w.svc.Pool, w.clock, w.log, true, hooks))
	require.NoError(w.t, err)
	require.NoError(w.t, b.Start(w.ctx))
	w.t.Cleanup(func() {
		// Jobs are cancelled at once: the test is over.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Queue.StopAndCancel(ctx)
		b.Stop(ctx)
	})
	return b
}

// ctl runs fleetctl in-process as the named identity.
func (w *world) ctl(who string, args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	ios, _, out, errOut := iostreams.Test()
	env := map[string]string{"FLEETCTL_SERVER": w.url, "FLEETCTL_TOKEN": w.tokens[who], "HOME": w.home}
	code = cli.Main(w.ctx, args, cli.Env{IO: ios, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errOut.String()
}

// ctlOK runs fleetctl and requires exit 0.
func (w *world) ctlOK(who string, args ...string) string {
	w.t.Helper()
	code, out, errOut := w.ctl(who, args...)
	require.Equal(w.t, 0, code, "fleetctl %v: stdout %s stderr %s", args, out, errOut)
	return out
}

// request runs `fleetctl remediate ... -o json` as the requester and returns the request.
func (w *world) request(who string, args ...string) api.RemediationRequest {
	w.t.Helper()
	out := w.ctlOK(who, append([]string{"remediate"}, append(args, "-o", "json")...)...)
	var r api.RemediationRequest
	require.NoError(w.t, json.Unmarshal([]byte(out), &r), out)
	return r
}

// show runs `fleetctl requests show ID -o json`.
func (w *world) show(id uuid.UUID) (api.RemediationRequest, map[string]any) {
	w.t.Helper()
	out := w.ctlOK(viewer, "requests", "show", id.String(), "-o", "json")
	var r api.RemediationRequest
	require.NoError(w.t, json.Unmarshal([]byte(out), &r))
	var raw map[string]any
	require.NoError(w.t, json.Unmarshal([]byte(out), &raw))
	return r, raw
}

// waitFinal waits until the request succeeded or failed.
func (w *world) waitFinal(id uuid.UUID) api.RemediationRequest {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, _ := w.show(id)
		if r.State == api.RequestSucceeded || r.State == api.RequestFailed {
			return r
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("request %s still %s (note %q)", id, r.State, r.ScheduleNote)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *world) dev(name string) *sim.Device {
	w.t.Helper()
	d := w.fleet.Device(name)
	require.NotNil(w.t, d, name)
	return d
}

func hasFault(d *sim.Device, f sim.Fault) bool {
	for _, x := range d.Faults() {
		if x == f {
			return true
		}
	}
	return false
}

func ftd(name, site string, faults ...sim.Fault) sim.DeviceSpec {
	return sim.DeviceSpec{Name: name, Kind: sim.KindFTD, Site: site, Faults: faults}
}
