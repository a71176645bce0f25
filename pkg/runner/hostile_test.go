package runner

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/sim"
)

// hostileConfig has a short session deadline and per-command bounds no
// shorter than it, so that only the session deadline can end a stalled
// step: the keepalive goes on being answered by every hostile device.
func hostileConfig() Config {
	cfg := testConfig()
	cfg.SessionTimeout = time.Second
	cfg.CommandTimeout = time.Second
	cfg.Keepalive = 200 * time.Millisecond
	cfg.MaxOutputPerCommand = 64 << 10
	cfg.MaxTranscript = 128 << 10
	return cfg
}

// hostileCases are issue 10 §3's devices: each answers keepalives and
// blocks one step of the session forever.
var hostileCases = []struct {
	fault sim.Fault
	exec  bool
}{
	{sim.FaultStallChannel, false},
	{sim.FaultStallChannel, true}, // the exec channel's open, not the shell's
	{sim.FaultStallPTY, false},
	{sim.FaultStallShell, false},
	{sim.FaultStallShell, true}, // the exec request
	{sim.FaultNoPrompt, false},
	{sim.FaultFlood, false},
	{sim.FaultFlood, true},
}

func diagnoseFn(ctx context.Context, s *Session) error {
	for _, cmd := range diagnoseCommands {
		if _, err := s.Run(ctx, LevelRoot, cmd); err != nil {
			return err
		}
	}
	return nil
}

// checkHostile asserts what every hostile device must come to: the call
// ended by session_timeout + 1 s, classified timeout, the connection closed,
// and (flood) the output kept within its caps.
func checkHostile(t *testing.T, cfg Config, fault sim.Fault, exec bool, res Result, took time.Duration) {
	t.Helper()
	require.Less(t, took, cfg.SessionTimeout+time.Second, "%s: the call outlived the session deadline: %v", fault, res.Err)
	require.Equal(t, ClassTimeout, res.Class, "%s: %v", fault, res.Err)
	require.ErrorIs(t, res.Err, ErrTimeout)
	if fault == sim.FaultFlood {
		// Endless output is a device that never finishes its command: a
		// timeout, with the transcript cut at its cap (it is not
		// output-truncated, which means the prompt came back after too much).
		// In exec mode the command's output is held to its own cap first.
		require.True(t, exec || res.TranscriptTruncated, "flood: transcript marked truncated")
		require.LessOrEqual(t, len(res.Transcript), cfg.MaxTranscript+256)
	}
}

// TestHostileDevicesEndAtTheSessionDeadline replays issue 10 §3: a device
// that never confirms the session channel, the pty-req or the shell request
// (or floods, or never prompts) used to hold the session, and its runner
// slots, past every timeout. It is not parallel, so that the goroutine count
// at the end says whether anything was left blocked.
func TestHostileDevicesEndAtTheSessionDeadline(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		cfg := hostileConfig()
		var specs []sim.DeviceSpec
		for _, tc := range hostileCases {
			spec := goldenSpec(sim.KindFTD, tc.fault)
			spec.Name = string(tc.fault)
			if tc.exec {
				spec.Name += "-exec"
				spec.Kind, spec.Model, spec.Version, spec.Hostname = sim.KindFMC6, "fmcv", "6.6.5", "fmc" // bash: exec capable
			}
			specs = append(specs, spec)
		}
		f, err := sim.NewFleet(sim.FleetConfig{Devices: specs, Listen: "127.78.251.1", TimeScale: 1e-6,
			Clock: sim.FixedClock(goldenTime)}, zap.NewNop())
		require.NoError(t, err)
		require.NoError(t, f.Start(context.Background()))
		defer func() { require.NoError(t, f.Close()) }()
		store := NewMemoryHostKeyStore()
		r, err := New(cfg, store, zap.NewNop())
		require.NoError(t, err)
		targets := simTargets(f, store)
		for i := range targets {
			targets[i].Exec = hostileCases[i].exec
		}

		// One Session per device, each bounded on its own.
		for i, tg := range targets {
			start := time.Now()
			res := r.Session(context.Background(), tg, diagnoseFn)
			checkHostile(t, cfg, hostileCases[i].fault, hostileCases[i].exec, res, time.Since(start))
			require.Positive(t, f.Device(tg.Device).Counters().Logins, "%s: logged in before stalling", tg.Device)
		}

		// All at once through FanOut: the deadline holds per device, so the
		// whole fan-out ends within one session deadline (+1 s).
		start := time.Now()
		n := 0
		for res := range r.FanOut(context.Background(), targets, diagnoseFn) {
			for i, tg := range targets {
				if tg.Device == res.Device {
					checkHostile(t, cfg, hostileCases[i].fault, hostileCases[i].exec, res, time.Since(start))
				}
			}
			n++
		}
		require.Equal(t, len(targets), n)

		// The caller's cancellation ends a stalled step as promptly, and says
		// cancelled, not timeout.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start = time.Now()
		res := r.Session(ctx, targets[0], diagnoseFn)
		require.Less(t, time.Since(start), 700*time.Millisecond)
		require.Equal(t, ClassCanceled, res.Class, "%v", res.Err)

		// The devices see the connections closed.
		for _, d := range f.Devices() {
			waitFor(t, d.Name()+" connections closed", func() bool { return d.State().ActiveConnections == 0 })
		}
	}()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
