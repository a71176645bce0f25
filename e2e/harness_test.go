// Package e2e drives the real binaries: fleetd (a subprocess, so it can be
// SIGKILLed) and fleetctl (a subprocess, so exit codes and output are what a
// script sees), against a real PostgreSQL and an in-process ftdsim fleet.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/sim"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleetd-e2e-bin")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"fleetd", "fleetctl"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "github.com/fleetd/fleetd/cmd/"+name)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// addrBlock hands each test its own 127.x.y.0/24-ish range of loopback
// addresses for simulated devices.
var addrBlock atomic.Int32

func nextListen() string {
	n := addrBlock.Add(1)
	return fmt.Sprintf("127.%d.%d.1", 60+int(n)/200, int(n)%200)
}

// fleet is a running simulated fleet.
type fleet struct {
	*sim.Fleet
	inventory string // path of the inventory CSV
}

func startFleet(t *testing.T, cfg sim.FleetConfig) *fleet {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = nextListen()
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 0.01
	}
	if len(cfg.Sites) == 0 {
		cfg.Sites = []string{"emea", "amer", "apjc"}
	}
	f, err := sim.NewFleet(cfg, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, f.Start(ctx))
	t.Cleanup(func() { cancel(); _ = f.Close() })
	path := filepath.Join(t.TempDir(), "fleet.csv")
	out, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.WriteInventoryCSV(out, "lab"))
	require.NoError(t, out.Close())
	return &fleet{Fleet: f, inventory: path}
}

// server is a fleetd subprocess with its config, database and tokens.
type server struct {
	t        *testing.T
	dir      string
	config   string
	dbURL    string
	url      string
	cmd      *exec.Cmd
	logs     *bytes.Buffer
	tokens   map[string]string // name -> token
	exited   chan struct{}
	waitErr  error
	extraEnv []string
}

type serverOpts struct {
	HostKeyPolicy string // default tofu
	MaxConcurrent int    // runner.max_concurrent; default 100
	ExtraYAML     string
	// RescueAfter (River's stuck-job rescue; default 12s) and ReplicaDeadAfter
	// (heartbeat-based takeover; default 3s), as config durations.
	RescueAfter      string
	ReplicaDeadAfter string
	// DatabaseURL reuses a database (a second replica); default a fresh one.
	DatabaseURL string
	Tokens      map[string]string // with DatabaseURL: the first replica's tokens
	// Env is added to fleetd's environment (FLEETD_* overrides of the file).
	Env []string
	// EditConfig, if set, rewrites the generated fleetd.yaml (e.g. to add
	// keys inside a site) before fleetd starts.
	EditConfig func(yaml string) string
}

// replica starts another fleetd on the same database (its own port, the
// same tokens): the scale-out setup of docs/design.md.
func (s *server) replica(o serverOpts) *server {
	o.DatabaseURL, o.Tokens = s.dbURL, s.tokens
	return newServer(s.t, o)
}

func newServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	if o.HostKeyPolicy == "" {
		o.HostKeyPolicy = "tofu"
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = 100
	}
	if o.RescueAfter == "" {
		o.RescueAfter = "12s"
	}
	if o.ReplicaDeadAfter == "" {
		o.ReplicaDeadAfter = "3s"
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = testdb.URL(t)
	}
	s := &server{t: t, dir: t.TempDir(), dbURL: o.DatabaseURL, tokens: map[string]string{}, extraEnv: o.Env}
	port := freePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.config = filepath.Join(s.dir, "fleetd.yaml")
	yaml := fmt.Sprintf(`database:
  url: %q
api:
  listen: 127.0.0.1:%d
log:
  level: info
  format: json
sites:
  emea: {region: eu, timezone: Europe/Amsterdam, hostkey_policy: %[3]s,
         maintenance_window: {weekdays: [sun], start: "02:00", duration: 2h}}
  amer: {region: us, timezone: America/New_York, hostkey_policy: %[3]s}
  apjc: {region: apj, timezone: Asia/Singapore, hostkey_policy: %[3]s}
credentials:
  lab: {username: admin, password_env: FLEETD_LAB_PASSWORD}
runner:
  max_concurrent: %[5]d
  start_rate: 0
  connect_timeout: 2s
  command_timeout: 5s
  session_timeout: 10s
  retry: {attempts: 1, backoff: 100ms}
diagnose:
  curl_max_time: 1s
jobs:
  max_attempts: 2
  retry_delay: 200ms
  rescue_after: %[6]s
  heartbeat_interval: 1s
  replica_dead_after: %[7]s
%[4]s`, s.dbURL, port, o.HostKeyPolicy, o.ExtraYAML, o.MaxConcurrent, o.RescueAfter, o.ReplicaDeadAfter)
	if o.EditConfig != nil {
		yaml = o.EditConfig(yaml)
	}
	require.NoError(t, os.WriteFile(s.config, []byte(yaml), 0o600))
	s.start()
	if o.Tokens != nil {
		s.tokens = o.Tokens
		return s
	}
	for _, tk := range []struct{ name, role string }{
		{"admin", "admin"}, {"ops-emea", "operator"}, {"lead-emea", "approver"}, {"auditor", "viewer"},
	} {
		out, err := s.fleetd("token", "create", "--name", tk.name, "--role", tk.role)
		require.NoError(t, err, out)
		s.tokens[tk.name] = strings.TrimSpace(out)
	}
	return s
}

func (s *server) env() []string {
	return append(append(os.Environ(), "FLEETD_LAB_PASSWORD=Admin123", "FLEETD_LOG_FORMAT=json"), s.extraEnv...)
}

// fleetd runs a one-shot fleetd command (token create, migrate).
func (s *server) fleetd(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "fleetd"), append(args, "--config", s.config)...)
	cmd.Env = s.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// start launches `fleetd serve` and waits until /readyz answers.
func (s *server) start() {
	t := s.t
	t.Helper()
	s.logs = &bytes.Buffer{}
	s.cmd = exec.Command(filepath.Join(binDir, "fleetd"), "serve", "--config", s.config)
	s.cmd.Env = s.env()
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	require.NoError(t, s.cmd.Start())
	s.exited = make(chan struct{})
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("fleetd log (last 8 KiB):\n%s", tail(s.logs.String(), 8<<10))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("fleetd exited at start: %v\n%s", s.waitErr, s.logs.String())
		default:
		}
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleetd not ready after 30s\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill SIGKILLs fleetd (a crash, not a shutdown).
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop asks fleetd to shut down gracefully.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
	}
}

// result of a fleetctl invocation.
type result struct {
	stdout, stderr string
	code           int
}

// ctl runs fleetctl as the named token's owner.
func (s *server) ctl(token string, args ...string) result {
	s.t.Helper()
	return s.ctlWithin(40*time.Second, token, args...)
}

// ctlWithin is ctl with its own bound on the command's time.
func (s *server) ctlWithin(timeout time.Duration, token string, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "fleetctl"), args...)
	cmd.Env = append(os.Environ(), "FLEETCTL_SERVER="+s.url, "FLEETCTL_TOKEN="+s.tokens[token],
		"HOME="+s.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("fleetctl %v: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// ctlJSON runs fleetctl -o json and decodes stdout into v.
func (s *server) ctlJSON(token string, v any, args ...string) result {
	s.t.Helper()
	r := s.ctl(token, append(args, "-o", "json")...)
	require.NoError(s.t, json.Unmarshal([]byte(r.stdout), v), "fleetctl %v: stdout %q stderr %q", args, r.stdout, r.stderr)
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
