package sim

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"
)

// goldenTime is the devices' clock in transcripts.
var goldenTime = time.Date(2025, 11, 24, 14, 34, 2, 884720460, time.UTC)

// testAddr gives each test its own 127.77.x.1 block, so parallel tests and
// other packages' simulators (127.1.x.x by default) do not meet.
func testAddr(t *testing.T) string {
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	v := h.Sum32()
	return fmt.Sprintf("127.77.%d.%d", (v>>8)%256, 1+v%200)
}

// startFleet starts a fleet on ephemeral ports with fast latencies and a
// fixed clock unless cfg says otherwise.
func startFleet(t *testing.T, cfg FleetConfig) *Fleet {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = testAddr(t)
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1e-6
	}
	if cfg.Clock == nil {
		cfg.Clock = FixedClock(goldenTime)
	}
	f, err := NewFleet(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.NoError(t, f.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	return f
}

func clientConfig(d *Device, auth ...ssh.AuthMethod) *ssh.ClientConfig {
	if len(auth) == 0 {
		auth = []ssh.AuthMethod{ssh.Password("Admin123")}
	}
	return &ssh.ClientConfig{
		User:            "admin",
		Auth:            auth,
		HostKeyCallback: ssh.FixedHostKey(d.HostKey()),
		Timeout:         5 * time.Second,
	}
}

func dial(t *testing.T, d *Device, auth ...ssh.AuthMethod) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", d.Addr(), clientConfig(d, auth...))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// syncBuffer collects a session's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.ch <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// term is an interactive PTY session driven like a person would: type a
// line, wait for the prompt.
type term struct {
	t    *testing.T
	sess *ssh.Session
	in   interface{ Write([]byte) (int, error) }
	out  *syncBuffer
	mark int
	done chan error
}

func openTerm(t *testing.T, c *ssh.Client, cols int) *term {
	t.Helper()
	sess, err := c.NewSession()
	require.NoError(t, err)
	out := &syncBuffer{ch: make(chan struct{}, 1)}
	sess.Stdout = out
	sess.Stderr = out
	in, err := sess.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, sess.RequestPty("xterm", 40, cols, ssh.TerminalModes{ssh.ECHO: 1}))
	require.NoError(t, sess.Shell())
	tm := &term{t: t, sess: sess, in: in, out: out, done: make(chan error, 1)}
	go func() { tm.done <- sess.Wait() }()
	t.Cleanup(func() { _ = sess.Close() })
	return tm
}

// waitFor waits until the output since the last mark ends with suffix.
func (tm *term) waitFor(suffix string) string {
	tm.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s := tm.out.String()
		if strings.HasSuffix(s[tm.mark:], suffix) {
			got := s[tm.mark:]
			tm.mark = len(s)
			return got
		}
		select {
		case <-tm.out.ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			tm.t.Fatalf("timed out waiting for %q; output since mark:\n%s", suffix, s[tm.mark:])
		}
	}
}

// run types line and waits for the next prompt (suffix).
func (tm *term) run(line, suffix string) string {
	tm.t.Helper()
	_, err := tm.in.Write([]byte(line + "\r"))
	require.NoError(tm.t, err)
	return tm.waitFor(suffix)
}

// waitEnd waits for the session to end and returns the rest of the output.
func (tm *term) waitEnd() (string, error) {
	tm.t.Helper()
	select {
	case err := <-tm.done:
		time.Sleep(10 * time.Millisecond)
		s := tm.out.String()
		rest := s[tm.mark:]
		tm.mark = len(s)
		return rest, err
	case <-time.After(10 * time.Second):
		tm.t.Fatal("session did not end")
		return "", nil
	}
}

// screen makes a transcript readable and stable: CRLF → LF, BEL → <BEL>.
func screen(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\a", "<BEL>")
	return strings.ReplaceAll(s, "\r", "<CR>")
}

// toRoot walks from login to the root prompt for the device's kind.
func toRoot(tm *term, kind Kind) {
	tm.t.Helper()
	switch kind {
	case KindFMC6:
		tm.waitFor("$ ")
	case KindFXOS:
		tm.waitFor("# ")
		tm.run("connect module 1 console", "> ")
		tm.run("connect ftd", "> ")
		tm.run("expert", "$ ")
	default:
		tm.waitFor("> ")
		tm.run("expert", "$ ")
	}
	tm.run("sudo su -", "Password: ")
	tm.run("Admin123", "# ")
}

func dialRefused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}
