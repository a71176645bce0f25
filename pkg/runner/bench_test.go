package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/sim"
)

// BenchmarkDiagnose runs the diagnose command set of contracts-internal.md
// at root on N simulated FTDs (in this process, sharing its CPUs), once with
// the runner and once with a bare x/crypto/ssh loop doing the same work
// (connect, password auth, PTY, expert, sudo su -, the commands, exit ×3) at
// the same concurrency. Run one variant per process so that peak RSS is its
// own:
//
//	go test ./pkg/runner -run '^$' -bench 'Diagnose/devices=1000/runner' -benchtime 1x
//	FLEETD_BENCH_10K=1 go test ./pkg/runner -run '^$' -bench 'Diagnose/devices=10000/runner' -benchtime 1x -timeout 20m
//
// FLEETD_BENCH_CONC (default 200) and FLEETD_BENCH_SCALE (simulator
// TimeScale, default 0.01) tune the run. cpu-ms/device counts the whole
// process, simulator included; the client's own share comes from a CPU
// profile (add -cpuprofile cpu.out, then
// go tool pprof -tagfocus side=client -top runner.test cpu.out).
func BenchmarkDiagnose(b *testing.B) {
	sizes := []int{1000}
	if os.Getenv("FLEETD_BENCH_10K") != "" {
		sizes = append(sizes, 10000)
	}
	conc := envInt("FLEETD_BENCH_CONC", 200)
	scale := envFloat("FLEETD_BENCH_SCALE", 0.01)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			// One listener per device plus both ends of every open session.
			raiseNoFile(b, uint64(n+4*conc+256))
			var f *sim.Fleet
			fleet := func(b *testing.B) *sim.Fleet {
				if f == nil {
					var err error
					f, err = sim.NewFleet(sim.FleetConfig{Count: n, Listen: "127.80.0.1", TimeScale: scale, Seed: 1,
						Faults: "eventhandler-disconnected=10%,connector-stopped=5%"}, zap.NewNop())
					if err != nil {
						b.Fatal(err)
					}
					if err := f.Start(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				return f
			}
			defer func() {
				if f != nil {
					_ = f.Close()
				}
			}()
			b.Run("runner", func(b *testing.B) {
				f := fleet(b)
				store := NewMemoryHostKeyStore()
				targets := simTargets(f, store)
				r, err := New(Config{MaxConcurrent: conc, StartRate: -1, SessionTimeout: 10 * time.Minute,
					CommandTimeout: 2 * time.Minute}, store, zap.NewNop())
				if err != nil {
					b.Fatal(err)
				}
				measure(b, n, func() int {
					failed := 0
					for res := range r.FanOut(context.Background(), targets, diagnoseAtRoot) {
						if res.Err != nil {
							failed++
							if failed < 4 {
								b.Logf("%s: %v", res.Device, res.Err)
							}
						}
					}
					return failed
				})
			})
			b.Run("baseline", func(b *testing.B) {
				f := fleet(b)
				devs := f.Devices()
				measure(b, n, func() int {
					var failed atomic.Int64
					var wg sync.WaitGroup
					next := atomic.Int64{}
					for range conc {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								i := int(next.Add(1)) - 1
								if i >= len(devs) {
									return
								}
								if err := bareDiagnose(devs[i]); err != nil {
									if failed.Add(1) < 4 {
										b.Logf("%s: %v", devs[i].Name(), err)
									}
								}
							}
						}()
					}
					wg.Wait()
					return int(failed.Load())
				})
			})
		})
	}
}

func diagnoseAtRoot(ctx context.Context, s *Session) error {
	for _, cmd := range diagnoseCommands {
		if _, err := s.Run(ctx, LevelRoot, cmd); err != nil {
			return err
		}
	}
	return nil
}

// measure runs one whole-fleet pass per b.N and reports devices/s, CPU per
// device (this process: runner or baseline, plus the simulator), the peak
// RSS of the pass and the peak goroutine count.
func measure(b *testing.B, n int, pass func() (failed int)) {
	resetPeakRSS()
	runtime.GC()
	var peakG atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
				peakG.Store(g)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	failed := 0
	for range b.N {
		// Goroutines inherit profiler labels: everything the client side
		// starts (workers, x/crypto's client loops) is "side=client", the
		// simulator's goroutines are not. `go tool pprof -tagfocus side=client`
		// then shows the client's own CPU, which is what P3 compares.
		pprof.Do(context.Background(), pprof.Labels("side", "client"), func(context.Context) {
			failed += pass()
		})
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	close(stop)
	<-done
	devices := float64(n * b.N)
	b.ReportMetric(devices/elapsed.Seconds(), "devices/s")
	b.ReportMetric(float64(cpu.Milliseconds())/devices, "cpu-ms/device")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(peakG.Load()), "peak-goroutines")
	b.ReportMetric(float64(failed), "failed")
	if failed > 0 {
		b.Errorf("%d devices failed", failed)
	}
}

// bareDiagnose is the baseline: what a minimal x/crypto/ssh program does to
// run the same commands, with no timeouts, limits, classification,
// transcripts or redaction.
func bareDiagnose(d *sim.Device) error {
	c, err := ssh.Dial("tcp", d.Addr(), &ssh.ClientConfig{
		User: "admin", Auth: []ssh.AuthMethod{ssh.Password("Admin123")},
		HostKeyCallback: ssh.FixedHostKey(d.HostKey()),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.RequestPty("vt100", termHeight, termWidth, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		return err
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.Shell(); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 4096)
	until := func(suffix string) error {
		buf = buf[:0]
		for !bytes.HasSuffix(buf, []byte(suffix)) {
			n, err := out.Read(chunk)
			buf = append(buf, chunk[:n]...)
			if err != nil {
				return err
			}
		}
		return nil
	}
	send := func(line, suffix string) error {
		if _, err := in.Write([]byte(line + "\n")); err != nil {
			return err
		}
		return until(suffix)
	}
	if err := until("> "); err != nil {
		return err
	}
	if err := send("expert", "$ "); err != nil {
		return err
	}
	if err := send("sudo su -", "Password: "); err != nil {
		return err
	}
	if err := send("Admin123", "# "); err != nil {
		return err
	}
	for _, cmd := range diagnoseCommands {
		if err := send(cmd, "# "); err != nil {
			return err
		}
	}
	if err := send("exit", "$ "); err != nil {
		return err
	}
	if err := send("exit", "> "); err != nil {
		return err
	}
	_, _ = in.Write([]byte("exit\n"))
	_ = s.Wait()
	return nil
}

// raiseNoFile lifts the soft open-files limit to need (Go already raises it
// to the hard limit at start-up; this says so plainly when that is short).
func raiseNoFile(b *testing.B, need uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= need {
		return
	}
	lim.Cur = min(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < need {
		b.Fatalf("need %d open files, the hard limit is %d (raise it: ulimit -Hn)", need, lim.Max)
	}
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func envFloat(k string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// resetPeakRSS resets VmHWM (Linux ≥ 4.0) so each pass reports its own peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
