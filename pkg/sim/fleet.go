package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Fleet is a set of simulated devices served from one process.
type Fleet struct {
	cfg     FleetConfig
	log     *zap.Logger
	devices []*Device
	byName  map[string]*Device

	closed  atomic.Bool
	wg      sync.WaitGroup
	started atomic.Bool
	cancel  context.CancelFunc
}

// NewFleet builds the devices (names, kinds, sites, models, versions,
// faults) without opening any socket.
func NewFleet(cfg FleetConfig, log *zap.Logger) (*Fleet, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("fleet config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	f := &Fleet{cfg: cfg, log: log, byName: make(map[string]*Device, cfg.Count+len(cfg.Devices))}
	first, _ := netip.ParseAddr(cfg.Listen)
	ip := first
	now := cfg.Clock.Now()
	idx := 0
	nextIP := func() netip.Addr {
		if cfg.PortBase > 0 {
			return first
		}
		a := ip
		ip = ip.Next()
		return a
	}
	// Every device's spec first (explicit, then generated), so that the
	// fault selectors can see each device's site, version and FMC.
	specs := append([]DeviceSpec(nil), cfg.Devices...)
	for i := range specs {
		if specs[i].Kind == "" {
			specs[i].Kind = KindFTD
		}
		if specs[i].Site == "" {
			specs[i].Site = cfg.Sites[i%len(cfg.Sites)]
		}
	}
	explicit := len(specs)
	if cfg.Count > 0 {
		r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
		kmix, _ := parseMix(cfg.Kinds)
		kinds := assignMix(kmix, cfg.Count, string(KindFTD), r.Perm(cfg.Count))
		mix, _, _ := splitFaults(cfg.Faults)
		fmix, _ := parseMix(mix)
		faults := assignMix(fmix, cfg.Count, string(FaultHealthy), r.Perm(cfg.Count))
		width := max(5, len(strconv.Itoa(cfg.Count)))
		names := map[string]bool{}
		for _, s := range cfg.Devices {
			names[s.Name] = true
		}
		for i := 0; i < cfg.Count; i++ {
			k, _ := ParseKind(kinds[i])
			site := cfg.Sites[i%len(cfg.Sites)]
			spec := DeviceSpec{
				Name: fmt.Sprintf("%s%s-%s-%0*d", cfg.NamePrefix, k.InventoryKind(), site, width, explicit+i+1),
				Kind: k,
				Site: site,
			}
			if fl := Fault(faults[i]); fl != FaultHealthy {
				spec.Faults = []Fault{fl}
			}
			if names[spec.Name] {
				return nil, fmt.Errorf("generated device name %q clashes with an explicit device", spec.Name)
			}
			specs = append(specs, spec)
		}
	}
	managers := managerNames(specs)
	if _, sels, _ := splitFaults(cfg.Faults); len(sels) > 0 {
		for i := explicit; i < len(specs); i++ {
			spec := &specs[i]
			spec.Version = pickRelease(cfg.Seed, spec.Kind, SiteRegion(spec.Site), spec.Name).version
			for _, sel := range sels {
				if sel.matches(cfg.Seed, *spec, managers[i]) {
					spec.Faults = []Fault{sel.fault}
				}
			}
		}
	}
	named := map[string]string{}
	for i, spec := range specs {
		d, err := f.newDevice(idx, spec, nextIP(), now)
		if err != nil {
			return nil, err
		}
		f.add(d)
		idx++
		if managers[i] != "" {
			named[spec.Name] = managers[i]
		}
	}
	if err := f.assignManagers(named); err != nil {
		return nil, err
	}
	return f, nil
}

// pickRelease is a generated device's release: drawn from the seed and its
// name among those its kind runs in its region.
func pickRelease(seed int64, k Kind, region, name string) *release {
	k, _ = ParseKind(string(k))
	rs := releasesFor(k, region)
	return rs[devRand(seed, name, "version")%uint64(len(rs))]
}

func (f *Fleet) add(d *Device) {
	f.devices = append(f.devices, d)
	f.byName[d.name] = d
}

// devRand is a per-device deterministic number for picking attributes.
func devRand(seed int64, name, purpose string) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func (f *Fleet) newDevice(idx int, spec DeviceSpec, ip netip.Addr, now time.Time) (*Device, error) {
	cfg := &f.cfg
	kind := spec.Kind
	if kind == "" {
		kind = KindFTD
	}
	kind, _ = ParseKind(string(kind))
	if spec.Site == "" {
		spec.Site = cfg.Sites[idx%len(cfg.Sites)]
	}
	d := &Device{
		fleet:    f,
		index:    idx,
		name:     spec.Name,
		kind:     kind,
		site:     spec.Site,
		region:   SiteRegion(spec.Site),
		hostname: spec.Hostname,
		banner:   spec.Banner,
		domain:   spec.Domain,
		mgmtIP:   spec.MgmtIP,
		ip:       ip,
		phase:    phaseUp,
	}
	if d.hostname == "" {
		d.hostname = spec.Name
	}
	if d.domain == "" {
		d.domain = "cisco.com"
	}
	if d.mgmtIP == "" {
		d.mgmtIP = fmt.Sprintf("10.%d.%d.%d", 10+idx/65024, (idx/254)%256, idx%254+1)
	}
	if spec.Model != "" {
		d.model = findModel(kind, spec.Model)
		if d.model == nil {
			return nil, fmt.Errorf("device %q: unknown model %q for kind %s", spec.Name, spec.Model, kind)
		}
	} else {
		ms := modelsFor(kind)
		d.model = &ms[devRand(cfg.Seed, spec.Name, "model")%uint64(len(ms))]
	}
	if spec.Version != "" {
		d.rel = findRelease(spec.Version)
	} else {
		d.rel = pickRelease(cfg.Seed, kind, d.region, spec.Name)
	}
	if cfg.PortBase > 0 {
		d.port.Store(int32(cfg.PortBase + idx))
	} else {
		d.port.Store(int32(cfg.Port))
	}
	// Uptime of 3 to 40 days: the log's history and "show version" look lived in.
	uptime := time.Duration(3*24+devRand(cfg.Seed, spec.Name, "uptime")%(37*24)) * time.Hour
	d.bootedAt = now.Add(-uptime).In(d.zone())
	d.connEnabled = true
	d.enrolled = true
	d.enrolledAt = d.bootedAt.Add(3 * time.Minute)
	// The seed's numbers (docs/firepower.md §3), so a device with a given
	// fault shows the captured lines verbatim.
	d.pmPID, d.childPID, d.ehPID = 20697, 13277, 7741
	d.ehListenIno, d.ehConnIno, d.lsListenIno = 382276, 378537, 26077573
	for _, fl := range spec.Faults {
		switch fl {
		case FaultEventHandlerDisconnected, FaultEventHandlerStuck:
			d.ehPID, d.ehListenIno = 11204, 3022791165
		case FaultEgressBlocked:
			d.childPID, d.lsListenIno = 60815, 3022789647
		}
	}
	// Faults present at start began a while ago: the log already has
	// errors for the last minutes (5 to 120).
	since := now.Add(-time.Duration(5+devRand(cfg.Seed, spec.Name, "since")%116) * time.Minute)
	if since.Before(d.bootedAt) {
		since = d.bootedAt
	}
	for _, fl := range spec.Faults {
		switch fl {
		case FaultHealthy:
		case FaultEventHandlerDisconnected:
			d.ehBroken = true
		case FaultEventHandlerStuck:
			d.ehBroken, d.ehStuck = true, true
		case FaultConnectorStopped:
			d.connEnabled = false
			d.addEvent(since, evStop)
		case FaultNotEnrolled:
			d.enrolled = false
		default:
			d.flags |= faultBit(fl)
		}
	}
	d.syncIntervals(since)
	return d, nil
}

// Devices returns the devices in address order.
func (f *Fleet) Devices() []*Device { return append([]*Device(nil), f.devices...) }

// Device returns the device of that name, or nil.
func (f *Fleet) Device(name string) *Device { return f.byName[name] }

// Config returns the fleet's configuration with defaults applied.
func (f *Fleet) Config() FleetConfig { return f.cfg }

func (f *Fleet) isClosed() bool { return f.closed.Load() }

// Start opens every device's listener and serves until ctx ends or Close.
// It returns once all devices accept connections.
func (f *Fleet) Start(ctx context.Context) error {
	if !f.started.CompareAndSwap(false, true) {
		return errors.New("fleet already started")
	}
	for _, d := range f.devices {
		if err := f.listen(d); err != nil {
			_ = f.Close()
			return err
		}
		if d.api != nil && !f.cfg.NoAPI {
			if err := f.listenAPI(d); err != nil {
				_ = f.Close()
				return err
			}
		}
	}
	for _, d := range f.devices {
		if d.flags.has(FaultFlapping) {
			d.mu.Lock()
			d.flapGen++
			gen := d.flapGen
			d.mu.Unlock()
			// Stagger the cycles so the fleet does not flap in step.
			offset := time.Duration(devRand(f.cfg.Seed, d.name, "flap") % uint64(f.cfg.scaled(f.cfg.FlapUp)+1))
			time.AfterFunc(offset, func() { d.scheduleFlap(gen, true) })
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	go func() {
		<-ctx.Done()
		_ = f.Close()
	}()
	f.log.Info("simulated fleet listening", zap.Int("devices", len(f.devices)),
		zap.String("first", f.devices[0].Addr()), zap.String("last", f.devices[len(f.devices)-1].Addr()))
	return nil
}

// sshdListen is how the devices listen: SO_KEEPALIVE with the kernel's
// timers, as sshd's TCPKeepAlive does, instead of Go's 15 s default,
// which cost three more setsockopt calls per connection (issue 15).
var sshdListen = net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}}

func (f *Fleet) listen(d *Device) error {
	ln, err := sshdListen.Listen(context.Background(), "tcp4", d.Addr())
	if err != nil {
		return fmt.Errorf("device %s: listen on %s: %w", d.name, d.Addr(), err)
	}
	d.port.Store(int32(ln.Addr().(*net.TCPAddr).Port))
	d.mu.Lock()
	if d.phase == phaseClosed {
		d.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	d.ln = ln
	f.wg.Add(1)
	d.mu.Unlock()
	go f.acceptLoop(d, ln)
	return nil
}

// bringUp re-opens a device's listener after a reboot or a flap; a port
// briefly held by someone else is retried.
func (f *Fleet) bringUp(d *Device) {
	for attempt := 0; attempt < 50 && !f.isClosed(); attempt++ {
		if err := f.listen(d); err == nil {
			return
		} else if attempt == 0 {
			f.log.Warn("device cannot listen again, retrying", zap.String("device", d.name), zap.Error(err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *Fleet) acceptLoop(d *Device, ln net.Listener) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed: reboot, flap or Close
		}
		d.cnt.connections.Add(1)
		if f.isClosed() || !d.trackConn(c) {
			_ = c.Close()
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer d.untrackConn(c)
			defer c.Close()
			f.serveConn(d, c)
		}()
	}
}

// Close stops every listener and connection and waits for them.
func (f *Fleet) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return nil
	}
	if f.cancel != nil {
		f.cancel()
	}
	for _, d := range f.devices {
		d.mu.Lock()
		d.phase = phaseClosed
		d.flapGen++
		d.mu.Unlock()
		d.takeDown()
		d.closeAPI()
	}
	f.wg.Wait()
	return nil
}
