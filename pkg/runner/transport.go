package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// link is an established SSH connection to a device, possibly through jump
// hosts.
type link struct {
	client      *ssh.Client
	jumps       []*ssh.Client // outermost first
	tcp         net.Conn      // the TCP connection of the first hop
	fingerprint string
	ka          *keepalive
	closeOnce   sync.Once
	// stopDeadline unregisters the session-deadline watch set up when the
	// first hop connected; deadlineHit records that it fired.
	stopDeadline func() bool
	deadlineHit  atomic.Bool
}

// kill tears the whole chain down at once by closing the first hop's TCP
// connection; every blocked read or write on any hop returns.
func (l *link) kill() { _ = l.tcp.Close() }

// watchDeadline closes the connection when ctx (the session's context: its
// deadline, or the caller's cancellation) ends, whatever is blocked on it
// then: a channel open the device never confirms, a pty-req or shell
// request it never answers, a write into a window it never opens, an exit
// it never acknowledges. x/crypto/ssh takes no contexts, so closing the
// socket underneath it is the only way to end those calls; the per-step
// timeouts (Session.wait, runExec) stay as finer bounds inside this one.
func (l *link) watchDeadline(ctx context.Context) {
	l.stopDeadline = context.AfterFunc(ctx, func() {
		l.deadlineHit.Store(true)
		l.kill()
	})
}

// interrupted reports whether the session context ended while the link
// was up, i.e. the connection was closed by the deadline watch.
func (l *link) interrupted() bool { return l.deadlineHit.Load() }

func (l *link) close() {
	l.closeOnce.Do(func() {
		if l.stopDeadline != nil {
			l.stopDeadline()
		}
		if l.ka != nil {
			l.ka.stop()
		}
		_ = l.client.Close()
		for i := len(l.jumps) - 1; i >= 0; i-- {
			_ = l.jumps[i].Close()
		}
		_ = l.tcp.Close()
	})
}

// hop is one SSH server on the way to a device (jump host or the device).
type hop struct {
	name   string
	addr   string
	cred   Credential
	policy HostKeyPolicy
	site   string // the device's site, for error messages (empty for jump hosts)
	legacy bool   // offer the legacy algorithms too (Target.LegacySSH)
	// checked, when set, are the ip:port addresses addr resolved to, each
	// inside the device's allowed networks: dialled instead of addr.
	checked []string
}

// connect dials t (through its jump hosts), checks host keys and
// authenticates, recording dial/handshake/auth durations and the device's
// key fingerprint into res. Every error is a *dialError saying which hop and
// phase failed.
func (r *Runner) connect(ctx context.Context, t *Target, res *Result) (*link, error) {
	tm := &res.Timings
	hops := make([]hop, 0, len(t.JumpHosts)+1)
	for _, j := range t.JumpHosts {
		hops = append(hops, hop{name: j.Name, addr: withDefaultPort(j.Addr), cred: j.Credential, policy: j.HostKeyPolicy})
	}
	dev := hop{name: t.Device, addr: withDefaultPort(t.Addr), cred: t.Credential, policy: t.HostKeyPolicy,
		site: t.Site, legacy: t.LegacySSH}
	if len(t.AllowedNetworks) > 0 {
		// Before any hop is contacted: a refused device costs no jump-host login.
		start := time.Now()
		lctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
		checked, err := checkedAddrs(lctx, dev.addr, t.AllowedNetworks)
		cancel()
		tm.Dial += time.Since(start)
		if err != nil {
			return nil, &dialError{phase: phaseTCP, hop: t.Device, err: err}
		}
		dev.checked = checked
	}
	hops = append(hops, dev)

	l := &link{}
	var prev *ssh.Client
	for i, h := range hops {
		start := time.Now()
		nc, err := r.dialHop(ctx, prev, h)
		tm.Dial += time.Since(start)
		if err != nil {
			l.abandon()
			return nil, err
		}
		if i == 0 {
			l.tcp = nc
			// From here to the session's end, its context closes the chain.
			l.watchDeadline(ctx)
		}
		c, hk, err := r.handshake(ctx, nc, l.tcp, h, tm)
		if i == len(hops)-1 {
			res.HostKeyFingerprint = hk.fingerprint
		}
		if err != nil {
			_ = nc.Close()
			l.abandon()
			return nil, err
		}
		if i < len(hops)-1 {
			l.jumps = append(l.jumps, c)
		} else {
			l.client = c
			l.fingerprint = hk.fingerprint
		}
		prev = c
	}
	if r.cfg.Keepalive > 0 {
		l.ka = startKeepalive(l.client, r.cfg.Keepalive, l.kill)
	}
	return l, nil
}

// abandon closes a partially built chain.
func (l *link) abandon() {
	if l.stopDeadline != nil {
		l.stopDeadline()
	}
	for i := len(l.jumps) - 1; i >= 0; i-- {
		_ = l.jumps[i].Close()
	}
	if l.tcp != nil {
		_ = l.tcp.Close()
	}
}

func (r *Runner) dialHop(ctx context.Context, via *ssh.Client, h hop) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	// The checked IPs, never the name again: a second lookup could answer
	// with another address (DNS rebinding).
	addrs := h.checked
	if addrs == nil {
		addrs = []string{h.addr}
	}
	for _, a := range addrs {
		if via == nil {
			d := net.Dialer{KeepAlive: r.cfg.Keepalive}
			nc, err = d.DialContext(dctx, "tcp", a)
		} else {
			nc, err = via.DialContext(dctx, "tcp", a)
		}
		if err == nil || dctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// Our connect timeout, not the session's: say so plainly.
			err = fmt.Errorf("no answer within %s: %w", r.cfg.ConnectTimeout, ErrTimeout)
		}
		return nil, &dialError{phase: phaseTCP, hop: h.name, err: err}
	}
	return nc, nil
}

// handshake runs the SSH key exchange and authentication over nc. x/crypto's
// handshake ignores contexts and deadlines, so (as Teleport's newClientConn
// does) cancellation and the handshake timeout close nc underneath it. For
// a hop behind a jump host nc is a forwarded channel, whose Close a hostile
// jump host need not answer: the timeout then closes first, the first hop's
// TCP connection, too (the connect fails either way).
func (r *Runner) handshake(ctx context.Context, nc, first net.Conn, h hop, tm *Timings) (*ssh.Client, *hostKeyCheck, error) {
	hk := &hostKeyCheck{ctx: ctx, store: r.hostKeys, device: h.name, addr: h.addr, policy: h.policy}
	var pinned ssh.PublicKey
	if lk, ok := r.hostKeys.(PinnedHostKeyLookup); ok {
		// A lookup failure only costs the algorithm ordering; the check itself
		// still runs in the callback.
		pinned, _ = lk.PinnedHostKey(ctx, h.name)
	}
	methods, closeAgent, err := h.cred.authMethods(r.cfg.AgentSocket)
	if err != nil {
		return nil, hk, &dialError{phase: phaseAuth, hop: h.name, err: err}
	}
	defer closeAgent()
	algs := algorithmsFor(h.legacy)
	cfg := &ssh.ClientConfig{
		Config: ssh.Config{
			KeyExchanges: algs.kex,
			Ciphers:      algs.ciphers,
			MACs:         algs.macs,
		},
		User:              h.cred.Username,
		Auth:              methods,
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: algs.hostKeyAlgorithmsFor(pinned),
		ClientVersion:     r.cfg.ClientVersion,
	}

	var timedOut atomic.Bool
	timer := time.AfterFunc(r.cfg.HandshakeTimeout, func() {
		timedOut.Store(true)
		_ = nc.Close()
		if first != nil && first != nc {
			_ = first.Close()
		}
	})
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	start := time.Now()
	c, chans, reqs, err := ssh.NewClientConn(nc, h.addr, cfg)
	timer.Stop()
	ctxFired := !stop()
	end := time.Now()
	if hk.checkedAt.IsZero() {
		tm.Handshake += end.Sub(start)
	} else {
		tm.Handshake += hk.checkedAt.Sub(start)
		tm.Auth += end.Sub(hk.checkedAt)
	}
	if err == nil && (timedOut.Load() || ctxFired) {
		_ = c.Close()
		err = errors.New("interrupted after handshake")
	}
	if err != nil {
		phase := phaseBanner
		if !hk.checkedAt.IsZero() && hk.err == nil {
			phase = phaseAuth
		}
		switch {
		case hk.err != nil:
			err = hk.err
		case timedOut.Load():
			err = fmt.Errorf("no SSH handshake within %s: %w", r.cfg.HandshakeTimeout, ErrTimeout)
		case ctxFired:
			err = context.Cause(ctx)
		case phase == phaseAuth && isAuthRefusal(err):
			err = fmt.Errorf("%s: %w", strings.TrimPrefix(err.Error(), "ssh: handshake failed: "), ErrAuthFailed)
		case !h.legacy:
			err = legacyRefusal(err, h.name, h.site)
		}
		return nil, hk, &dialError{phase: phase, hop: h.name, err: err}
	}
	return ssh.NewClient(c, chans, reqs), hk, nil
}

func isAuthRefusal(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "no supported methods remain") ||
		strings.Contains(msg, "authentication") || strings.Contains(msg, "keyboard-interactive")
}

// keepalive sends keepalive@openssh.com on a timer; a request not answered
// within the interval kills the connection. It uses timer callbacks rather
// than a parked goroutine per session: at ten thousand sessions the difference
// shows.
type keepalive struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func startKeepalive(c *ssh.Client, interval time.Duration, kill func()) *keepalive {
	k := &keepalive{}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.t = time.AfterFunc(interval, func() {
		k.mu.Lock()
		if k.stopped {
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
		watchdog := time.AfterFunc(interval, kill)
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		watchdog.Stop()
		k.mu.Lock()
		defer k.mu.Unlock()
		if err == nil && !k.stopped {
			k.t.Reset(interval)
		}
	})
	return k
}

func (k *keepalive) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	k.t.Stop()
}
