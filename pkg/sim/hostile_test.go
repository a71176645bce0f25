package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// returnsWithin runs fn and reports whether it returned within d (fn keeps
// running otherwise; closing its connection ends it).
func returnsWithin(d time.Duration, fn func()) bool {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// The hostile faults each block one SSH step forever while the connection
// itself stays healthy: keepalives are answered throughout.
func TestHostileFaults(t *testing.T) {
	t.Parallel()
	keepalive := func(t *testing.T, c *ssh.Client) {
		t.Helper()
		require.True(t, returnsWithin(2*time.Second, func() {
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			require.NoError(t, err)
		}), "keepalive answered")
	}
	t.Run("stall-channel", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultStallChannel}})
		c := dial(t, d)
		require.False(t, returnsWithin(300*time.Millisecond, func() { _, _ = c.NewSession() }), "channel open confirmed")
		keepalive(t, c)
	})
	t.Run("stall-pty", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultStallPTY}})
		c := dial(t, d)
		sess, err := c.NewSession()
		require.NoError(t, err)
		require.False(t, returnsWithin(300*time.Millisecond, func() { _ = sess.RequestPty("vt100", 50, 200, nil) }), "pty-req answered")
		keepalive(t, c)
	})
	t.Run("stall-shell", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultStallShell}})
		c := dial(t, d)
		sess, err := c.NewSession()
		require.NoError(t, err)
		require.NoError(t, sess.RequestPty("vt100", 50, 200, nil))
		require.False(t, returnsWithin(300*time.Millisecond, func() { _ = sess.Shell() }), "shell answered")
		keepalive(t, c)
		exec, err := c.NewSession()
		require.NoError(t, err)
		require.False(t, returnsWithin(300*time.Millisecond, func() { _ = exec.Start("id") }), "exec answered")
	})
	t.Run("no-prompt", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultNoPrompt}})
		c := dial(t, d)
		tm := openTerm(t, c, 500)
		tm.waitFor("\r\n\r\n") // the end of the banner
		_, _ = tm.in.Write([]byte("show version\r"))
		time.Sleep(300 * time.Millisecond)
		out := tm.out.String()
		require.NotContains(t, out, "> ", "no prompt is ever printed")
		require.NotContains(t, out, "show version", "typed text is swallowed, not echoed")
		keepalive(t, c)
	})
	t.Run("flood", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultFlood}})
		c := dial(t, d)
		tm := openTerm(t, c, 500)
		tm.waitFor("> ")
		_, _ = tm.in.Write([]byte("show version\r"))
		waitUntil(t, "a megabyte of output", func() bool { return len(tm.out.String()) > 1<<20 })
		out := tm.out.String()
		require.NotContains(t, out[len(out)-4096:], "> ", "the output never ends in a prompt")
		require.EqualValues(t, 1, d.Counters().Commands)
	})
	t.Run("parse and mix", func(t *testing.T) {
		t.Parallel()
		for _, n := range []string{"stall-channel", "stall-pty", "stall-shell", "flood", "no-prompt"} {
			f, err := ParseFault(strings.ToUpper(n))
			require.NoError(t, err)
			require.Equal(t, Fault(n), f)
		}
		f := startFleet(t, FleetConfig{Count: 10, Faults: "stall-shell=30%,flood=20%,no-prompt=10%"})
		counts := f.FaultCounts()
		require.Equal(t, 3, counts[FaultStallShell])
		require.Equal(t, 2, counts[FaultFlood])
		require.Equal(t, 1, counts[FaultNoPrompt])
	})
}
