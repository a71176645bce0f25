package runner

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/pkg/sim"
)

// Integration tests against the simulator in-process, on ephemeral ports of
// a loopback block derived from the test name (pkg/sim's tests use
// 127.77.x.x; these use 127.78.x.x).

var goldenTime = time.Date(2025, 11, 24, 14, 34, 2, 884720460, time.UTC)

func simAddr(t testing.TB) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	v := h.Sum32()
	return fmt.Sprintf("127.78.%d.%d", (v>>8)%256, 1+v%200)
}

func startSim(t testing.TB, cfg sim.FleetConfig) *sim.Fleet {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = simAddr(t)
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1e-6
	}
	if cfg.Clock == nil {
		cfg.Clock = sim.FixedClock(goldenTime)
	}
	f, err := sim.NewFleet(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.NoError(t, f.Start(context.Background()))
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// simTargets pins every device's key and returns its targets.
func simTargets(f *sim.Fleet, store *MemoryHostKeyStore) []Target {
	var ts []Target
	for _, d := range f.Devices() {
		store.Pin(d.Name(), d.HostKey())
		ts = append(ts, Target{Device: d.Name(), Site: d.Site(), Kind: string(d.Kind()), Addr: d.Addr(), Credential: labCred()})
	}
	return ts
}

// goldenSpec is the device pkg/sim's golden transcripts were made from.
func goldenSpec(kind sim.Kind, fault sim.Fault) sim.DeviceSpec {
	spec := sim.DeviceSpec{Name: "golden-" + string(kind), Kind: kind, Site: "amer", Hostname: "firepower", MgmtIP: "192.168.1.200"}
	switch kind {
	case sim.KindFTD:
		spec.Model, spec.Version = "1120", "6.4.0.9"
	case sim.KindFMC7:
		spec.Model, spec.Version, spec.Hostname = "fmcv300", "7.4.2", "fmc"
	case sim.KindFMC6:
		spec.Model, spec.Version, spec.Hostname = "fmcv", "6.6.5", "fmc"
	case sim.KindFXOS:
		spec.Model, spec.Version = "4110", "6.6.5"
	}
	if fault != sim.FaultHealthy {
		spec.Faults = []sim.Fault{fault}
	}
	return spec
}

// diagnoseCommands are the commands of contracts-internal.md for the us
// region, in the order of pkg/sim's golden transcripts.
var diagnoseCommands = []string{
	"curl -v https://api-sse.cisco.com/providers/sse/services/registration/api/v2/clients --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"curl -v https://est.sco.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"curl -v https://eventing-ingest.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"curl -v https://mx01.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"cat /ngfw/etc/sf/connector.properties",
	"pmtool status | grep -E '^(SSEConnector|EventHandler) '",
	"netstat -anlp | grep EventHandler_SSEConnector.sock",
	"lsof -i | grep connector",
	"tail -n 200 /ngfw/var/log/connector/connector.log",
	"curl -s localhost:8989/v1/contexts/default",
}

var reGoldenRoot = regexp.MustCompile(`(?m)^root@[\w.-]+:[^#\n]*# `)

// goldenOutputs cuts a pkg/sim golden transcript into each root command's
// output: the text between the echoed command line and the next root prompt.
func goldenOutputs(t *testing.T, name string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "sim", "testdata", name+".golden"))
	require.NoError(t, err)
	return splitGolden(string(raw))
}

func splitGolden(text string) map[string]string {
	locs := reGoldenRoot.FindAllStringIndex(text, -1)
	outs := map[string]string{}
	for i, loc := range locs {
		rest := text[loc[1]:]
		if i+1 < len(locs) {
			rest = text[loc[1]:locs[i+1][0]]
		}
		cmd, out, ok := strings.Cut(rest, "\n")
		if ok {
			outs[cmd] = out
		}
	}
	return outs
}

func TestSimEveryKindReachesRootWithExactOutputs(t *testing.T) {
	t.Parallel()
	landings := map[sim.Kind]string{sim.KindFTD: "clish", sim.KindFMC7: "clish", sim.KindFMC6: "expert", sim.KindFXOS: "fxos"}
	for _, kind := range []sim.Kind{sim.KindFTD, sim.KindFMC7, sim.KindFMC6, sim.KindFXOS} {
		for _, fault := range []sim.Fault{sim.FaultHealthy, sim.FaultEventHandlerDisconnected, sim.FaultEgressBlocked, sim.FaultConnectorStopped} {
			name := fmt.Sprintf("%s-%s", kind, fault)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				want := goldenOutputs(t, name)
				f := startSim(t, sim.FleetConfig{Devices: []sim.DeviceSpec{goldenSpec(kind, fault)}})
				store := NewMemoryHostKeyStore()
				r := newTestRunner(t, testConfig(), store)
				tg := simTargets(f, store)[0]
				res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
					for _, cmd := range diagnoseCommands {
						out, err := s.Run(ctx, LevelRoot, cmd)
						require.NoError(t, err, cmd)
						exp, ok := want[cmd]
						require.True(t, ok, "golden has no %q", cmd)
						require.Equal(t, exp, out, cmd)
					}
					return nil
				})
				require.NoError(t, res.Err)
				require.Equal(t, landings[kind], res.Landing)
				d := f.Devices()[0]
				c := d.Counters()
				require.Equal(t, int64(2), c.PasswordsReceived, "login and sudo, once each")
				log := d.CommandLog()
				require.Equal(t, "exit", log[len(log)-1], "left level by level: %q", log)
				require.NotContains(t, res.Transcript, "Admin123")
			})
		}
	}
}

func TestSimLevelsAndClish(t *testing.T) {
	t.Parallel()
	f := startSim(t, sim.FleetConfig{Devices: []sim.DeviceSpec{goldenSpec(sim.KindFXOS, sim.FaultHealthy)}})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	res := r.Session(ctxT(t), simTargets(f, store)[0], func(ctx context.Context, s *Session) error {
		out, err := s.Run(ctx, LevelClish, "show version")
		require.NoError(t, err)
		require.Contains(t, out, "Cisco")
		require.NotContains(t, out, "show version")
		out, err = s.Run(ctx, LevelRoot, "echo $?")
		require.NoError(t, err)
		require.Equal(t, "0\n", out)
		out, err = s.Run(ctx, LevelClish, "show nonsense")
		require.NoError(t, err, "a clish syntax error is output, not a driver failure")
		require.Contains(t, out, "Syntax error")
		out, err = s.Run(ctx, LevelExpert, "nosuchcmd")
		require.NoError(t, err)
		require.Contains(t, out, "command not found")
		return nil
	})
	require.NoError(t, res.Err)
	require.Equal(t, "fxos", res.Landing)
}

func TestSimExecMode(t *testing.T) {
	t.Parallel()
	t.Run("exec fleet", func(t *testing.T) {
		t.Parallel()
		f := startSim(t, sim.FleetConfig{Devices: []sim.DeviceSpec{goldenSpec(sim.KindFTD, sim.FaultHealthy)}, Exec: true})
		store := NewMemoryHostKeyStore()
		r := newTestRunner(t, testConfig(), store)
		tg := simTargets(f, store)[0]
		tg.Exec = true
		want := goldenOutputs(t, "ftd-healthy")
		res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
			for _, cmd := range diagnoseCommands[4:] { // the non-curl commands: stdout only
				out, err := s.Run(ctx, LevelRoot, cmd)
				require.NoError(t, err)
				require.Equal(t, want[cmd], out, cmd)
			}
			return nil
		})
		require.NoError(t, res.Err)
		require.Equal(t, "exec", res.Landing)
		c := f.Devices()[0].Counters()
		require.Equal(t, int64(len(diagnoseCommands)-4), c.Commands, "one exec request per command")
		require.Equal(t, int64(1), c.PasswordsReceived)
	})
	t.Run("FTD refuses exec: fallback to the shell", func(t *testing.T) {
		t.Parallel()
		f := startSim(t, sim.FleetConfig{Devices: []sim.DeviceSpec{goldenSpec(sim.KindFTD, sim.FaultHealthy)}})
		store := NewMemoryHostKeyStore()
		r := newTestRunner(t, testConfig(), store)
		tg := simTargets(f, store)[0]
		tg.Exec = true
		res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
			out, err := s.Run(ctx, LevelRoot, "cat /ngfw/etc/sf/connector.properties")
			require.NoError(t, err)
			require.Equal(t, "registration_interval=180\nconnector_port=8989\nconnector_fqdn=api-sse.cisco.com\n", out)
			return nil
		})
		require.NoError(t, res.Err)
		require.Equal(t, "clish", res.Landing)
	})
}

func TestSimReboot(t *testing.T) {
	t.Parallel()
	f := startSim(t, sim.FleetConfig{Devices: []sim.DeviceSpec{goldenSpec(sim.KindFTD, sim.FaultEventHandlerDisconnected)}})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	res := r.Session(ctxT(t), simTargets(f, store)[0], func(ctx context.Context, s *Session) error {
		return s.Reboot(ctx)
	})
	require.NoError(t, res.Err)
	require.Equal(t, int64(1), f.Devices()[0].Counters().Reboots)
}

// TestSimFaultMatrix: every transport fault of the simulator ends in the
// right class, within its bound, and the device counters prove what was (not)
// sent.
func TestSimFaultMatrix(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, d *sim.Device, res Result, store *MemoryHostKeyStore)
	for _, tc := range []struct {
		name   string
		fault  sim.Fault
		tweak  func(*Target, *MemoryHostKeyStore, *sim.Device)
		cfg    func(*Config)
		class  ErrorClass
		within time.Duration
		check  check
	}{
		{name: "auth failure", fault: sim.FaultAuthFailure, class: ClassAuthFailed, within: 2 * time.Second,
			check: func(t *testing.T, d *sim.Device, res Result, _ *MemoryHostKeyStore) {
				c := d.Counters()
				require.Equal(t, 1, res.Attempts)
				require.Zero(t, c.Commands)
				require.LessOrEqual(t, c.PasswordsReceived, int64(2), "keyboard-interactive then password, once each")
			}},
		{name: "wrong sudo password", fault: sim.FaultHealthy, class: ClassAuthFailed, within: 3 * time.Second,
			tweak: func(tg *Target, _ *MemoryHostKeyStore, _ *sim.Device) { tg.Credential.SudoPassword = "wrong-sudo" },
			check: func(t *testing.T, d *sim.Device, res Result, _ *MemoryHostKeyStore) {
				require.Equal(t, int64(2), d.Counters().PasswordsReceived, "login + one sudo answer, never a second guess")
				require.NotContains(t, d.CommandLog(), "cat /ngfw/etc/sf/connector.properties")
				require.NotContains(t, res.Transcript, "wrong-sudo")
				require.NotContains(t, res.Err.Error(), "wrong-sudo")
			}},
		{name: "host key changed", fault: sim.FaultHostKeyChanged, class: ClassHostKeyMismatch, within: 2 * time.Second,
			check: func(t *testing.T, d *sim.Device, res Result, store *MemoryHostKeyStore) {
				c := d.Counters()
				require.Zero(t, c.PasswordsReceived)
				require.Zero(t, c.AuthAttempts)
				require.Zero(t, c.Commands)
				require.Equal(t, 1, res.Attempts)
				require.Equal(t, HostKeyMismatch, store.Events()[0].State)
			}},
		{name: "unknown key under strict", fault: sim.FaultHealthy, class: ClassHostKeyUnknown, within: 2 * time.Second,
			tweak: func(tg *Target, store *MemoryHostKeyStore, _ *sim.Device) { tg.Device = "unpinned" },
			check: func(t *testing.T, d *sim.Device, res Result, store *MemoryHostKeyStore) {
				require.Zero(t, d.Counters().AuthAttempts)
				require.True(t, keysEqual(d.HostKey(), store.Pending("unpinned")))
			}},
		{name: "unknown key under tofu", fault: sim.FaultHealthy, class: ClassNone, within: 2 * time.Second,
			tweak: func(tg *Target, store *MemoryHostKeyStore, _ *sim.Device) {
				tg.Device, tg.HostKeyPolicy = "tofu-dev", HostKeyTOFU
			},
			check: func(t *testing.T, d *sim.Device, res Result, store *MemoryHostKeyStore) {
				require.True(t, keysEqual(d.HostKey(), store.Pinned("tofu-dev")))
			}},
		{name: "hang", fault: sim.FaultHang, class: ClassTimeout, within: 1500 * time.Millisecond,
			cfg: func(c *Config) { c.HandshakeTimeout = 500 * time.Millisecond },
			check: func(t *testing.T, d *sim.Device, res Result, _ *MemoryHostKeyStore) {
				require.Equal(t, 1, res.Attempts)
				require.Zero(t, d.Counters().AuthAttempts)
			}},
		{name: "drop mid-session", fault: sim.FaultDrop, class: ClassUnreachable, within: 2 * time.Second,
			check: func(t *testing.T, d *sim.Device, res Result, _ *MemoryHostKeyStore) {
				require.Contains(t, res.Err.Error(), "device closed the session")
			}},
		{name: "slow beyond the session deadline", fault: sim.FaultSlow, class: ClassTimeout, within: 1500 * time.Millisecond,
			cfg: func(c *Config) { c.SessionTimeout, c.CommandTimeout = 700*time.Millisecond, 700*time.Millisecond }},
		{name: "output beyond the cap", fault: sim.FaultHealthy, class: ClassProtocol, within: 2 * time.Second,
			cfg: func(c *Config) { c.MaxOutputPerCommand = 1024 },
			check: func(t *testing.T, d *sim.Device, res Result, _ *MemoryHostKeyStore) {
				require.ErrorIs(t, res.Err, ErrOutputTruncated)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scale := 1e-6
			if tc.fault == sim.FaultSlow {
				scale = 0.1 // 3 s per command becomes 300 ms: beyond the deadline after a few
			}
			spec := goldenSpec(sim.KindFTD, tc.fault)
			f := startSim(t, sim.FleetConfig{Devices: []sim.DeviceSpec{spec}, TimeScale: scale})
			d := f.Devices()[0]
			store := NewMemoryHostKeyStore()
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			r := newTestRunner(t, cfg, store)
			tg := simTargets(f, store)[0]
			if tc.tweak != nil {
				tc.tweak(&tg, store, d)
			}
			start := time.Now()
			res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
				for _, cmd := range diagnoseCommands {
					if _, err := s.Run(ctx, LevelRoot, cmd); err != nil {
						return err
					}
				}
				return nil
			})
			require.Equal(t, tc.class, res.Class, "%v", res.Err)
			require.Less(t, time.Since(start), tc.within)
			if tc.check != nil {
				tc.check(t, d, res, store)
			}
		})
	}
}

func TestSimJumpHost(t *testing.T) {
	t.Parallel()
	f := startSim(t, sim.FleetConfig{Devices: []sim.DeviceSpec{goldenSpec(sim.KindFTD, sim.FaultHealthy)}})
	jump := startFake(t, fakeConfig{forward: true, user: "jump", password: "JumpPass1"})
	store := NewMemoryHostKeyStore()
	store.Pin("bastion", jump.cfg.hostKey.PublicKey())
	r := newTestRunner(t, testConfig(), store)
	tg := simTargets(f, store)[0]
	tg.JumpHosts = []JumpHost{{Name: "bastion", Addr: jump.addr, Credential: Credential{Username: "jump", Password: "JumpPass1"}}}
	res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
		out, err := s.Run(ctx, LevelRoot, "cat /ngfw/etc/sf/connector.properties")
		require.NoError(t, err)
		require.Contains(t, out, "connector_fqdn=api-sse.cisco.com")
		return nil
	})
	require.NoError(t, res.Err)
	require.Equal(t, int64(1), f.Devices()[0].Counters().Logins)
	require.Equal(t, int64(1), jump.logins.Load())
	require.NotContains(t, res.Transcript, "JumpPass1")
}
