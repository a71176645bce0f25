package sim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// serverVersion is what FTD 6.x/7.x sshd announces.
const serverVersion = "SSH-2.0-OpenSSH_7.9"

var errAuth = errors.New("permission denied")

// connState is one TCP connection to a device.
type connState struct {
	d        *Device
	raw      net.Conn
	wc       *sshdConn
	ctx      context.Context
	commands atomic.Int32
}

func (f *Fleet) serverConfig(d *Device) *ssh.ServerConfig {
	cfg := &f.cfg
	authOK := func(user string) bool { return user == cfg.Username && !d.hasFlag(FaultAuthFailure) }
	sc := &ssh.ServerConfig{
		ServerVersion: serverVersion,
		PasswordCallback: func(m ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			d.cnt.authAttempts.Add(1)
			d.cnt.passwords.Add(1)
			if authOK(m.User()) && string(pw) == cfg.Password {
				return nil, nil
			}
			return nil, errAuth
		},
		KeyboardInteractiveCallback: func(m ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			d.cnt.authAttempts.Add(1)
			answers, err := client("", "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			d.cnt.passwords.Add(int64(len(answers)))
			if authOK(m.User()) && len(answers) == 1 && answers[0] == cfg.Password {
				return nil, nil
			}
			return nil, errAuth
		},
		PublicKeyCallback: func(m ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			d.cnt.authAttempts.Add(1)
			d.cnt.pubkeys.Add(1)
			if !authOK(m.User()) {
				return nil, errAuth
			}
			kb := key.Marshal()
			for _, k := range cfg.AuthorizedKeys {
				if string(k.Marshal()) == string(kb) {
					return nil, nil
				}
			}
			return nil, errAuth
		},
	}
	// What the OpenSSH 7.9 it announces offers (and x/crypto has):
	// curve25519 first, no ML-KEM hybrid (OpenSSH 9.9+), as a real FTD.
	// ML-KEM was a fifth of the simulator's CPU per session (issue 15).
	sc.KeyExchanges = []string{ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org", ssh.KeyExchangeECDHP256,
		ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521, ssh.KeyExchangeDH14SHA256}
	sc.AddHostKey(d.presentedSigner())
	return sc
}

func (f *Fleet) serveConn(d *Device, c net.Conn) {
	if d.hasFlag(FaultHang) {
		// TCP is up but sshd never speaks: the client waits for a banner
		// until its own timeout.
		_, _ = io.Copy(io.Discard, c)
		return
	}
	_ = c.SetDeadline(time.Now().Add(f.cfg.HandshakeTimeout))
	wc := &sshdConn{Conn: c, r: bufio.NewReaderSize(c, 64)}
	sconn, chans, reqs, err := ssh.NewServerConn(wc, f.serverConfig(d))
	if err != nil {
		f.log.Debug("ssh handshake failed", zap.String("device", d.name), zap.Error(err))
		return
	}
	_ = c.SetDeadline(time.Time{})
	d.cnt.logins.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := &connState{d: d, raw: c, wc: wc, ctx: ctx}
	go ssh.DiscardRequests(reqs)
	var sessions sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.Prohibited, "only session channels are allowed")
			continue
		}
		if d.hasFlag(FaultStallChannel) {
			// Neither confirmed nor refused: the client's NewSession waits
			// for an answer that never comes (global requests, keepalives
			// included, are still answered above).
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			cs.serveSession(ch, creqs)
		}()
	}
	// The connection is gone: stop whatever the sessions are sleeping on.
	cancel()
	_ = sconn.Close()
	sessions.Wait()
}

// sshdConn is the connection as x/crypto sees it.
//
// It reads through a small buffer: x/crypto reads the client's version line
// one byte per read, a dozen read(2) calls per connection. Packet reads
// (4 KiB) bypass the buffer once it is empty, so it costs nothing after the
// version (issue 15).
//
// Between cork and uncork it holds what x/crypto writes and sends it in one
// write(2): a session's exit-status, EOF and close are three packets in a
// row with nothing to wait for between them (issue 15).
type sshdConn struct {
	net.Conn
	r *bufio.Reader

	mu     sync.Mutex
	corked int
	held   []byte
}

func (c *sshdConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *sshdConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.corked > 0 {
		c.held = append(c.held, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// cork holds writes until uncork. Only packets that wait for nothing from
// the client (no channel data, which waits for window) may be sent corked.
func (c *sshdConn) cork() {
	c.mu.Lock()
	c.corked++
	c.mu.Unlock()
}

func (c *sshdConn) uncork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked--; c.corked == 0 && len(c.held) > 0 {
		_, _ = c.Conn.Write(c.held)
		c.held = c.held[:0]
	}
}

// ptyRequest is the payload of "pty-req" (RFC 4254 §6.2).
type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

type execRequest struct {
	Command string
}

type exitStatus struct {
	Status uint32
}

func (cs *connState) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	s := newShell(cs, ch)
	done := make(chan struct{})
	started := false
	start := func(run func() int) {
		started = true
		go func() {
			defer close(done)
			// A bug in one session must not take 10,000 devices down.
			defer func() {
				if r := recover(); r != nil {
					cs.d.fleet.log.Error("session panicked", zap.String("device", cs.d.name), zap.Any("panic", r),
						zap.Stack("stack"))
					_ = ch.Close()
				}
			}()
			status := run()
			s.flushOut()
			cs.wc.cork()
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{uint32(status)}))
			_ = ch.CloseWrite()
			_ = ch.Close()
			cs.wc.uncork()
		}()
	}
	for req := range reqs {
		if cs.stalls(req.Type) {
			// No reply, ever: the client blocks in RequestPty/Shell/Start.
			continue
		}
		ok := false
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if err := ssh.Unmarshal(req.Payload, &p); err == nil && !started {
				s.setPTY(int(p.Cols), int(p.Rows))
				ok = true
			}
		case "window-change":
			var w windowChange
			if err := ssh.Unmarshal(req.Payload, &w); err == nil {
				s.setSize(int(w.Cols), int(w.Rows))
				ok = true
			}
		case "env":
			ok = true
		case "shell":
			if !started {
				ok = true
				start(s.runInteractive)
			}
		case "exec":
			var e execRequest
			if err := ssh.Unmarshal(req.Payload, &e); err == nil && !started {
				ok = true
				start(func() int { return s.runExec(e.Command) })
			}
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
	// The client closed the channel: a command still sleeping stops.
	s.cancelSession()
	if started {
		<-done
	} else {
		_ = ch.Close()
	}
	s.releaseOut()
}

// stalls reports whether a hostile fault leaves this channel request
// unanswered.
func (cs *connState) stalls(reqType string) bool {
	switch reqType {
	case "pty-req":
		return cs.d.hasFlag(FaultStallPTY)
	case "shell", "exec":
		return cs.d.hasFlag(FaultStallShell)
	}
	return false
}

// noteCommand counts and logs a command line; with the drop fault the
// connection dies once DropAfter commands were received on it.
func (cs *connState) noteCommand(line string) bool {
	cs.d.recordCommand(line)
	n := cs.commands.Add(1)
	if cs.d.hasFlag(FaultDrop) && int(n) >= cs.d.fleet.cfg.DropAfter {
		_ = cs.raw.Close()
		return false
	}
	return true
}

// sleep waits a device-time duration scaled by TimeScale; it ends early
// when ctx ends (Ctrl-C, connection closed).
func (cs *connState) sleep(ctx context.Context, d time.Duration) error {
	real := cs.d.fleet.cfg.scaled(d)
	if real <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(real)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
