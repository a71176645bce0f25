package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/diagnose"
)

// benchSiteRegions is the site → region mapping of the benchmarks' fleetd
// config (scripts/lib.sh bench_config), so --mode diagnose curls the same
// endpoints fleetd's diagnose does.
const benchSiteRegions = "emea=eu,amer=us,apjc=apj"

// runBench measures what a running fleet can serve with a bare
// x/crypto/ssh client: logins per second, whole root sessions, or the
// floor of a diagnose (--mode diagnose: every device once, the diagnose's
// exact commands, no fleetd, no database).
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ftdsim bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	inventory := fs.String("inventory", "fleet.csv", "inventory CSV written by ftdsim --inventory-out")
	mode := fs.String("mode", "login", "login (connect+auth), session (PTY to root, one command), exec (--exec fleets) "+
		"or diagnose (PTY to root, every command of a diagnose, exit; each device once)")
	conc := fs.Int("concurrency", 32, "parallel clients")
	total := fs.Int("n", 0, "operations to run (devices are used round-robin; default 2000, or the inventory's device count for --mode diagnose)")
	user := fs.String("username", "admin", "login user")
	pass := fs.String("password", "Admin123", "login password")
	siteRegions := fs.String("site-regions", benchSiteRegions, "site=region,... for --mode diagnose (regions of diagnose.DefaultRegions)")
	cmdTimeout := fs.Duration("command-timeout", 30*time.Second, "--mode diagnose: longest wait for one prompt")
	cpuProfile := fs.String("cpuprofile", "", "write the loop's CPU profile to this file (to set against fleetd's)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	devs, err := readInventory(*inventory)
	if err != nil {
		fmt.Fprintln(stderr, "ftdsim bench:", err)
		return 1
	}
	if *total <= 0 {
		*total = 2000
		if *mode == "diagnose" {
			*total = len(devs)
		}
	}
	if *conc < 1 {
		*conc = 1
	}
	cfg := &ssh.ClientConfig{User: *user, Auth: []ssh.AuthMethod{ssh.Password(*pass)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	var envs map[string]diagnose.Env
	if *mode == "diagnose" {
		if envs, err = diagnoseEnvs(devs, *siteRegions); err != nil {
			fmt.Fprintln(stderr, "ftdsim bench:", err)
			return 2
		}
	}
	op := map[string]func(benchDevice) error{
		"login":    func(d benchDevice) error { return benchLogin(d.addr, cfg) },
		"session":  func(d benchDevice) error { return benchSession(d.addr, cfg, *pass) },
		"exec":     func(d benchDevice) error { return benchExec(d.addr, cfg) },
		"diagnose": func(d benchDevice) error { return benchDiagnose(d, cfg, *pass, envs[d.site], *cmdTimeout) },
	}[*mode]
	if op == nil {
		fmt.Fprintf(stderr, "ftdsim bench: unknown --mode %q\n", *mode)
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "ftdsim bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "ftdsim bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	var next atomic.Int64
	var failures atomic.Int64
	lat := make([]time.Duration, *total)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *total {
					return
				}
				t0 := time.Now()
				d := devs[i%len(devs)]
				if err := op(d); err != nil {
					if failures.Add(1) <= 3 {
						fmt.Fprintf(stderr, "%s (%s): %v\n", d.name, d.addr, err)
					}
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Fprintf(stdout, "mode=%s n=%d concurrency=%d devices=%d elapsed=%s rate=%.0f/s p50=%s p99=%s failures=%d\n",
		*mode, *total, *conc, len(devs), elapsed.Round(time.Millisecond), float64(*total)/elapsed.Seconds(),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), failures.Load())
	// The loop's own CPU (user+sys of this process), so a benchmark can set
	// a client's CPU per device against it. Machine-readable: key=value.
	fmt.Fprintf(stdout, "wall_s=%.3f sessions_per_s=%.1f cpu_s=%.3f cpu_per_device_ms=%.3f failures=%d\n",
		elapsed.Seconds(), float64(*total)/elapsed.Seconds(), cpu.Seconds(),
		float64(cpu.Microseconds())/1000/float64(*total), failures.Load())
	if failures.Load() > 0 {
		return 1
	}
	return 0
}

// cpuTime is this process's user+sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchDevice is one row of the inventory CSV, as far as the bench needs it.
type benchDevice struct{ name, site, addr string }

// diagnoseEnvs gives each site of devs the diagnose.Env fleetd's diagnose
// uses: the site's region in diagnose.DefaultRegions (the default config's
// table) and the default curl --max-time and log window (the benchmarks'
// fleetd config sets the same), so the loop's commands are pkg/diagnose's
// and cannot drift from what fleetd sends.
func diagnoseEnvs(devs []benchDevice, siteRegions string) (map[string]diagnose.Env, error) {
	regionOf := map[string]string{}
	for _, kv := range strings.Split(siteRegions, ",") {
		site, region, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || site == "" || region == "" {
			return nil, fmt.Errorf("--site-regions: %q is not site=region", kv)
		}
		regionOf[site] = region
	}
	out := map[string]diagnose.Env{}
	for _, d := range devs {
		if _, done := out[d.site]; done {
			continue
		}
		region, ok := regionOf[d.site]
		if !ok {
			return nil, fmt.Errorf("device %s: site %q has no region in --site-regions %q", d.name, d.site, siteRegions)
		}
		env, err := diagnose.NewEnv(d.name, d.site, region, diagnose.DefaultRegions())
		if err != nil {
			return nil, err
		}
		out[d.site] = env
	}
	return out, nil
}

// diagnoseCommandsFor is every check's commands for env, in catalog order.
func diagnoseCommandsFor(env diagnose.Env) ([]string, error) {
	var cmds []string
	for _, c := range diagnose.Catalog() {
		cs, err := c.Commands(env)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", c.ID, err)
		}
		cmds = append(cmds, cs...)
	}
	return cmds, nil
}

func readInventory(path string) ([]benchDevice, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open inventory: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("inventory has no devices")
	}
	var out []benchDevice
	for _, r := range rows[1:] {
		if len(r) < 4 {
			continue
		}
		a := r[3]
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "22")
		}
		out = append(out, benchDevice{name: r[0], site: r[2], addr: a})
	}
	if len(out) == 0 {
		return nil, errors.New("inventory has no devices")
	}
	return out, nil
}

func benchLogin(addr string, cfg *ssh.ClientConfig) error {
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	return c.Close()
}

// withSession dials addr, opens one session and runs f on it.
func withSession(addr string, cfg *ssh.ClientConfig, f func(s *ssh.Session) error) error {
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}

func benchExec(addr string, cfg *ssh.ClientConfig) error {
	return withSession(addr, cfg, func(s *ssh.Session) error {
		out, err := s.Output("netstat -anlp | grep EventHandler_SSEConnector.sock")
		if err != nil {
			return err
		}
		if !bytes.Contains(out, []byte("LISTENING")) {
			return fmt.Errorf("unexpected output %q", out)
		}
		return nil
	})
}

// benchSession walks clish → expert → root and runs one check.
func benchSession(addr string, cfg *ssh.ClientConfig, pass string) error {
	return withSession(addr, cfg, func(s *ssh.Session) error { return benchShell(s, pass) })
}

// startShell asks for a PTY and a shell, as an operator's ssh does, and
// returns the session's input and output.
func startShell(s *ssh.Session) (io.Writer, io.Reader, error) {
	in, err := s.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := s.RequestPty("xterm", 50, 512, ssh.TerminalModes{}); err != nil {
		return nil, nil, err
	}
	if err := s.Shell(); err != nil {
		return nil, nil, err
	}
	return in, out, nil
}

func benchShell(s *ssh.Session, pass string) error {
	in, out, err := startShell(s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var buf bytes.Buffer
	chunk := make([]byte, 4096)
	expect := func(suffixes ...string) (string, error) {
		for ctx.Err() == nil {
			text := strings.TrimRight(buf.String(), " ")
			for _, sfx := range suffixes {
				if strings.HasSuffix(text, sfx) {
					buf.Reset()
					return sfx, nil
				}
			}
			n, err := out.Read(chunk)
			buf.Write(chunk[:n])
			if err != nil {
				return "", err
			}
		}
		return "", ctx.Err()
	}
	steps := []struct{ send, want string }{{"", ">"}, {"expert", "$"}, {"sudo su -", ":"}, {pass, "#"},
		{"netstat -anlp | grep EventHandler_SSEConnector.sock", "#"}}
	for _, st := range steps {
		if st.send != "" {
			if _, err := io.WriteString(in, st.send+"\r"); err != nil {
				return err
			}
		}
		got, err := expect(st.want, "#")
		if err != nil {
			return fmt.Errorf("waiting for %q: %w", st.want, err)
		}
		if st.want == ":" && got == "#" {
			continue // sudo did not ask
		}
	}
	return nil
}

// benchDiagnose is the floor of one device's diagnose: PTY, `expert`,
// `sudo su -` (answering the password), then diagnose.RunChecks of every
// check with a bare executor (send the command, read to the root prompt), so
// the commands are exactly those a diagnose sends on that device (fewer
// curls after a timeout, dependent checks skipped), then `exit` down each
// level as fleetd's runner leaves a device. Every wait is bounded by timeout:
// when it passes, the connection is closed, which ends the blocked read.
func benchDiagnose(d benchDevice, cfg *ssh.ClientConfig, pass string, env diagnose.Env, timeout time.Duration) error {
	c, err := ssh.Dial("tcp", d.addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	in, out, err := startShell(s)
	if err != nil {
		return err
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() { timedOut.Store(true); _ = c.Close() })
	defer timer.Stop()
	var buf bytes.Buffer
	chunk := make([]byte, 4096)
	// expect reads until the output, trailing blanks trimmed, ends with one
	// of suffixes (the prompts' last characters, as benchShell does), and
	// returns the suffix and what was read.
	expect := func(what string, suffixes ...string) (string, string, error) {
		timer.Reset(timeout)
		for {
			text := bytes.TrimRight(buf.Bytes(), " ")
			for _, sfx := range suffixes {
				if bytes.HasSuffix(text, []byte(sfx)) {
					got := buf.String()
					buf.Reset()
					return sfx, got, nil
				}
			}
			n, err := out.Read(chunk)
			buf.Write(chunk[:n])
			if err != nil {
				if timedOut.Load() {
					return "", "", fmt.Errorf("waiting for %s: no prompt within %s", what, timeout)
				}
				return "", "", fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
	}
	send := func(line string) error {
		_, err := io.WriteString(in, line+"\n")
		return err
	}
	if _, _, err := expect("the clish prompt", ">"); err != nil {
		return err
	}
	if err := send("expert"); err != nil {
		return err
	}
	if _, _, err := expect("the expert prompt", "$"); err != nil {
		return err
	}
	if err := send("sudo su -"); err != nil {
		return err
	}
	got, _, err := expect("sudo", ":", "#")
	if err != nil {
		return err
	}
	if got == ":" {
		if err := send(pass); err != nil {
			return err
		}
		if _, _, err := expect("the root prompt", "#"); err != nil {
			return err
		}
	}
	var runErr error
	exec := diagnose.ExecutorFunc(func(_ context.Context, cmd string) (string, error) {
		if runErr != nil {
			return "", runErr
		}
		if runErr = send(cmd); runErr != nil {
			return "", runErr
		}
		_, text, err := expect(fmt.Sprintf("the prompt after %q", cmd), "#")
		if err != nil {
			runErr = err
			return "", err
		}
		return commandOutput(text), nil
	})
	env.Device = d.name
	diagnose.RunChecks(context.Background(), exec, env, nil)
	if runErr != nil {
		return runErr
	}
	for _, st := range []struct{ what, prompt string }{{"expert", "$"}, {"clish", ">"}} {
		if err := send("exit"); err != nil {
			return err
		}
		if _, _, err := expect("the "+st.what+" prompt after exit", st.prompt); err != nil {
			return err
		}
	}
	// The last exit logs out: the device closes the session.
	if err := send("exit"); err != nil {
		return err
	}
	timer.Reset(timeout)
	_, _ = io.Copy(io.Discard, out)
	if timedOut.Load() {
		return fmt.Errorf("logout: session still open after %s", timeout)
	}
	return nil
}

// commandOutput is a command's output from what the terminal showed after
// it was typed: carriage returns dropped, without the echoed command line
// and the prompt line.
func commandOutput(text string) string {
	text = strings.ReplaceAll(text, "\r", "")
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	} else {
		return ""
	}
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		return text[:i+1]
	}
	return ""
}
