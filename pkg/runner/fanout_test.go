package runner

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/sim"
)

// peak tracks the highest concurrency seen per key.
type peak struct {
	mu   sync.Mutex
	cur  map[string]int
	high map[string]int
}

func newPeak() *peak { return &peak{cur: map[string]int{}, high: map[string]int{}} }

func (p *peak) enter(keys ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.cur[k]++
		p.high[k] = max(p.high[k], p.cur[k])
	}
}

func (p *peak) leave(keys ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.cur[k]--
	}
}

func (p *peak) max(k string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.high[k]
}

func TestFanOutMixedFleet(t *testing.T) {
	t.Parallel()
	f := startSim(t, sim.FleetConfig{Count: 60, Sites: []string{"emea", "amer", "apjc"}, Seed: 7,
		Faults: "auth-failure=5%,hostkey-changed=5%,hang=5%,drop=5%,eventhandler-disconnected=10%"})
	store := NewMemoryHostKeyStore()
	cfg := testConfig()
	cfg.MaxConcurrent = 8
	cfg.PerSite = map[string]int{"emea": 2}
	cfg.HandshakeTimeout = 500 * time.Millisecond
	r := newTestRunner(t, cfg, store)
	targets := simTargets(f, store)
	// One target pointing at nothing: refused, retried, unreachable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	targets = append(targets, Target{Device: "dead", Site: "amer", Addr: deadAddr, Credential: labCred()})

	p := newPeak()
	results := r.FanOut(ctxT(t), targets, func(ctx context.Context, s *Session) error {
		p.enter("all", s.Target().Site)
		defer p.leave("all", s.Target().Site)
		time.Sleep(50 * time.Millisecond) // hold the slot long enough for the limits to bite
		out, err := s.Run(ctx, LevelRoot, "cat /ngfw/etc/sf/connector.properties")
		if err != nil {
			return err
		}
		require.Contains(t, out, "connector_fqdn=")
		_, err = s.Run(ctx, LevelRoot, "netstat -anlp | grep EventHandler_SSEConnector.sock")
		return err
	})
	got := map[string]Result{}
	for res := range results {
		_, dup := got[res.Device]
		require.False(t, dup, "two results for %s", res.Device)
		got[res.Device] = res
	}
	require.Len(t, got, len(targets))
	want := map[sim.Fault]ErrorClass{
		sim.FaultAuthFailure: ClassAuthFailed, sim.FaultHostKeyChanged: ClassHostKeyMismatch,
		sim.FaultHang: ClassTimeout, sim.FaultDrop: ClassUnreachable, sim.FaultEventHandlerDisconnected: ClassNone,
	}
	for _, d := range f.Devices() {
		class := ClassNone
		for _, fl := range d.Faults() {
			class = want[fl]
		}
		require.Equal(t, class, got[d.Name()].Class, "%s %v: %v", d.Name(), d.Faults(), got[d.Name()].Err)
	}
	require.Equal(t, ClassUnreachable, got["dead"].Class)
	require.Equal(t, 3, got["dead"].Attempts)
	require.LessOrEqual(t, p.max("all"), 8)
	require.LessOrEqual(t, p.max("emea"), 2)
	require.Greater(t, p.max("amer"), 2, "an unlimited site is not held to another site's limit")
}

func TestFanOutCancel(t *testing.T) {
	t.Parallel()
	f := startSim(t, sim.FleetConfig{Count: 20})
	store := NewMemoryHostKeyStore()
	cfg := testConfig()
	cfg.MaxConcurrent = 2
	r := newTestRunner(t, cfg, store)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started atomic.Int32
	results := r.FanOut(ctx, simTargets(f, store), func(ctx context.Context, s *Session) error {
		if started.Add(1) == 2 {
			cancel()
		}
		<-ctx.Done()
		return ctx.Err()
	})
	n, cancelled := 0, 0
	for res := range results {
		n++
		require.Error(t, res.Err)
		if res.Class == ClassCanceled {
			cancelled++
		}
	}
	require.Equal(t, 20, n, "every target yields a result")
	require.Equal(t, 20, cancelled)
	require.LessOrEqual(t, started.Load(), int32(3))
}

func TestSessionHonoursSiteLimitAndStartRate(t *testing.T) {
	t.Parallel()
	f := startSim(t, sim.FleetConfig{Count: 8, Sites: []string{"emea"}})
	store := NewMemoryHostKeyStore()
	cfg := testConfig()
	cfg.PerSite = map[string]int{"emea": 2}
	cfg.StartRate, cfg.StartBurst = 20, 1 // 8 starts take >= 350 ms
	r := newTestRunner(t, cfg, store)
	p := newPeak()
	var wg sync.WaitGroup
	start := time.Now()
	for _, tg := range simTargets(f, store) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// River workers call Session concurrently, one job per device.
			res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
				p.enter("emea")
				defer p.leave("emea")
				time.Sleep(30 * time.Millisecond)
				return nil
			})
			require.NoError(t, res.Err)
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, p.max("emea"), 2)
	require.GreaterOrEqual(t, time.Since(start), 340*time.Millisecond)
}

func TestPanicInSessionFunctionIsContained(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	tg := targetFor(dev, store, "dev")
	results := r.FanOut(ctxT(t), []Target{tg, tg}, func(ctx context.Context, s *Session) error {
		panic("parser bug")
	})
	for res := range results {
		require.Equal(t, ClassProtocol, res.Class)
		require.Contains(t, res.Err.Error(), "parser bug")
	}
}
