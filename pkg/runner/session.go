package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// Terminal geometry requested for the PTY: wide so that commands and their
// output are not wrapped (netmiko uses the same width), tall so that pagers
// that size themselves from the terminal do not stop.
const (
	termWidth  = 511
	termHeight = 1000
	readBuffer = 4096
)

// Session is a logged-in session on one device, handed to the function given
// to Runner.Session or Runner.FanOut. It is not safe for concurrent use: run
// a device's commands one after the other.
type Session struct {
	r      *Runner
	target *Target
	link   *link
	log    *zap.Logger
	red    *redactor
	tr     transcript
	exec   bool
	broken error

	// The interactive driver's state.
	shell   *ssh.Session
	stdin   io.Writer
	stdout  io.Reader
	readBuf []byte
	wbuf    []byte
	cl      cleaner
	out     []byte // cleaned text received since the last send, capped
	outOver bool
	line    []byte // the current (last) line of out, if short enough to be a prompt
	long    bool   // the current line is too long to be a prompt
	stack   []shellState
	known   [stateFXOS + 1][]byte // exact prompt last seen per state

	commands time.Duration
	longest  time.Duration // the longest single Run/Interact call
	execRan  bool
	landing  string
}

// Device is the target's device name.
func (s *Session) Device() string { return s.target.Device }

// Target is the target this session was opened for.
func (s *Session) Target() Target { return *s.target }

// Exec reports whether commands go through SSH exec requests rather than the
// shell driver.
func (s *Session) Exec() bool { return s.exec }

// Level is the level the shell is at now (0 in exec mode).
func (s *Session) Level() Level {
	switch s.top() {
	case stateClish:
		return LevelClish
	case stateExpert:
		return LevelExpert
	case stateRoot:
		return LevelRoot
	}
	return 0
}

// Landing is the state the login landed in ("clish", "expert", "root",
// "fxos"; "exec" in exec mode).
func (s *Session) Landing() string {
	if s.exec {
		return "exec"
	}
	return s.landing
}

// HostKeyFingerprint is the SHA256 fingerprint the device presented.
func (s *Session) HostKeyFingerprint() string { return s.link.fingerprint }

func (s *Session) top() shellState {
	if len(s.stack) == 0 {
		return stateUnknown
	}
	return s.stack[len(s.stack)-1]
}

// Run moves the shell to lvl if needed, runs cmd and returns its output
// without the echo and the prompt, with CRs, BELs and ANSI sequences removed
// and secrets redacted. Commands must not change the shell level themselves
// (no exit, expert, sudo su): say the level instead. A non-zero exit status
// is not an error (the shell driver cannot see it); the output is the
// evidence. If the output exceeds MaxOutputPerCommand, the first
// MaxOutputPerCommand bytes are returned with ErrOutputTruncated.
func (s *Session) Run(ctx context.Context, lvl Level, cmd string) (string, error) {
	return s.Interact(ctx, lvl, cmd)
}

// Expect is an answer to a question a command asks before returning to the
// prompt, e.g. reboot's "Please enter 'YES' or 'NO': ".
type Expect struct {
	// Match is tried on the last line of output (cleaned).
	Match *regexp.Regexp
	// Send is typed (followed by a newline) when Match matches.
	Send string
	// Secret keeps Send out of the transcript notes (the device's own echo
	// is redacted anyway if Send is one of the credential's secrets).
	Secret bool
	// Once stops Match from firing a second time: a question asked again
	// means the answer was refused and the command fails with ErrProtocol.
	Once bool
}

// Interact runs cmd at lvl like Run, answering the questions in expects as
// they appear. If the device closes the session while the command runs,
// the error wraps ErrConnectionLost (Reboot treats that as success).
func (s *Session) Interact(ctx context.Context, lvl Level, cmd string, expects ...Expect) (string, error) {
	if s.broken != nil {
		return "", fmt.Errorf("%s: %w (%w)", s.target.Device, ErrSessionBroken, s.broken)
	}
	if err := validateCommand(cmd); err != nil {
		return "", err
	}
	if !lvl.valid() {
		return "", fmt.Errorf("run %q: invalid level %d: %w", cmd, int(lvl), ErrProtocol)
	}
	start := time.Now()
	defer func() {
		d := time.Since(start)
		s.commands += d
		s.longest = max(s.longest, d)
	}()
	if s.exec {
		out, err := s.runExec(ctx, lvl, cmd)
		if !errors.Is(err, errExecRefused) {
			return out, err
		}
		// The device's CLI refused exec (FTD answers "Syntax error on line
		// stdin:1"): drive its shell instead, on the same connection.
		s.log.Debug("exec refused, falling back to the shell driver")
		s.tr.note("exec refused; using the interactive shell")
		s.exec = false
		if err := s.openShell(ctx); err != nil {
			return "", err
		}
	}
	if err := s.moveTo(ctx, stateOf(lvl)); err != nil {
		return "", err
	}
	return s.runHere(ctx, cmd, expects)
}

var reRebootConfirm = regexp.MustCompile(`(?i)please enter 'yes' or 'no': ?$`)

// Reboot reboots the device from clish (`reboot`, answering YES). The
// device dropping the session is the expected outcome and returns nil.
func (s *Session) Reboot(ctx context.Context) error {
	out, err := s.Interact(ctx, LevelClish, "reboot", Expect{Match: reRebootConfirm, Send: "YES", Once: true})
	switch {
	case errors.Is(err, ErrConnectionLost):
		return nil
	case err != nil:
		return err
	}
	// Back at the prompt without the session dropping: the device said no.
	return fmt.Errorf("reboot: device returned to the prompt: %q: %w", lastLine([]byte(out)), ErrProtocol)
}

func validateCommand(cmd string) error {
	if cmd == "" {
		return fmt.Errorf("empty command: %w", ErrInvalidCommand)
	}
	for i := 0; i < len(cmd); i++ {
		if c := cmd[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("command contains control character 0x%02x: %w", c, ErrInvalidCommand)
		}
	}
	return nil
}

// openShell starts the PTY shell and finds out where the login landed.
func (s *Session) openShell(ctx context.Context) error {
	sh, err := s.link.client.NewSession()
	if err != nil {
		return s.fail(fmt.Errorf("open session channel: %w", s.connErr(err)))
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sh.RequestPty("vt100", termHeight, termWidth, modes); err != nil {
		_ = sh.Close()
		return s.fail(fmt.Errorf("request pty: %w", s.connErr(err)))
	}
	stdin, err := sh.StdinPipe()
	if err != nil {
		_ = sh.Close()
		return s.fail(err)
	}
	stdout, err := sh.StdoutPipe()
	if err != nil {
		_ = sh.Close()
		return s.fail(err)
	}
	if err := sh.Shell(); err != nil {
		_ = sh.Close()
		return s.fail(fmt.Errorf("start shell: %w", s.connErr(err)))
	}
	s.shell, s.stdin, s.stdout = sh, stdin, stdout
	if s.readBuf == nil {
		s.readBuf = make([]byte, readBuffer)
	}
	s.reset()
	return s.wait(ctx, s.r.cfg.CommandTimeout, "login prompt", func() (bool, error) {
		switch k := detectPrompt(s.line); k {
		case promptClish, promptExpert, promptRoot, promptFXOS:
			s.push(k.state())
			s.landing = k.state().String()
			s.log.Debug("landed", zap.Stringer("state", k.state()))
			return true, nil
		case promptPassword:
			return true, fmt.Errorf("device asks for a password after SSH login: %w", ErrProtocol)
		case promptPager:
			return false, s.pageOn()
		}
		return false, nil
	})
}

func (s *Session) push(st shellState) {
	s.stack = append(s.stack, st)
	s.known[st] = append(s.known[st][:0], s.line...)
}

func rank(st shellState) int {
	switch st {
	case stateFXOS:
		return 0
	case stateClish:
		return 1
	case stateExpert:
		return 2
	case stateRoot:
		return 3
	}
	return -1
}

// moveTo walks the state machine to want: up one step at a time (connect
// ftd, expert, sudo su -), or down by exiting the levels entered since.
func (s *Session) moveTo(ctx context.Context, want shellState) error {
	for {
		cur := s.top()
		if cur == want {
			return nil
		}
		if rank(want) < rank(cur) {
			below := false
			for _, st := range s.stack[:len(s.stack)-1] {
				below = below || st == want
			}
			if !below {
				return fmt.Errorf("%s: cannot reach %s from %s (landed in %s): %w",
					s.target.Device, want, cur, s.stack[0], ErrLevelUnavailable)
			}
			if err := s.exitOne(ctx); err != nil {
				return err
			}
			continue
		}
		var err error
		switch cur {
		case stateFXOS:
			err = s.climb(ctx, "connect ftd", cur, stateClish, "")
		case stateClish:
			err = s.climb(ctx, "expert", cur, stateExpert, "")
		case stateExpert:
			err = s.climb(ctx, "sudo su -", cur, stateRoot, s.target.Credential.sudoPassword())
		default:
			err = fmt.Errorf("%s: no way from %s to %s: %w", s.target.Device, cur, want, ErrLevelUnavailable)
		}
		if err != nil {
			return err
		}
	}
}

var (
	sorryTryAgain   = []byte("Sorry, try again")
	incorrectPasswd = []byte("incorrect password attempt")
	notInSudoers    = []byte("not in the sudoers file")
	errSudoRefused  = errors.New("sudo refused the password")
)

// climb sends cmd at from and waits for to's prompt, answering one password
// question with secret. A second question, "Sorry, try again." or "sudo: N
// incorrect password attempts" stop at once: the runner never sends a
// password twice, so a wrong credential costs one failed attempt, not a
// lockout.
func (s *Session) climb(ctx context.Context, cmd string, from, to shellState, secret string) error {
	if err := s.send(cmd); err != nil {
		return err
	}
	sent := false
	err := s.wait(ctx, s.r.cfg.CommandTimeout, cmd, func() (bool, error) {
		if sent && (bytes.Contains(s.out, sorryTryAgain) || bytes.Contains(s.out, incorrectPasswd)) {
			return true, errSudoRefused
		}
		if bytes.Contains(s.out, notInSudoers) {
			return true, fmt.Errorf("%s: %s: user may not sudo: %w", s.target.Device, cmd, ErrAuthFailed)
		}
		switch k := detectPrompt(s.line); {
		case k.state() == to:
			s.push(to)
			return true, nil
		case k == promptPassword:
			if sent {
				return true, errSudoRefused
			}
			if secret == "" {
				return true, fmt.Errorf("%s: %s asks for a password and the credential has none: %w", s.target.Device, cmd, ErrAuthFailed)
			}
			sent = true
			return false, s.sendSecret(secret)
		case k == promptPager:
			return false, s.pageOn()
		case k.state() == from:
			return true, fmt.Errorf("%s: %q did not reach %s: %q: %w",
				s.target.Device, cmd, to, s.red.bytes(lastLine(s.out[:len(s.out)-len(s.line)])), ErrLevelUnavailable)
		}
		return false, nil
	})
	if errors.Is(err, errSudoRefused) {
		s.tr.note("sudo refused the password; interrupting it")
		s.interrupt(ctx, from)
		return fmt.Errorf("%s: %s: sudo refused the password: %w", s.target.Device, cmd, ErrAuthFailed)
	}
	return err
}

// interrupt sends Ctrl-C and waits briefly for st's prompt; if it does not
// come, the session is unusable.
func (s *Session) interrupt(ctx context.Context, st shellState) {
	s.reset()
	if err := s.write([]byte{0x03}); err != nil {
		return
	}
	err := s.wait(ctx, s.r.cfg.ExitTimeout, "prompt after Ctrl-C", func() (bool, error) {
		return s.atPrompt(st), nil
	})
	if err != nil && s.broken == nil {
		s.broken = err
	}
}

// exitOne leaves the current level with `exit`. Leaving the level the login
// landed in ends the session; the device closing it is success.
func (s *Session) exitOne(ctx context.Context) error {
	s.stack = s.stack[:len(s.stack)-1]
	if err := s.send("exit"); err != nil {
		return err
	}
	if len(s.stack) == 0 {
		err := s.wait(ctx, s.r.cfg.ExitTimeout, "logout", func() (bool, error) { return false, nil })
		if errors.Is(err, ErrConnectionLost) {
			return nil
		}
		return err
	}
	below := s.top()
	return s.wait(ctx, s.r.cfg.ExitTimeout, "exit to "+below.String(), func() (bool, error) {
		return s.atPrompt(below), nil
	})
}

// runHere sends cmd at the current level and collects its output up to the
// level's prompt.
func (s *Session) runHere(ctx context.Context, cmd string, expects []Expect) (string, error) {
	st := s.top()
	if err := s.send(cmd); err != nil {
		return "", err
	}
	var fired []bool
	if len(expects) > 0 {
		fired = make([]bool, len(expects))
	}
	promptLen := 0
	err := s.wait(ctx, s.r.cfg.CommandTimeout, cmd, func() (bool, error) {
		if n, ok := s.promptAt(st); ok {
			promptLen = n
			return true, nil
		}
		for i, e := range expects {
			if e.Match == nil || !e.Match.Match(s.line) {
				continue
			}
			if fired[i] && e.Once {
				return true, fmt.Errorf("%s: %q asked %q again: %w", s.target.Device, cmd, s.red.bytes(s.line), ErrProtocol)
			}
			fired[i] = true
			s.line, s.long = s.line[:0], false // answered: do not match it again
			if e.Secret {
				return false, s.sendSecret(e.Send)
			}
			return false, s.write(append(append(s.wbuf[:0], e.Send...), '\n'))
		}
		if detectPrompt(s.line) == promptPager {
			return false, s.pageOn()
		}
		return false, nil
	})
	if err != nil {
		if out := s.text(); len(out) > 0 && errors.Is(err, ErrConnectionLost) {
			return s.red.bytes(stripEcho(out, cmd)), err
		}
		return "", err
	}
	if s.outOver {
		s.tr.note(fmt.Sprintf("output of %q truncated at %d bytes", cmd, s.r.cfg.MaxOutputPerCommand))
		return s.red.capped(stripEcho(s.out, cmd), s.r.cfg.MaxOutputPerCommand),
			fmt.Errorf("%s: %q: %w (%d bytes)", s.target.Device, cmd, ErrOutputTruncated, s.r.cfg.MaxOutputPerCommand)
	}
	return s.red.bytes(splitOutput(s.out, cmd, promptLen)), nil
}

// promptAt reports whether the last line is st's prompt, and the prompt's
// length. Besides the regex on the whole line, a root or expert prompt is
// recognised as a suffix equal to the exact prompt seen before, so output
// without a final newline does not hide the prompt.
func (s *Session) promptAt(st shellState) (int, bool) {
	if s.long {
		return 0, false
	}
	if detectPrompt(s.line).state() == st {
		return len(s.line), true
	}
	if k := s.known[st]; (st == stateRoot || st == stateExpert) && len(k) > 3 && bytes.HasSuffix(s.line, k) {
		return len(k), true
	}
	return 0, false
}

func (s *Session) atPrompt(st shellState) bool {
	_, ok := s.promptAt(st)
	return ok
}

// pageOn answers a pager with a space and drops the pager's text from the
// output.
func (s *Session) pageOn() error {
	if !s.outOver && len(s.out) >= len(s.line) {
		s.out = s.out[:len(s.out)-len(s.line)]
	}
	s.line = s.line[:0]
	return s.write([]byte{' '})
}

// text is the output received since the last send (capped).
func (s *Session) text() []byte { return s.out }

func (s *Session) reset() {
	s.out, s.outOver = s.out[:0], false
	s.line, s.long = s.line[:0], false
}

// send types a command: what was received so far is dropped, the command
// echo and its output follow.
func (s *Session) send(cmd string) error {
	s.reset()
	s.wbuf = append(append(s.wbuf[:0], cmd...), '\n')
	return s.write(s.wbuf)
}

// sendSecret types a password. It is never written to the transcript or a
// log; the device does not echo it, and if it did the redactor would remove
// it.
func (s *Session) sendSecret(secret string) error {
	s.line, s.long = s.line[:0], false
	buf := make([]byte, 0, len(secret)+1)
	buf = append(append(buf, secret...), '\n')
	err := s.write(buf)
	clear(buf)
	return err
}

func (s *Session) write(p []byte) error {
	if _, err := s.stdin.Write(p); err != nil {
		return s.fail(fmt.Errorf("%s: write: %w", s.target.Device, s.connErr(err)))
	}
	return nil
}

// ingest cleans a chunk read from the device and appends it to the
// transcript, the output buffer and the current line.
func (s *Session) ingest(p []byte) {
	c := s.cl.clean(p[:0], p)
	if len(c) == 0 {
		return
	}
	s.tr.write(c)
	if !s.outOver {
		if room := s.r.cfg.MaxOutputPerCommand - len(s.out); len(c) > room {
			s.out = append(s.out, c[:room]...)
			s.outOver = true
		} else {
			s.out = append(s.out, c...)
		}
	}
	if i := bytes.LastIndexByte(c, '\n'); i >= 0 {
		s.line, s.long = s.line[:0], false
		c = c[i+1:]
	}
	if s.long {
		return
	}
	if len(s.line)+len(c) > maxPromptLine {
		s.line, s.long = s.line[:0], true
		return
	}
	s.line = append(s.line, c...)
}

// abort reasons
const (
	abortNone int32 = iota
	abortTimeout
	abortContext
)

// wait reads from the shell until match reports done. The per-step timeout
// and ctx both interrupt the blocked read by killing the connection: the
// device is then in an unknown state, and the session is marked broken.
func (s *Session) wait(ctx context.Context, timeout time.Duration, what string, match func() (bool, error)) error {
	if done, err := match(); done {
		return err
	}
	var reason atomic.Int32
	timer := time.AfterFunc(timeout, func() {
		if reason.CompareAndSwap(abortNone, abortTimeout) {
			s.link.kill()
		}
	})
	stop := context.AfterFunc(ctx, func() {
		if reason.CompareAndSwap(abortNone, abortContext) {
			s.link.kill()
		}
	})
	defer func() {
		timer.Stop()
		stop()
		if reason.Load() != abortNone && s.broken == nil {
			s.broken = fmt.Errorf("connection closed after %s was interrupted", what)
		}
	}()
	for {
		n, err := s.stdout.Read(s.readBuf)
		if n > 0 {
			s.ingest(s.readBuf[:n])
			if done, merr := match(); done {
				return merr
			}
		}
		if err == nil {
			continue
		}
		switch reason.Load() {
		case abortTimeout:
			s.tr.note(fmt.Sprintf("%s: no answer within %s; closing the connection", what, timeout))
			return s.fail(fmt.Errorf("%s: %s: no prompt within %s: %w", s.target.Device, what, timeout, ErrTimeout))
		case abortContext:
			cause := context.Cause(ctx)
			if errors.Is(cause, context.DeadlineExceeded) {
				s.tr.note(fmt.Sprintf("%s: session deadline reached; closing the connection", what))
				return s.fail(fmt.Errorf("%s: %s: session deadline reached: %w", s.target.Device, what, ErrTimeout))
			}
			return s.fail(fmt.Errorf("%s: %s: %w", s.target.Device, what, cause))
		}
		return s.fail(fmt.Errorf("%s: %s: device closed the session: %w", s.target.Device, what, s.connErr(err)))
	}
}

// connErr turns the io errors of a dead connection into ErrConnectionLost.
func (s *Session) connErr(err error) error {
	if errors.Is(err, io.EOF) || isNetworkFailure(err) {
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return err
}

// fail marks the session unusable and returns err.
func (s *Session) fail(err error) error {
	if s.broken == nil {
		s.broken = err
	}
	return err
}

// close leaves the device cleanly (exit back down each level) if the session
// is still usable, then closes the connection.
func (s *Session) close(ctx context.Context) {
	if s.broken == nil && s.shell != nil {
		for len(s.stack) > 0 && s.broken == nil {
			if err := s.exitOne(ctx); err != nil {
				s.log.Debug("clean exit failed", zap.Error(err))
				break
			}
		}
	}
	if s.shell != nil {
		_ = s.shell.Close()
	}
	s.link.close()
}

func lastLine(b []byte) []byte {
	b = bytes.TrimRight(b, " \n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// cappedWriter collects exec output (stdout and stderr interleaved, as a
// terminal would show them) up to a cap.
type cappedWriter struct {
	mu   sync.Mutex
	buf  []byte
	max  int
	over bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - len(w.buf); len(p) > room {
		w.buf = append(w.buf, p[:room]...)
		w.over = true
	} else {
		w.buf = append(w.buf, p...)
	}
	return len(p), nil
}
