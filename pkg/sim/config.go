package sim

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/crypto/ssh"
)

// Clock gives the device's wall clock. Tests inject a fixed clock so that
// transcripts (log timestamps, "since" fields) are stable; latencies are
// real sleeps scaled by TimeScale and do not use the Clock.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// FixedClock is a Clock that always says the same time.
type FixedClock time.Time

// Now returns the fixed time.
func (c FixedClock) Now() time.Time { return time.Time(c) }

// DeviceSpec pins down one device exactly (tests, demos). Empty fields are
// filled as for a generated device.
type DeviceSpec struct {
	Name     string
	Kind     Kind
	Site     string
	Hostname string // prompt hostname; default: Name
	Domain   string // for the FQDN lsof and connector.log print; default cisco.com
	Model    string // model tag, e.g. "1120", "ftdv", "4110", "fmcv300"
	Version  string // e.g. "6.4.0.9"
	// ManagedBy names the FMC of an FTD (default: the FMCs of its site in turn).
	ManagedBy string
	MgmtIP    string // the management address the device reports; default derived
	Faults    []Fault
	// Banner is extra text of the login banner (a site's legal notice,
	// or, in tests, hostile text that must be shown escaped).
	Banner string
}

// FleetConfig says what fleet to simulate. The zero value of every field
// has a usable default, except Count/Devices (at least one device).
type FleetConfig struct {
	// Count devices are generated (after Devices, if any).
	Count int
	// Devices are explicit devices, created first.
	Devices []DeviceSpec
	// Listen is the first device's address; each next device gets the next
	// address (127.1.0.1, 127.1.0.2, ...). Default 127.1.0.1.
	Listen string
	// Port is every device's port when PortBase is 0; 0 means an ephemeral
	// port per device (tests). cmd/ftdsim defaults it to 22.
	Port int
	// PortBase > 0 puts all devices on Listen with ports PortBase, PortBase+1, ...
	PortBase int
	// Seed makes host keys, models, versions and the fault/kind mix reproducible.
	Seed int64
	// Sites are given to generated devices round-robin. Default ["amer"].
	Sites []string
	// Faults is a mix such as "eventhandler-disconnected=10%,egress-blocked=5%":
	// exactly that share of generated devices get the fault, chosen by Seed.
	Faults string
	// Kinds is a mix such as "ftd=90%,fmc7=5%,fmc6=3%,fxos=2%"; the rest are ftd.
	Kinds string
	// Exec makes every device bash-like and accept exec requests (commands
	// run with root rights), so generic SSH tools can be compared with fleetd.
	Exec bool
	// TimeScale multiplies every latency (curl, reboot downtime, slow, flap).
	// 1 = real latencies (the default when 0); 0.01 = 100x faster.
	TimeScale float64
	// Username and Password are the lab credentials (default admin/Admin123);
	// the same password answers sudo.
	Username, Password string
	// AuthorizedKeys may log in by public key as Username.
	AuthorizedKeys []ssh.PublicKey
	// RebootDowntime is how long a rebooting device refuses connections
	// before TimeScale (default 5m).
	RebootDowntime time.Duration
	// NamePrefix is put in front of generated names ("<prefix>ftd-emea-00007").
	NamePrefix string
	// Clock is the devices' wall clock (default: time.Now).
	Clock Clock
	// SlowLatency is the extra per-command delay of the slow fault, before
	// TimeScale (default 3s).
	SlowLatency time.Duration
	// DropAfter is the number of commands after which a drop-fault device
	// closes the connection, counted per connection (default 2: the first
	// command is answered, the second kills the connection).
	DropAfter int
	// FlapUp and FlapDown are the flapping fault's reachable and refused
	// periods, before TimeScale (default 40s and 20s).
	FlapUp, FlapDown time.Duration
	// CommandLogSize caps each device's command log (default 200).
	CommandLogSize int
	// HandshakeTimeout bounds an SSH handshake (default 30s, not scaled).
	HandshakeTimeout time.Duration

	// The FMC REST API every FMC serves over HTTPS on its own address.
	// APIPort is its port (0: ephemeral; cmd/ftdsim defaults it to 443, and
	// with PortBase the ports are ephemeral); NoAPI serves none.
	APIPort int
	NoAPI   bool
	// APIPortFallback: when APIPort cannot be bound for lack of privilege
	// (443 as non-root), use an ephemeral port instead of failing.
	APIPortFallback bool
	// APITokenLife is a token's life (default 30m), APIShortTokenLife its
	// life under the token-expiry fault (default 2s); neither is scaled.
	APITokenLife, APIShortTokenLife time.Duration
	// APIRateLimit is the requests a minute the api-rate-limit fault allows
	// before answering 429 (default 10).
	APIRateLimit int
	// APISlowLatency delays every answer of an api-slow FMC, before
	// TimeScale (default 5s).
	APISlowLatency time.Duration
}

func (c *FleetConfig) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.1.0.1"
	}
	if len(c.Sites) == 0 {
		c.Sites = []string{"amer"}
	}
	if c.TimeScale <= 0 {
		c.TimeScale = 1
	}
	if c.Username == "" {
		c.Username = "admin"
	}
	if c.Password == "" {
		c.Password = "Admin123"
	}
	if c.RebootDowntime <= 0 {
		c.RebootDowntime = 5 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.SlowLatency <= 0 {
		c.SlowLatency = 3 * time.Second
	}
	if c.DropAfter <= 0 {
		c.DropAfter = 2
	}
	if c.FlapUp <= 0 {
		c.FlapUp = 40 * time.Second
	}
	if c.FlapDown <= 0 {
		c.FlapDown = 20 * time.Second
	}
	if c.CommandLogSize <= 0 {
		c.CommandLogSize = 200
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.APITokenLife <= 0 {
		c.APITokenLife = 30 * time.Minute
	}
	if c.APIShortTokenLife <= 0 {
		c.APIShortTokenLife = 2 * time.Second
	}
	if c.APIRateLimit <= 0 {
		c.APIRateLimit = 10
	}
	if c.APISlowLatency <= 0 {
		c.APISlowLatency = 5 * time.Second
	}
}

func (c *FleetConfig) validate() error {
	if c.Count < 0 {
		return errors.New("count must not be negative")
	}
	if c.Count+len(c.Devices) == 0 {
		return errors.New("no devices: set Count or Devices")
	}
	a, err := netip.ParseAddr(c.Listen)
	if err != nil || !a.Is4() {
		return fmt.Errorf("listen address %q: want an IPv4 address", c.Listen)
	}
	if !a.IsLoopback() {
		return fmt.Errorf("listen address %q: the simulator only listens on loopback (127.0.0.0/8)", c.Listen)
	}
	if c.PortBase == 0 {
		last := a
		for i := 1; i < c.Count+len(c.Devices); i++ {
			last = last.Next()
		}
		if !last.IsLoopback() {
			return fmt.Errorf("%d devices from %s run past 127.255.255.255", c.Count+len(c.Devices), c.Listen)
		}
	}
	if c.APIPort < 0 || c.APIPort > 65535 {
		return errors.New("API port out of range")
	}
	if c.Port < 0 || c.Port > 65535 || c.PortBase < 0 || c.PortBase+c.Count+len(c.Devices) > 65536 {
		return errors.New("port out of range")
	}
	mix, _, err := splitFaults(c.Faults)
	if err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	if _, err := parseMix(mix); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	fm, _ := parseMix(mix)
	for _, e := range fm {
		if _, err := ParseFault(e.name); err != nil {
			return fmt.Errorf("faults: %w", err)
		}
	}
	km, err := parseMix(c.Kinds)
	if err != nil {
		return fmt.Errorf("kinds: %w", err)
	}
	for _, e := range km {
		if _, err := ParseKind(e.name); err != nil {
			return fmt.Errorf("kinds: %w", err)
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Devices {
		if d.Name == "" {
			return fmt.Errorf("device %d: empty name", i)
		}
		if seen[d.Name] {
			return fmt.Errorf("device %q: duplicate name", d.Name)
		}
		seen[d.Name] = true
		if d.Kind != "" {
			if _, err := ParseKind(string(d.Kind)); err != nil {
				return fmt.Errorf("device %q: %w", d.Name, err)
			}
		}
		if d.Version != "" && findRelease(d.Version) == nil {
			return fmt.Errorf("device %q: unknown version %q", d.Name, d.Version)
		}
		for _, f := range d.Faults {
			if _, err := ParseFault(string(f)); err != nil {
				return fmt.Errorf("device %q: %w", d.Name, err)
			}
		}
	}
	return nil
}

// scaled converts a device-time duration into the real time to wait.
func (c *FleetConfig) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.TimeScale)
}
