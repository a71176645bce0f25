package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// errExecRefused: the device's login shell is a CLI that cannot run exec
// requests (FTD: `Syntax error on line stdin:1 "...": Unknown command`,
// exit 255).
var errExecRefused = errors.New("exec refused by the device CLI")

var execSyntaxError = []byte("Syntax error on line stdin")

// runExec runs cmd in its own exec request. Devices are put in exec mode by
// configuration only where the exec channel runs with the rights the
// commands need (the simulator's exec devices run commands with root
// rights), so the level is not enforced, except that clish, which has no
// exec form, switches the session to the shell driver.
func (s *Session) runExec(ctx context.Context, lvl Level, cmd string) (string, error) {
	if lvl == LevelClish {
		// clish has no exec form: use the shell driver for this session.
		return "", errExecRefused
	}
	sess, err := s.link.client.NewSession()
	if err != nil {
		return "", s.fail(fmt.Errorf("%s: open exec channel: %w", s.target.Device, s.connErr(err)))
	}
	defer sess.Close()
	w := &cappedWriter{max: s.r.cfg.MaxOutputPerCommand}
	sess.Stdout, sess.Stderr = w, w

	var reason atomic.Int32
	timer := time.AfterFunc(s.r.cfg.CommandTimeout, func() {
		if reason.CompareAndSwap(abortNone, abortTimeout) {
			s.link.kill()
		}
	})
	stop := context.AfterFunc(ctx, func() {
		if reason.CompareAndSwap(abortNone, abortContext) {
			s.link.kill()
		}
	})
	s.tr.note("exec: " + cmd)
	err = sess.Run(cmd)
	timer.Stop()
	stop()

	w.mu.Lock()
	out := w.buf
	over := w.over
	w.mu.Unlock()
	s.tr.write(out)

	switch reason.Load() {
	case abortTimeout:
		s.tr.note(fmt.Sprintf("no answer within %s; closing the connection", s.r.cfg.CommandTimeout))
		return "", s.fail(fmt.Errorf("%s: %q: no exit within %s: %w", s.target.Device, cmd, s.r.cfg.CommandTimeout, ErrTimeout))
	case abortContext:
		if cause := context.Cause(ctx); errors.Is(cause, context.DeadlineExceeded) {
			return "", s.fail(fmt.Errorf("%s: %q: session deadline reached: %w", s.target.Device, cmd, ErrTimeout))
		} else {
			return "", s.fail(fmt.Errorf("%s: %q: %w", s.target.Device, cmd, cause))
		}
	}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		if exit.ExitStatus() == 255 && bytes.Contains(out, execSyntaxError) && !s.execRan {
			return "", errExecRefused
		}
		// A non-zero status is part of the evidence, as in the shell driver.
	case errors.As(err, new(*ssh.ExitMissingError)):
		return s.red.bytes(out), s.fail(fmt.Errorf("%s: %q: channel closed without exit status: %w", s.target.Device, cmd, ErrConnectionLost))
	default:
		return "", s.fail(fmt.Errorf("%s: %q: %w", s.target.Device, cmd, s.connErr(err)))
	}
	s.execRan = true
	if over {
		return s.red.capped(out, s.r.cfg.MaxOutputPerCommand),
			fmt.Errorf("%s: %q: %w (%d bytes)", s.target.Device, cmd, ErrOutputTruncated, s.r.cfg.MaxOutputPerCommand)
	}
	return s.red.bytes(out), nil
}
