// Command ftdsim serves a simulated fleet of Firepower FMCs and FTDs over
// SSH for demos, tests and benchmarks. See docs/simulator.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/sim"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		os.Exit(runBench(os.Args[2:], os.Stdout, os.Stderr))
	}
	// The simulator's heap is small (about 100 MiB at 10,000 devices) and
	// its garbage short-lived: collecting at 4x the live heap instead of 2x
	// cut its CPU per session by 14 %, at 17x a further 3 % (issue 15).
	// The soft limit keeps a 10,000-device fleet's heap under 1 GiB (it
	// collects earlier instead). GOGC and GOMEMLIMIT still override.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(1600)
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(1 << 30)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	cfg             sim.FleetConfig
	sites, keysFile string
	inventoryOut    string
	credential      string
	fingerprintsOut string
	knownHostsOut   string
	control         string
	logLevel        string
	pprof           bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("ftdsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ftdsim [flags]\n       ftdsim bench [flags]   (measure logins/s against a running fleet)\n\nFlags:\n")
		fs.PrintDefaults()
	}
	c := &o.cfg
	fs.IntVar(&c.Count, "count", 10, "number of devices")
	fs.StringVar(&c.Listen, "listen", "127.1.0.1", "first device address; the next devices count up from it")
	fs.IntVar(&c.Port, "port", 22, "port of every device (0 = ephemeral) unless --port-base is set")
	fs.IntVar(&c.PortBase, "port-base", 0, "put every device on --listen with ports port-base, port-base+1, ...")
	fs.Int64Var(&c.Seed, "seed", 1, "seed for host keys, models, versions and the fault mix")
	fs.StringVar(&o.sites, "sites", "amer", "comma-separated sites, given round-robin (emea→eu, amer→us, apjc→apj)")
	fs.StringVar(&c.Faults, "faults", "", `fault mix, e.g. "eventhandler-disconnected=10%,egress-blocked=5%"; hostile SSH servers: stall-channel, stall-pty, stall-shell, flood, no-prompt; selectors plant a fault on a group: "egress-blocked@site=emea", "not-enrolled@fmc=NAME", "eventhandler-disconnected@version=6.4.0[=50%]"`)
	fs.StringVar(&c.Kinds, "kinds", "", `kind mix, e.g. "ftd=90%,fmc7=5%,fmc6=3%,fxos=2%" (rest: ftd)`)
	fs.BoolVar(&c.Exec, "exec", false, "bash-like devices that accept exec requests (for Ansible/parallel-ssh)")
	fs.Float64Var(&c.TimeScale, "time-scale", 1, "multiplies every latency and downtime (0.01 = 100x faster)")
	fs.StringVar(&c.Username, "username", "admin", "login user")
	fs.StringVar(&c.Password, "password", "Admin123", "login and sudo password")
	fs.StringVar(&o.keysFile, "authorized-keys", "", "authorized_keys file whose keys may log in")
	fs.DurationVar(&c.RebootDowntime, "reboot-downtime", 5*time.Minute, "how long a rebooting device refuses connections (before --time-scale)")
	fs.StringVar(&c.NamePrefix, "name-prefix", "", "prefix for generated device names")
	fs.DurationVar(&c.SlowLatency, "slow-latency", 3*time.Second, "per-command delay of the slow fault (before --time-scale)")
	fs.IntVar(&c.DropAfter, "drop-after", 2, "commands per connection after which a drop-fault device closes it")
	fs.IntVar(&c.APIPort, "api-port", 443, "port of every FMC's REST API over HTTPS, on the FMC's own address (0 = ephemeral; ephemeral with --port-base; the default falls back to ephemeral when 443 cannot be bound)")
	fs.BoolVar(&c.NoAPI, "no-api", false, "serve no FMC REST API")
	fs.DurationVar(&c.APIShortTokenLife, "api-short-token-life", 2*time.Second, "token life of an FMC with the token-expiry fault")
	fs.IntVar(&c.APIRateLimit, "api-rate-limit", 10, "requests a minute an FMC with the api-rate-limit fault answers before 429")
	fs.DurationVar(&c.APISlowLatency, "api-slow-latency", 5*time.Second, "delay of every REST answer of an api-slow FMC (before --time-scale)")
	fs.StringVar(&o.inventoryOut, "inventory-out", "", "write the fleet as an import CSV to this file")
	fs.StringVar(&o.credential, "credential", "lab", "credential name written to the inventory")
	fs.StringVar(&o.fingerprintsOut, "fingerprints-out", "", `write "name SHA256:..." host-key lines (and "name SHA256:... tls" per FMC REST certificate) to this file`)
	fs.StringVar(&o.knownHostsOut, "known-hosts-out", "", "write an OpenSSH known_hosts file for the fleet")
	fs.StringVar(&o.control, "control", "", "serve the HTTP/JSON control API on this loopback address, e.g. 127.0.0.1:8022")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.pprof, "pprof", false, "also serve Go's profiler under /debug/pprof/ on the --control address")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// The default 443 falls back to ephemeral ports where it cannot be bound
	// (not root); a port given explicitly must be bound.
	c.APIPortFallback = true
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "api-port" {
			c.APIPortFallback = false
		}
	})
	for _, s := range strings.Split(o.sites, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Sites = append(c.Sites, s)
		}
	}
	if o.keysFile != "" {
		keys, err := readAuthorizedKeys(o.keysFile)
		if err != nil {
			return nil, err
		}
		c.AuthorizedKeys = keys
	}
	if o.control != "" {
		host, _, err := net.SplitHostPort(o.control)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("--control %q: want a loopback host:port", o.control)
		}
	}
	return o, nil
}

func readAuthorizedKeys(path string) ([]ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read authorized keys: %w", err)
	}
	var keys []ssh.PublicKey
	for len(strings.TrimSpace(string(data))) > 0 {
		k, _, _, rest, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		keys = append(keys, k)
		data = rest
	}
	return keys, nil
}

func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	enc := zap.NewDevelopmentEncoderConfig()
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), lvl)
	return zap.New(core), nil
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := fn(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ftdsim:", err)
		return 2
	}
	log, err := newLogger(o.logLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "ftdsim:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, log, stdout); err != nil {
		log.Error("ftdsim failed", zap.Error(err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, o *options, log *zap.Logger, stdout io.Writer) error {
	began := time.Now()
	fleet, err := sim.NewFleet(o.cfg, log)
	if err != nil {
		return err
	}
	if err := fleet.Start(ctx); err != nil {
		return err
	}
	defer fleet.Close()
	startup := time.Since(began)
	if o.inventoryOut != "" {
		if err := writeFile(o.inventoryOut, func(w io.Writer) error { return fleet.WriteInventoryCSV(w, o.credential) }); err != nil {
			return err
		}
	}
	if o.fingerprintsOut != "" {
		if err := writeFile(o.fingerprintsOut, fleet.WriteFingerprints); err != nil {
			return err
		}
	}
	if o.knownHostsOut != "" {
		if err := writeFile(o.knownHostsOut, fleet.WriteKnownHosts); err != nil {
			return err
		}
	}
	var srv *http.Server
	if o.control != "" {
		ln, err := net.Listen("tcp", o.control)
		if err != nil {
			return fmt.Errorf("control API: %w", err)
		}
		srv = &http.Server{Handler: withPprof(fleet.ControlHandler(), o.pprof), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("control API stopped", zap.Error(err))
			}
		}()
	}
	devs := fleet.Devices()
	counts := fleet.FaultCounts()
	var parts []string
	for _, f := range append([]sim.Fault{sim.FaultHealthy}, sim.AllFaults()...) {
		if counts[f] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", f, counts[f]))
		}
	}
	fmt.Fprintf(stdout, "ftdsim: %d devices %s .. %s ready in %s (%s)\n", len(devs), devs[0].Addr(),
		devs[len(devs)-1].Addr(), startup.Round(time.Millisecond), strings.Join(parts, " "))
	if !o.cfg.NoAPI {
		var apis []string
		for _, d := range devs {
			if a := d.APIAddr(); a != "" {
				apis = append(apis, d.Name()+"="+a)
			}
		}
		if len(apis) > 0 {
			first := apis[0]
			if len(apis) > 1 {
				first += fmt.Sprintf(" ... (%d FMCs)", len(apis))
			}
			fmt.Fprintf(stdout, "ftdsim: FMC REST API over HTTPS: %s\n", first)
		}
	}
	if o.control != "" {
		fmt.Fprintf(stdout, "ftdsim: control API on http://%s/devices\n", o.control)
	}
	<-ctx.Done()
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}
	return nil
}

// withPprof adds Go's profiler to the control API when on (--pprof): the
// benchmarks profile the simulator's share of a run (docs/benchmarks.md).
func withPprof(h http.Handler, on bool) http.Handler {
	if !on {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	return mux
}
