package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// level is a privilege level of the Firepower session state machine
// (docs/firepower.md §4).
type level uint8

const (
	lvChassis level = iota // FXOS "host#"
	lvModule               // "Firepower-module1>"
	lvClish                // ">"
	lvExpert               // admin@host:~$
	lvRoot                 // root@host:~#
)

type frame struct {
	lv    level
	cwd   string
	login bool // a login shell says "logout" when left, others "exit"
}

var (
	errInterrupt = errors.New("interrupted")
	errCtrlD     = errors.New("end of input typed")
)

const maxLineLen = 16 << 10 // a longer line is cut, like a tty's buffer

// shell is one SSH session channel: the line discipline of its PTY and the
// device CLI behind it.
type shell struct {
	cs            *connState
	d             *Device
	ch            ssh.Channel
	ctx           context.Context
	cancelSession context.CancelFunc

	pty  bool
	echo bool
	cols atomic.Int32
	rows atomic.Int32

	inOnce  sync.Once
	in      chan []byte
	pending []byte
	lastCR  bool
	tw      *termWriter
	// out is PTY output not yet sent. It goes out when the shell waits
	// (for input, a latency, the session's end) or passes outMax: one SSH
	// packet per burst instead of one per write, which was most of the
	// simulator's CPU per session (issue 15).
	out []byte

	frames []frame
	status int
	sudoAt time.Time
	files  map[string]string
	ps1    string
	depth  int

	cmdMu     sync.Mutex
	cmdCancel context.CancelFunc
	// cmdDone is the running command's context's Done channel: a command
	// reading a line (sudo's Password:, reboot's YES/NO) sees the Ctrl-C
	// that cancels it, as a process blocked in read(2) gets its SIGINT.
	// Only the session's goroutine sets and reads it (runCmd, readByte), so
	// readByte reads it without cmdMu, which it took once per typed byte.
	cmdDone <-chan struct{}
	// sigHandled: the command caught the interrupt and reported it itself
	// (sudo), so the shell neither echoes ^C nor reports status 130.
	sigHandled bool
	running    atomic.Bool
}

func newShell(cs *connState, ch ssh.Channel) *shell {
	ctx, cancel := context.WithCancel(cs.ctx)
	s := &shell{cs: cs, d: cs.d, ch: ch, ctx: ctx, cancelSession: cancel, out: getOutBuf()}
	cfg := &s.d.fleet.cfg
	switch {
	case cfg.Exec || s.d.kind == KindFMC6:
		s.frames = []frame{{lv: lvExpert, cwd: adminHome, login: true}}
	case s.d.kind == KindFXOS:
		s.frames = []frame{{lv: lvChassis}}
	default:
		s.frames = []frame{{lv: lvClish}}
	}
	return s
}

const (
	adminHome     = "/home/admin"
	adminHomeReal = "/Volume/home/admin"
	rootHome      = "/root"
)

func (s *shell) setPTY(cols, rows int) {
	s.pty = true
	s.echo = true
	s.setSize(cols, rows)
}

func (s *shell) setSize(cols, rows int) {
	s.cols.Store(int32(min(cols, 1<<20)))
	s.rows.Store(int32(min(rows, 1<<20)))
}

// top is the current level; after the last level was left (the session
// is ending) it is a throwaway frame, so late lookups cannot panic.
func (s *shell) top() *frame {
	if len(s.frames) == 0 {
		return &frame{lv: lvExpert, cwd: "/"}
	}
	return &s.frames[len(s.frames)-1]
}

func (s *shell) isRoot() bool { return len(s.frames) > 0 && s.top().lv == lvRoot }

func (s *shell) execCapable() bool {
	return s.d.fleet.cfg.Exec || s.d.kind == KindFMC6
}

// print writes device text (banners, prompts) with the tty's newline
// translation but without wrapping.
func (s *shell) print(text string) {
	if s.pty {
		text = strings.ReplaceAll(text, "\n", "\r\n")
	}
	s.emit([]byte(text))
}

// outMax is how much PTY output waits before it is sent anyway.
const outMax = 32 << 10

// emit queues PTY output (see out); other output is written at once.
func (s *shell) emit(b []byte) {
	if !s.pty {
		_, _ = s.ch.Write(b)
		return
	}
	s.out = append(s.out, b...)
	if len(s.out) >= outMax {
		s.flushOut()
	}
}

// outBufs recycles the sessions' output queues: growing a fresh one in
// every session was a tenth of the bytes a diagnose session allocated
// (issue 15).
var outBufs sync.Pool

func getOutBuf() []byte {
	if b, ok := outBufs.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 4<<10)
}

// releaseOut returns the output queue once the session is over.
func (s *shell) releaseOut() {
	if b := s.out; cap(b) > 0 && cap(b) <= 2*outMax {
		s.out = nil
		outBufs.Put(&b)
	}
}

// flushOut sends the queued PTY output.
func (s *shell) flushOut() {
	if len(s.out) > 0 {
		_, _ = s.ch.Write(s.out)
		s.out = s.out[:0]
	}
}

// outputs returns the writers a command prints to. On a PTY both streams
// are the terminal, wrapped at its width; without one stderr is the
// channel's extended data.
func (s *shell) outputs() (stdout, stderr io.Writer) {
	if s.tw == nil {
		s.tw = &termWriter{w: s.ch, pty: s.pty, cols: &s.cols}
		if s.pty {
			s.tw.sh = s
		}
	}
	s.tw.col = 0
	if s.pty {
		return s.tw, s.tw
	}
	return s.tw, &termWriter{w: s.ch.Stderr(), cols: &s.cols}
}

// termWriter is the terminal: onlcr on a PTY, and hard wrapping at the
// PTY's width, which is how the seed's lsof/netstat lines came out broken.
type termWriter struct {
	w io.Writer
	// sh, on a PTY, is the shell whose queued output (shell.out) the
	// translated bytes are appended to directly, without a copy through
	// buf: that copy was a tenth of the bytes a session allocated (issue 15).
	sh   *shell
	pty  bool
	cols *atomic.Int32
	col  int
	buf  []byte
}

func (t *termWriter) Write(p []byte) (int, error) {
	if t.sh != nil {
		t.sh.out = t.translate(t.sh.out, p)
		if len(t.sh.out) >= outMax {
			t.sh.flushOut()
		}
		return len(p), nil
	}
	t.buf = t.translate(t.buf[:0], p)
	if _, err := t.w.Write(t.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// translate appends p to dst as the terminal shows it.
func (t *termWriter) translate(dst, p []byte) []byte {
	cols := 0
	if t.pty {
		cols = int(t.cols.Load())
	}
	for i := 0; i < len(p); {
		// Runs of printable ASCII, most of any output, are copied whole,
		// cut where the line wraps: byte by byte this was 5 % of the
		// simulator's CPU (a diagnose prints about 50 KB; issue 15).
		j := i
		for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
			j++
		}
		if run := p[i:j]; len(run) > 0 {
			for len(run) > 0 {
				n := len(run)
				if cols > 0 {
					if t.col >= cols {
						dst = append(dst, '\r', '\n')
						t.col = 0
					}
					n = min(n, cols-t.col)
				}
				dst = append(dst, run[:n]...)
				t.col += n
				run = run[n:]
			}
			i = j
			continue
		}
		b := p[i]
		i++
		switch {
		case b == '\n':
			if t.pty {
				dst = append(dst, '\r')
			}
			dst = append(dst, '\n')
			t.col = 0
			continue
		case b == '\r':
			t.col = 0
		case b < 0x20 || b == 0x7f || b&0xC0 == 0x80:
			// control characters and UTF-8 continuation bytes take no column
		default:
			if cols > 0 && t.col >= cols {
				dst = append(dst, '\r', '\n')
				t.col = 0
			}
			t.col++
		}
		dst = append(dst, b)
	}
	return dst
}

// startInput reads the channel in the background: typed bytes queue up
// while a command runs (type-ahead), and Ctrl-C interrupts the command.
func (s *shell) startInput() {
	s.inOnce.Do(func() {
		s.in = make(chan []byte, 16)
		go func() {
			defer close(s.in)
			buf := make([]byte, 1024)
			for {
				n, err := s.ch.Read(buf)
				if n > 0 {
					chunk := append([]byte(nil), buf[:n]...)
					if s.running.Load() {
						if i := strings.IndexByte(string(chunk), 0x03); i >= 0 {
							s.interrupt()
							chunk = chunk[i+1:]
						}
					}
					if len(chunk) > 0 {
						select {
						case s.in <- chunk:
						case <-s.ctx.Done():
							return
						}
					}
				}
				if err != nil {
					return
				}
			}
		}()
	})
}

func (s *shell) interrupt() {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	if s.cmdCancel != nil {
		s.cmdCancel()
	}
}

func (s *shell) readByte() (byte, error) {
	s.startInput()
	done := s.cmdDone
	select {
	case <-done: // nil at a prompt: never ready
		return 0, errInterrupt
	default:
	}
	if len(s.pending) == 0 {
		s.flushOut() // the shell waits for input: what it printed goes out
	}
	for len(s.pending) == 0 {
		select {
		case chunk, ok := <-s.in:
			if !ok {
				return 0, io.EOF
			}
			s.pending = chunk
		case <-done:
			return 0, errInterrupt
		case <-s.ctx.Done():
			return 0, io.EOF
		}
	}
	b := s.pending[0]
	s.pending = s.pending[1:]
	return b, nil
}

// readLine is the cooked-mode line discipline: echo, erase, ^C, ^D, and
// readline's bell where it would ring.
func (s *shell) readLine(echo bool) (string, error) {
	var line []byte
	// Echo is collected and written once per chunk of input, as a kernel
	// PTY effectively does: one SSH packet for a typed-ahead command rather
	// than one per character (which cost the client as much as the device).
	var out []byte
	flush := func() {
		if len(out) > 0 {
			s.emit(out)
			out = out[:0]
		}
	}
	show := func(b ...byte) {
		if s.pty && s.echo && echo {
			out = append(out, b...)
		}
	}
	for {
		if len(s.pending) == 0 {
			flush() // about to wait for more input: show what was typed so far
		}
		b, err := s.readByte()
		if err != nil {
			flush()
			if errors.Is(err, errInterrupt) {
				return "", err // what was typed is discarded, not entered
			}
			if len(line) > 0 {
				return string(line), nil
			}
			return "", err
		}
		if b == '\n' && s.lastCR {
			s.lastCR = false
			continue
		}
		s.lastCR = b == '\r'
		switch {
		case b == '\r' || b == '\n':
			if s.pty {
				out = append(out, '\r', '\n')
			}
			flush()
			return string(line), nil
		case b == 0x7f || b == 0x08:
			if len(line) == 0 {
				show(0x07)
				continue
			}
			line = line[:len(line)-1]
			show('\b', ' ', '\b')
		case b == 0x03:
			if s.pty {
				out = append(out, "^C\r\n"...)
			}
			flush()
			return "", errInterrupt
		case b == 0x04:
			if len(line) == 0 {
				flush()
				return "", errCtrlD
			}
		case b == 0x15: // ^U
			for range line {
				show('\b', ' ', '\b')
			}
			line = line[:0]
		case b == '\t':
			show(0x07) // no completion here: the bell
		case b == 0x1b:
			s.skipEscape()
		case b < 0x20:
		default:
			if len(line) < maxLineLen {
				line = append(line, b)
				show(b)
			}
		}
	}
}

// skipEscape drops an ANSI escape sequence (arrow keys and the like).
func (s *shell) skipEscape() {
	b, err := s.readByte()
	if err != nil || (b != '[' && b != 'O') {
		return
	}
	for i := 0; i < 16; i++ {
		b, err := s.readByte()
		if err != nil || (b >= 0x40 && b <= 0x7e) {
			return
		}
	}
}

// runInteractive is a login shell: banner, then prompt/command until the
// last level is left or the connection ends.
func (s *shell) runInteractive() int {
	s.print(s.d.loginBanner())
	if s.top().lv == lvChassis {
		s.print(fxosBanner)
	}
	if s.d.hasFlag(FaultNoPrompt) {
		// Swallow input until the client gives up.
		for {
			if _, err := s.readByte(); err != nil {
				return s.status
			}
		}
	}
	for len(s.frames) > 0 {
		s.print(s.prompt())
		line, err := s.readLine(true)
		switch {
		case errors.Is(err, errInterrupt):
			s.status = 130
			continue
		case errors.Is(err, errCtrlD):
			if s.top().lv >= lvExpert {
				s.leaveLevel()
			} else {
				s.frames = s.frames[:len(s.frames)-1]
			}
			continue
		case err != nil:
			return s.status
		}
		s.execLine(line)
		if s.cs.ctx.Err() != nil {
			return s.status
		}
	}
	return s.status
}

// runExec answers an exec request. The Firepower CLI refuses it exactly as
// a real FTD does; bash-like devices (--exec, FMC 6.x) run it.
func (s *shell) runExec(cmd string) int {
	if !s.execCapable() {
		if !s.cs.noteCommand(strings.TrimSpace(cmd)) {
			return 255
		}
		_, errw := s.outputs()
		fmt.Fprintf(errw, "Syntax error on line stdin:1 %q: Unknown command\n", cmd)
		return 255
	}
	if s.d.fleet.cfg.Exec {
		// The --exec lab account runs commands with root rights so that
		// generic tools need no sudo dance.
		s.frames = []frame{{lv: lvRoot, cwd: rootHome, login: true}}
	}
	line := strings.TrimSpace(cmd)
	if line == "" {
		return 0
	}
	if !s.cs.noteCommand(line) {
		return 255
	}
	if s.d.hasFlag(FaultFlood) {
		s.flood()
		return 0
	}
	if s.d.hasFlag(FaultSlow) {
		s.flushOut()
		_ = s.cs.sleep(s.ctx, s.d.fleet.cfg.SlowLatency)
	}
	out, errw := s.outputs()
	return s.runCmd(func(ctx context.Context) int { return s.bash(ctx, line, out, errw) })
}

// execLine runs one typed line at the current level.
func (s *shell) execLine(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if !s.cs.noteCommand(line) {
		return
	}
	if s.d.hasFlag(FaultFlood) {
		s.flood()
		return
	}
	if s.d.hasFlag(FaultSlow) {
		s.flushOut()
		if s.cs.sleep(s.ctx, s.d.fleet.cfg.SlowLatency) != nil {
			return
		}
	}
	out, errw := s.outputs()
	switch s.top().lv {
	case lvChassis:
		s.status = s.runCmd(func(ctx context.Context) int { return s.fxosCommand(ctx, line, out) })
	case lvModule:
		s.status = s.runCmd(func(ctx context.Context) int { return s.moduleCommand(ctx, line, out) })
	case lvClish:
		s.status = s.runCmd(func(ctx context.Context) int { return s.clishCommand(ctx, line, out) })
	default:
		s.status = s.runCmd(func(ctx context.Context) int { return s.bash(ctx, line, out, errw) })
	}
}

// floodChunk is what the flood fault writes over and over: 32 KiB of
// lines, written whole so that the flood costs the simulator few syscalls.
var floodChunk = []byte(strings.Repeat(strings.Repeat("flood ", 13)+"\r\n", 400))

// flood writes output until the session ends. SSH flow control paces it to
// what the client reads; the client's output cap and deadline must stop it.
func (s *shell) flood() {
	s.flushOut()
	for s.ctx.Err() == nil {
		if _, err := s.ch.Write(floodChunk); err != nil {
			return
		}
	}
}

// runCmd runs fn with a context that Ctrl-C cancels.
func (s *shell) runCmd(fn func(ctx context.Context) int) int {
	ctx, cancel := context.WithCancel(s.ctx)
	s.cmdMu.Lock()
	s.cmdCancel, s.cmdDone = cancel, ctx.Done()
	s.cmdMu.Unlock()
	s.sigHandled = false
	s.running.Store(true)
	defer func() {
		s.running.Store(false)
		s.cmdMu.Lock()
		s.cmdCancel, s.cmdDone = nil, nil
		s.cmdMu.Unlock()
		cancel()
	}()
	status := fn(ctx)
	if ctx.Err() != nil && s.ctx.Err() == nil && !s.sigHandled {
		s.print("^C\n")
		return 130
	}
	return status
}

// latency waits a command's device-time latency; false if interrupted.
func (s *shell) latency(ctx context.Context, d time.Duration) bool {
	s.flushOut() // what the command printed so far shows while it waits
	return s.cs.sleep(ctx, d) == nil
}

func (s *shell) prompt() string {
	f := s.top()
	switch f.lv {
	case lvChassis:
		return s.d.hostname + "# "
	case lvModule:
		return "Firepower-module1> "
	case lvClish:
		return "> "
	}
	if s.ps1 != "" {
		return s.expandPS1(s.ps1)
	}
	if f.lv == lvRoot {
		return fmt.Sprintf("root@%s:%s# ", s.d.promptHost(), displayPath(f.cwd, rootHome))
	}
	return fmt.Sprintf("%s@%s:%s$ ", s.d.fleet.cfg.Username, s.d.promptHost(), displayPath(f.cwd, adminHome))
}

// promptHost is the hostname as prompts show it: only its letters, digits,
// '.', '_' and '-' (others become '-'), so that a test can give a device a
// hostile hostname (markup, quotes) that shows in command output and
// banners while the prompts stay recognisable.
func (d *Device) promptHost() string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '-'
	}, d.hostname)
}

func (s *shell) expandPS1(ps string) string {
	f := s.top()
	user, home, sign := s.d.fleet.cfg.Username, adminHome, "$"
	if f.lv == lvRoot {
		user, home, sign = "root", rootHome, "#"
	}
	r := strings.NewReplacer(`\u`, user, `\h`, s.d.promptHost(), `\H`, s.d.fqdn(), `\w`, displayPath(f.cwd, home),
		`\W`, lastElem(displayPath(f.cwd, home)), `\$`, sign, `\n`, "\n", `\\`, `\`)
	return r.Replace(ps)
}

func displayPath(cwd, home string) string {
	if cwd == home {
		return "~"
	}
	if strings.HasPrefix(cwd, home+"/") {
		return "~" + cwd[len(home):]
	}
	return cwd
}

func lastElem(p string) string {
	if p == "/" || p == "~" {
		return p
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// leaveLevel is exit/logout/^D at a bash level.
func (s *shell) leaveLevel() {
	f := s.top()
	if f.login {
		s.print("logout\n")
	} else {
		s.print("exit\n")
	}
	s.frames = s.frames[:len(s.frames)-1]
	if f.lv == lvRoot || len(s.frames) == 0 {
		s.ps1 = ""
	}
	if len(s.frames) > 0 && s.top().lv < lvExpert {
		s.ps1 = ""
	}
}

// waitDrop blocks until the device drops the connection (reboot), so the
// client sees the session die rather than end cleanly.
func (s *shell) waitDrop() {
	s.flushOut() // "going down for reboot" reaches the client first
	select {
	case <-s.cs.ctx.Done():
	case <-time.After(5 * time.Second):
	}
}
