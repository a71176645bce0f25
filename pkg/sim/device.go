package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"golang.org/x/crypto/ssh"
)

// Counters is a snapshot of what a device has seen. The remediation and
// reliability tests read them to prove, e.g., that a connector was
// restarted exactly once.
type Counters struct {
	Connections       int64 `json:"connections"`        // TCP connections accepted (hang and refused-auth included)
	Logins            int64 `json:"logins"`             // successful SSH authentications
	AuthAttempts      int64 `json:"auth_attempts"`      // password, keyboard-interactive and public-key attempts
	PasswordsReceived int64 `json:"passwords_received"` // passwords and keyboard-interactive answers, sudo passwords included
	PublicKeyAttempts int64 `json:"public_key_attempts"`
	Commands          int64 `json:"commands"`           // non-empty lines typed at a prompt or confirmation, and exec requests
	ConnectorRestarts int64 `json:"connector_restarts"` // enable after disable, restartbyid
	// ConnectorDisables and ConnectorEnables count "pmtool disablebyid" and
	// "pmtool enablebyid" of SSEConnector as received, whether or not they
	// changed anything: a command sent twice shows here, not in restarts.
	ConnectorDisables int64 `json:"connector_disables"`
	ConnectorEnables  int64 `json:"connector_enables"`
	Reboots           int64 `json:"reboots"`
}

type counters struct {
	connections, logins, authAttempts, passwords, pubkeys, commands, restarts, reboots atomic.Int64
	disables, enables                                                                  atomic.Int64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Connections: c.connections.Load(), Logins: c.logins.Load(), AuthAttempts: c.authAttempts.Load(),
		PasswordsReceived: c.passwords.Load(), PublicKeyAttempts: c.pubkeys.Load(), Commands: c.commands.Load(),
		ConnectorRestarts: c.restarts.Load(), ConnectorDisables: c.disables.Load(), ConnectorEnables: c.enables.Load(),
		Reboots: c.reboots.Load(),
	}
}

// CommandEntry is one line of a device's command log.
type CommandEntry struct {
	At   time.Time `json:"at"`
	Line string    `json:"line"`
}

// cmdEntry keeps the line interned: a fleet sends the same few commands to
// every device, so 10,000 full logs share their strings.
type cmdEntry struct {
	at   int64
	line unique.Handle[string]
}

// DeviceState is a snapshot of the device's condition.
type DeviceState struct {
	// Phase is up, rebooting, flapping-down or closed.
	Phase string `json:"phase"`
	// Connector is what pmtool would say: running, waiting or user-disabled.
	Connector             string    `json:"connector"`
	ConnectorPID          int       `json:"connector_pid,omitempty"`
	EventHandlerConnected bool      `json:"eventhandler_connected"`
	Enrolled              bool      `json:"enrolled"`
	BootedAt              time.Time `json:"booted_at"`
	ActiveConnections     int       `json:"active_connections"`
}

const (
	phaseUp        = "up"
	phaseRebooting = "rebooting"
	phaseFlapDown  = "flapping-down"
	phaseClosed    = "closed"
)

// Device is one simulated FMC or FTD.
type Device struct {
	fleet    *Fleet
	index    int
	name     string
	kind     Kind
	site     string
	region   string
	hostname string
	banner   string
	domain   string
	mgmtIP   string
	model    *model
	rel      *release
	ip       netip.Addr
	port     atomic.Int32

	keyOnce sync.Once
	signer  ssh.Signer
	altOnce sync.Once
	alt     ssh.Signer

	cnt counters

	mu sync.Mutex
	// flags holds the faults that are not connector state: egress,
	// region, and the transport faults. The connector faults are derived
	// from the state below, so that curing them is a state change.
	flags    faultSet
	phase    string
	ln       net.Listener
	conns    map[net.Conn]struct{}
	flapGen  int
	lectured bool
	bootedAt time.Time // device clock
	starts   int       // connector starts since creation: picks new PIDs
	boots    int

	connEnabled  bool
	connChangeAt time.Time // real time when the last enable/disable takes effect
	pmPID        int32     // SSEConnector in pmtool
	childPID     int32     // the "connector" binary in lsof/netstat
	ehPID        int32     // EventHandler as netstat shows it
	ehListenIno  int64
	ehConnIno    int64
	lsListenIno  int64
	ehBroken     bool
	ehStuck      bool // ehBroken survives connector restarts (eventhandler-stuck)
	enrolled     bool
	enrolledAt   time.Time

	events    []logEvent
	intervals []faultInterval

	cmdlog  []cmdEntry
	cmdNext int

	// The FMC REST API (fmcapi.go): api is nil for an FTD; managedBy is an
	// FTD's FMC, set before Start, then read-only.
	api       *fmcAPI
	managedBy *Device
}

// Name is the device's inventory name.
func (d *Device) Name() string { return d.name }

// Kind is the device's kind (ftd, fmc7, fmc6, fxos).
func (d *Device) Kind() Kind { return d.kind }

// Site is the device's site.
func (d *Device) Site() string { return d.site }

// Region is the SSE region its site maps to.
func (d *Device) Region() string { return d.region }

// Hostname is the name in the device's prompts.
func (d *Device) Hostname() string { return d.hostname }

// Model is the model tag (e.g. "1120").
func (d *Device) Model() string { return d.model.tag }

// Version is the software version (e.g. "6.4.0.9").
func (d *Device) Version() string { return d.rel.version }

// Addr is host:port where the device listens (valid after Start).
func (d *Device) Addr() string {
	return net.JoinHostPort(d.ip.String(), strconv.Itoa(int(d.port.Load())))
}

// IP is the device's loopback address.
func (d *Device) IP() string { return d.ip.String() }

// Port is the device's TCP port (valid after Start).
func (d *Device) Port() int { return int(d.port.Load()) }

// hostKeySeed derives the ed25519 seed from the fleet seed and the device
// name, so a device keeps its key across runs and positions in the fleet.
func (d *Device) hostKeySeed(generation byte) []byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(d.fleet.cfg.Seed))
	h.Write([]byte("ftdsim-hostkey\x00"))
	h.Write(b[:])
	h.Write([]byte(d.name))
	h.Write([]byte{0, generation})
	return h.Sum(nil)
}

func signerFromSeed(seed []byte) ssh.Signer {
	s, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(fmt.Sprintf("ed25519 signer: %v", err)) // cannot happen for a valid ed25519 key
	}
	return s
}

func (d *Device) hostSigner() ssh.Signer {
	d.keyOnce.Do(func() { d.signer = signerFromSeed(d.hostKeySeed(0)) })
	return d.signer
}

func (d *Device) altSigner() ssh.Signer {
	d.altOnce.Do(func() { d.alt = signerFromSeed(d.hostKeySeed(1)) })
	return d.alt
}

// HostKey is the device's own host key: the one an inventory pins. With
// the hostkey-changed fault the device presents another (PresentedHostKey).
func (d *Device) HostKey() ssh.PublicKey { return d.hostSigner().PublicKey() }

// PresentedHostKey is the key the device currently shows to clients.
func (d *Device) PresentedHostKey() ssh.PublicKey { return d.presentedSigner().PublicKey() }

func (d *Device) presentedSigner() ssh.Signer {
	if d.hasFlag(FaultHostKeyChanged) {
		return d.altSigner()
	}
	return d.hostSigner()
}

// Fingerprint is the SHA256 fingerprint of HostKey, as ssh-keygen -l prints it.
func (d *Device) Fingerprint() string { return ssh.FingerprintSHA256(d.HostKey()) }

// Counters returns a snapshot of the device's counters.
func (d *Device) Counters() Counters { return d.cnt.snapshot() }

// CommandLog returns the last commands received (oldest first), capped at
// FleetConfig.CommandLogSize. Passwords typed at "Password:" are not in it.
func (d *Device) CommandLog() []string {
	es := d.CommandEntries()
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Line
	}
	return out
}

// CommandEntries is CommandLog with the device-clock time of each line.
func (d *Device) CommandEntries() []CommandEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.cmdlog)
	out := make([]CommandEntry, 0, n)
	for i := 0; i < n; i++ {
		e := d.cmdlog[(d.cmdNext+i)%n]
		out = append(out, CommandEntry{At: time.Unix(0, e.at).In(d.zone()), Line: e.line.Value()})
	}
	return out
}

func (d *Device) recordCommand(line string) {
	d.cnt.commands.Add(1)
	e := cmdEntry{at: d.now().UnixNano(), line: unique.Make(line)}
	d.mu.Lock()
	defer d.mu.Unlock()
	max := d.fleet.cfg.CommandLogSize
	if len(d.cmdlog) < max {
		d.cmdlog = append(d.cmdlog, e)
		d.cmdNext = 0
		return
	}
	d.cmdlog[d.cmdNext] = e
	d.cmdNext = (d.cmdNext + 1) % max
}

func (d *Device) now() time.Time       { return d.fleet.cfg.Clock.Now().In(d.zone()) }
func (d *Device) zone() *time.Location { return siteZone(d.site) }

func (d *Device) hasFlag(f Fault) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flags.has(f)
}

// Faults lists the device's current faults (empty when healthy). The
// connector faults come from the device state, so a restart that cures
// eventhandler-disconnected removes it from this list.
func (d *Device) Faults() []Fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.faultsLocked()
}

func (d *Device) faultsLocked() []Fault {
	s := d.flags
	switch {
	case d.ehStuck:
		s |= faultBit(FaultEventHandlerStuck)
	case d.ehBroken:
		s |= faultBit(FaultEventHandlerDisconnected)
	}
	if !d.connEnabled {
		s |= faultBit(FaultConnectorStopped)
	}
	if !d.enrolled {
		s |= faultBit(FaultNotEnrolled)
	}
	return s.list()
}

// SetFault adds a fault (FaultHealthy clears them all).
func (d *Device) SetFault(f Fault) {
	if f == FaultHealthy {
		d.ClearFaults()
		return
	}
	now := d.now()
	d.mu.Lock()
	switch f {
	case FaultEventHandlerDisconnected:
		d.ehBroken = true
	case FaultEventHandlerStuck:
		d.ehBroken, d.ehStuck = true, true
	case FaultConnectorStopped:
		if d.connEnabled {
			d.connEnabled = false
			d.connChangeAt = time.Time{} // already stopped
			d.addEvent(now, evStop)
		}
	case FaultNotEnrolled:
		d.enrolled = false
	default:
		d.flags |= faultBit(f)
	}
	startFlap := f == FaultFlapping
	if startFlap {
		d.flapGen++
	}
	gen := d.flapGen
	d.syncIntervals(now)
	d.mu.Unlock()
	if startFlap {
		d.scheduleFlap(gen, true)
	}
}

// RemoveFault clears one fault, leaving the others.
func (d *Device) RemoveFault(f Fault) { d.removeFaults(f) }

// ClearFaults makes the device healthy.
func (d *Device) ClearFaults() { d.removeFaults(allFaults...) }

// removeFaults clears faults, and ends at once a flapping outage whose
// fault is gone.
func (d *Device) removeFaults(faults ...Fault) {
	now := d.now()
	d.mu.Lock()
	for _, f := range faults {
		d.removeFaultLocked(f, now)
	}
	d.syncIntervals(now)
	up := d.endFlapLocked()
	d.mu.Unlock()
	if up {
		d.fleet.bringUp(d)
	}
}

// endFlapLocked ends a flapping outage at once when the fault is gone.
func (d *Device) endFlapLocked() bool {
	if d.phase == phaseFlapDown && !d.flags.has(FaultFlapping) {
		d.phase = phaseUp
		return true
	}
	return false
}

func (d *Device) removeFaultLocked(f Fault, now time.Time) {
	switch f {
	case FaultEventHandlerDisconnected, FaultEventHandlerStuck:
		// Either name clears the broken socket: a stuck device lists
		// only eventhandler-stuck, yet shows eventhandler-disconnected.
		d.ehStuck = false
		if d.ehBroken {
			d.ehBroken = false
			d.ehConnIno += 7919
			d.addEvent(now, evEHConnected)
		}
	case FaultConnectorStopped:
		if !d.connEnabled {
			d.connEnabled = true
			d.connChangeAt = time.Time{}
			d.newConnectorPIDs()
			d.addEvent(now, evStart)
		}
	case FaultNotEnrolled:
		if !d.enrolled {
			d.enrolled = true
			d.enrolledAt = now
			d.addEvent(now, evEnrolled)
		}
	case FaultFlapping:
		d.flags &^= faultBit(f)
		d.flapGen++
	default:
		d.flags &^= faultBit(f)
	}
}

// State returns a snapshot of the device's condition.
func (d *Device) State() DeviceState {
	fmcOff, _ := d.fmcBlocks() // the FMC's lock before, never inside, the device's
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.connectorStatusLocked(time.Now())
	s := DeviceState{
		Phase:                 d.phase,
		Connector:             st.state,
		ConnectorPID:          st.pid,
		EventHandlerConnected: st.running && !d.ehBroken,
		Enrolled:              d.enrolled && !fmcOff,
		BootedAt:              d.bootedAt,
		ActiveConnections:     len(d.conns),
	}
	return s
}

// connStatus is what pmtool reports for SSEConnector.
type connStatus struct {
	state   string // running, waiting, user-disabled
	running bool
	pid     int
}

// Timings of pmtool's asynchronous start and stop, in device time: the
// remediation polls "pmtool status" until the state changes.
const (
	connectorStopDelay  = 1 * time.Second
	connectorStartDelay = 3 * time.Second
)

func (d *Device) connectorStatusLocked(realNow time.Time) connStatus {
	pending := realNow.Before(d.connChangeAt)
	switch {
	case d.connEnabled && !pending:
		return connStatus{state: "running", running: true, pid: int(d.pmPID)}
	case d.connEnabled:
		return connStatus{state: "waiting"}
	case pending: // still stopping
		return connStatus{state: "running", running: true, pid: int(d.pmPID)}
	}
	return connStatus{state: "user-disabled"}
}

// newConnectorPIDs gives a started connector new process ids, as a real
// restart does; the first start keeps the seed's numbers.
func (d *Device) newConnectorPIDs() {
	d.starts++
	d.pmPID = pidStep(d.pmPID, d.starts)
	d.childPID = pidStep(d.childPID, d.starts+7)
	d.ehConnIno += 7919
	d.lsListenIno += 104729
}

func pidStep(pid int32, n int) int32 {
	return 300 + (pid-300+int32(1117*n+911))%32000
}

// disableConnector is "pmtool disablebyid SSEConnector".
func (d *Device) disableConnector() {
	d.cnt.disables.Add(1)
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.connEnabled {
		return
	}
	d.connEnabled = false
	d.connChangeAt = time.Now().Add(d.fleet.cfg.scaled(connectorStopDelay))
	d.addEvent(now, evStop)
	d.syncIntervals(now)
}

// enableConnector is "pmtool enablebyid SSEConnector": a start after a
// disable is a restart, and a fresh start reconnects to EventHandler.
func (d *Device) enableConnector() {
	d.cnt.enables.Add(1)
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.connEnabled {
		return
	}
	d.startConnectorLocked(now)
}

// restartConnector is "pmtool restartbyid SSEConnector".
func (d *Device) restartConnector() {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.connEnabled {
		d.addEvent(now, evStop)
	}
	d.startConnectorLocked(now)
}

func (d *Device) startConnectorLocked(now time.Time) {
	d.cnt.restarts.Add(1)
	d.connEnabled = true
	d.connChangeAt = time.Now().Add(d.fleet.cfg.scaled(connectorStartDelay))
	d.newConnectorPIDs()
	d.ehBroken = d.ehStuck // a fresh start reconnects, unless stuck
	if d.ehStuck {
		d.addEvent(now, evStartNoEH)
	} else {
		d.addEvent(now, evStart)
	}
	d.syncIntervals(now)
}

// Reboot reboots the device as "reboot" at its CLI does: sessions drop,
// connections are refused for RebootDowntime (scaled), then it comes back
// with its connector healthy; faults outside the device (egress-blocked,
// region-mismatch) and of its credentials or keys (auth-failure,
// hostkey-changed) and the network's flapping stay.
func (d *Device) Reboot() {
	d.mu.Lock()
	if d.phase != phaseUp {
		d.mu.Unlock()
		return
	}
	d.phase = phaseRebooting
	d.cnt.reboots.Add(1)
	now := d.now()
	if d.connEnabled {
		d.addEvent(now, evStop)
	}
	d.mu.Unlock()
	// Give the session that typed "reboot" a moment to get its last output.
	time.AfterFunc(50*time.Millisecond, func() {
		d.takeDown()
		time.AfterFunc(d.fleet.cfg.scaled(d.fleet.cfg.RebootDowntime), d.finishReboot)
	})
}

func (d *Device) finishReboot() {
	now := d.now()
	d.mu.Lock()
	if d.phase != phaseRebooting {
		d.mu.Unlock()
		return
	}
	d.boots++
	d.bootedAt = now
	d.flags &^= faultBit(FaultHang) | faultBit(FaultSlow) | faultBit(FaultDrop)
	d.enrolled = true
	d.enrolledAt = now
	d.ehBroken, d.ehStuck = false, false
	d.connEnabled = true
	d.connChangeAt = time.Time{}
	d.newConnectorPIDs()
	d.ehPID = pidStep(d.ehPID, d.boots+3)
	d.ehListenIno += 65537
	d.addEvent(now, evBoot)
	d.syncIntervals(now)
	d.phase = phaseUp
	d.mu.Unlock()
	d.fleet.bringUp(d)
}

// scheduleFlap runs the flapping fault's up/down cycle with timers, so an
// idle flapping device costs no goroutine.
func (d *Device) scheduleFlap(gen int, up bool) {
	cfg := &d.fleet.cfg
	wait := cfg.scaled(cfg.FlapUp)
	if !up {
		wait = cfg.scaled(cfg.FlapDown)
	}
	time.AfterFunc(wait, func() {
		d.mu.Lock()
		if gen != d.flapGen || d.fleet.isClosed() {
			// The fault was cleared or set again; if it left the
			// device down, bring it back.
			wasDown := d.phase == phaseFlapDown
			if wasDown {
				d.phase = phaseUp
			}
			d.mu.Unlock()
			if wasDown {
				d.fleet.bringUp(d)
			}
			return
		}
		switch {
		case up && d.phase == phaseUp:
			d.phase = phaseFlapDown
			d.mu.Unlock()
			d.takeDown()
		case !up && d.phase == phaseFlapDown:
			d.phase = phaseUp
			d.mu.Unlock()
			d.fleet.bringUp(d)
		default:
			d.mu.Unlock()
		}
		d.scheduleFlap(gen, !up)
	})
}

// takeDown closes the listener (new connections are refused) and every
// open connection (sessions drop).
func (d *Device) takeDown() {
	d.mu.Lock()
	ln := d.ln
	d.ln = nil
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for c := range conns {
		_ = c.Close()
	}
}

func (d *Device) trackConn(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.phase != phaseUp {
		return false
	}
	if d.conns == nil {
		d.conns = make(map[net.Conn]struct{})
	}
	d.conns[c] = struct{}{}
	return true
}

func (d *Device) untrackConn(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, c)
}

// takeLecture reports whether sudo must print its lecture: once per device,
// as sudo remembers it on disk.
func (d *Device) takeLecture() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	first := !d.lectured
	d.lectured = true
	return first
}
