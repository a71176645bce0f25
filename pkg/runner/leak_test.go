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

// TestNoGoroutineLeaks is deliberately not parallel: goroutine counts are
// process-wide, so it runs while no other test does (Go runs sequential
// tests before resuming the parallel ones). It drives every exit path —
// success, auth and host-key refusals, hang, drop, command timeout, session
// deadline, cancellation, exec, keepalives — and checks that the goroutine
// count returns to where it was.
func TestNoGoroutineLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		f, err := sim.NewFleet(sim.FleetConfig{Count: 40, Listen: "127.78.250.1", TimeScale: 0.05, Seed: 3,
			Faults: "auth-failure=10%,hostkey-changed=10%,hang=10%,drop=10%,slow=10%"}, zap.NewNop())
		require.NoError(t, err)
		require.NoError(t, f.Start(context.Background()))
		defer func() { require.NoError(t, f.Close()) }()

		store := NewMemoryHostKeyStore()
		cfg := testConfig()
		cfg.HandshakeTimeout = 300 * time.Millisecond
		cfg.SessionTimeout = 600 * time.Millisecond
		cfg.CommandTimeout = 400 * time.Millisecond
		cfg.Keepalive = 50 * time.Millisecond
		r, err := New(cfg, store, zap.NewNop())
		require.NoError(t, err)
		targets := simTargets(f, store)
		for i := range targets {
			targets[i].Exec = i%7 == 0 // exec refused: falls back to the shell
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		classes := map[ErrorClass]int{}
		for res := range r.FanOut(ctx, targets, func(ctx context.Context, s *Session) error {
			for _, cmd := range diagnoseCommands[4:] {
				if _, err := s.Run(ctx, LevelRoot, cmd); err != nil {
					return err
				}
			}
			return nil
		}) {
			classes[res.Class]++
		}
		// Every exit path was taken.
		for _, c := range []ErrorClass{ClassNone, ClassAuthFailed, ClassHostKeyMismatch, ClassTimeout, ClassUnreachable} {
			require.Positive(t, classes[c], "class %q in %v", c, classes)
		}

		// Cancellation part-way.
		cctx, ccancel := context.WithCancel(context.Background())
		n := 0
		for range r.FanOut(cctx, targets, func(ctx context.Context, s *Session) error {
			ccancel()
			<-ctx.Done()
			return ctx.Err()
		}) {
			n++
		}
		require.Equal(t, len(targets), n)
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
