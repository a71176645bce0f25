package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"
)

// proc is one command of a pipeline being run.
type proc struct {
	s     *shell
	ctx   context.Context
	args  []string
	stdin []byte
	hasIn bool
	out   io.Writer
	err   io.Writer
	root  bool
}

func (p *proc) errf(format string, a ...any) { fmt.Fprintf(p.err, format, a...) }

type command func(p *proc) int

// maxNesting bounds sh -c inside sh -c.
const maxNesting = 8

// bash runs one command line at the expert or root level.
func (s *shell) bash(ctx context.Context, line string, out, errw io.Writer) int {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxNesting {
		fmt.Fprintln(errw, "-bash: maximum nesting level exceeded")
		return 1
	}
	items, err := parseLine(line)
	if err != nil {
		fmt.Fprintf(errw, "-bash: %v\n", err)
		s.status = 2
		return 2
	}
	depth := len(s.frames)
	status := s.status
	for _, it := range items {
		if ctx.Err() != nil {
			if s.sigHandled {
				return status // the command caught the interrupt and exited on its own
			}
			return 130
		}
		if (it.op == "&&" && status != 0) || (it.op == "||" && status == 0) {
			continue
		}
		status = s.runPipeline(ctx, it.pipe, out, errw)
		s.status = status
		if len(s.frames) != depth {
			break // exit, sudo su: the rest of the line belongs to another shell
		}
	}
	return status
}

func (s *shell) runPipeline(ctx context.Context, pl pipeline, out, errw io.Writer) int {
	depth := len(s.frames)
	var stdin []byte
	hasIn := false
	status := 0
	for i, c := range pl.cmds {
		last := i == len(pl.cmds)-1
		var pipeBuf bytes.Buffer
		o, e := out, errw
		if !last {
			o = &pipeBuf
		}
		var fileBuf *bytes.Buffer
		fileName, appendFile := "", false
		failed := false
		for _, r := range c.redirs {
			target := r.target.expand(s.lookup)
			switch {
			case r.op == ">&" || r.op == "<&":
				switch {
				case r.fd == 2 && target == "1":
					e = o
				case r.fd == 1 && target == "2":
					o = e
				}
			case r.fd == 0:
				content, msg := s.readFile(target)
				if msg != "" {
					fmt.Fprintf(errw, "-bash: %s: %s\n", target, msg)
					failed = true
				}
				stdin, hasIn = []byte(content), true
			case target == "/dev/null":
				if r.fd == 2 {
					e = io.Discard
				} else {
					o = io.Discard
				}
			default:
				fileBuf = &bytes.Buffer{}
				fileName, appendFile = s.resolvePath(target), r.op == ">>"
				if r.fd == 2 {
					e = fileBuf
				} else {
					o = fileBuf
				}
			}
		}
		if failed {
			status = 1
		} else {
			args := make([]string, 0, len(c.words))
			for _, w := range c.words {
				args = append(args, w.expand(s.lookup))
			}
			status = s.runCommand(ctx, args, stdin, hasIn, o, e)
		}
		if fileBuf != nil {
			s.writeFile(fileName, fileBuf.String(), appendFile)
		}
		stdin, hasIn = pipeBuf.Bytes(), true
		if ctx.Err() != nil {
			if s.sigHandled {
				return status
			}
			return 130
		}
		if len(s.frames) != depth {
			return status // the level changed under the pipeline (exit | ...)
		}
	}
	return status
}

// binDirs are where a command given with a path is found.
var binDirs = map[string]bool{
	"/bin": true, "/usr/bin": true, "/sbin": true, "/usr/sbin": true, "/usr/local/bin": true,
	"/usr/local/sf/bin": true, "/ngfw/usr/local/sf/bin": true,
}

func (s *shell) runCommand(ctx context.Context, args []string, stdin []byte, hasIn bool, out, errw io.Writer) int {
	// Leading NAME=value words are assignments.
	for len(args) > 0 {
		name, val, ok := strings.Cut(args[0], "=")
		if !ok || name == "" || !isVarName(name) {
			break
		}
		s.setVar(name, val)
		args = args[1:]
	}
	if len(args) == 0 {
		return 0
	}
	name := args[0]
	if strings.Contains(name, "/") {
		dir, base := path.Split(name)
		if !binDirs[path.Clean(dir)] || commands[base] == nil {
			fmt.Fprintf(errw, "-bash: %s: No such file or directory\n", name)
			return 127
		}
		name = base
	}
	fn := commands[name]
	if fn == nil {
		fmt.Fprintf(errw, "-bash: %s: command not found\n", name)
		return 127
	}
	p := &proc{s: s, ctx: ctx, args: args, stdin: stdin, hasIn: hasIn, out: out, err: errw, root: s.isRoot()}
	return fn(p)
}

func isVarName(n string) bool {
	if n == "" || !isVarStart(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		if !isVarChar(n[i]) {
			return false
		}
	}
	return true
}

func (s *shell) setVar(name, val string) {
	if name == "PS1" {
		s.ps1 = val
		return
	}
	if s.files == nil {
		s.files = map[string]string{}
	}
	// Variables share the session map under a prefix no path can have.
	s.files["\x00var:"+name] = val
}

func (s *shell) lookup(name string) string {
	f := s.top()
	switch name {
	case "?":
		return strconv.Itoa(s.status)
	case "$":
		return strconv.Itoa(24000 + s.d.index%8000)
	case "0":
		return "-bash"
	case "#":
		return "0"
	case "HOME":
		if f.lv == lvRoot {
			return rootHome
		}
		return adminHome
	case "USER", "LOGNAME":
		if f.lv == lvRoot {
			return "root"
		}
		return s.d.fleet.cfg.Username
	case "HOSTNAME":
		return s.d.hostname
	case "PWD":
		return f.cwd
	case "SHELL":
		return "/bin/bash"
	case "PATH":
		return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sf/bin"
	case "PS1":
		return s.ps1
	case "TERM":
		if s.pty {
			return "xterm"
		}
		return "dumb"
	}
	if v, ok := s.files["\x00var:"+name]; ok {
		return v
	}
	return ""
}

func init() {
	for k, v := range map[string]command{
		"exit": cmdExit, "logout": cmdExit, "cd": cmdCd, "pwd": cmdPwd, "echo": cmdEcho, "printf": cmdPrintf,
		"true": func(*proc) int { return 0 }, ":": func(*proc) int { return 0 }, "false": func(*proc) int { return 1 },
		"export": cmdExport, "unset": func(*proc) int { return 0 }, "set": func(*proc) int { return 0 },
		"stty": cmdStty, "clear": func(p *proc) int { fmt.Fprint(p.out, "\x1b[H\x1b[2J"); return 0 },
		"history": func(*proc) int { return 0 }, "sudo": cmdSudo, "su": cmdSu, "sh": cmdShC, "bash": cmdShC,
		"timeout": cmdTimeout, "sleep": cmdSleep, "whoami": cmdWhoami, "id": cmdID, "hostname": cmdHostname,
		"uname": cmdUname, "date": cmdDate, "uptime": cmdUptime, "which": cmdWhich, "type": cmdWhich,
		"env": cmdEnv,
	} {
		commands[k] = v
	}
}

// shellBuiltins are bash builtins: sudo cannot run them.
var shellBuiltins = map[string]bool{"exit": true, "logout": true, "cd": true, "export": true, "unset": true,
	"set": true, "history": true, "type": true, ":": true, "echo": false, "pwd": false}

// commands is every command bash knows; tools register in init.
var commands = map[string]command{}

func cmdExit(p *proc) int {
	s := p.s
	if len(p.args) > 1 {
		if n, err := strconv.Atoi(p.args[1]); err == nil {
			s.status = n & 0xff
		} else {
			p.errf("-bash: exit: %s: numeric argument required\n", p.args[1])
			s.status = 2
		}
	}
	if s.depth > 1 {
		return s.status // exit inside sh -c ends that shell only
	}
	if p.args[0] == "logout" && !s.top().login {
		p.errf("-bash: logout: not login shell: use `exit'\n")
		return 1
	}
	s.leaveLevel()
	return s.status
}

func cmdCd(p *proc) int {
	s := p.s
	f := s.top()
	target := ""
	if len(p.args) > 1 {
		target = p.args[1]
	}
	home := adminHome
	if p.root {
		home = rootHome
	}
	if target == "" || target == "~" {
		target = home
	}
	if target == "-" {
		target = f.cwd
	}
	logical := logicalPath(f.cwd, target, home)
	canon := canonicalPath(logical)
	if !isDir(canon) {
		if _, ok := virtualFiles[canon]; ok {
			p.errf("-bash: cd: %s: Not a directory\n", p.args[1])
		} else {
			p.errf("-bash: cd: %s: No such file or directory\n", target)
		}
		return 1
	}
	if rootOnlyDir(canon) && !p.root {
		p.errf("-bash: cd: %s: Permission denied\n", target)
		return 1
	}
	f.cwd = logical
	return 0
}

func cmdPwd(p *proc) int {
	fmt.Fprintln(p.out, p.s.top().cwd)
	return 0
}

func cmdEcho(p *proc) int {
	args := p.args[1:]
	newline, escapes := true, false
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && strings.Trim(args[0][1:], "neE") == "" {
		newline = newline && !strings.Contains(args[0], "n")
		escapes = strings.Contains(args[0], "e")
		args = args[1:]
	}
	text := strings.Join(args, " ")
	if escapes {
		text = unescape(text)
	}
	if newline {
		text += "\n"
	}
	fmt.Fprint(p.out, text)
	return 0
}

func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\a`, "\a", `\\`, `\`, `\r`, "\r", `\e`, "\x1b").Replace(s)
}

func cmdPrintf(p *proc) int {
	if len(p.args) < 2 {
		p.errf("printf: usage: printf [-v var] format [arguments]\n")
		return 2
	}
	format := unescape(p.args[1])
	args := p.args[2:]
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case '%':
			b.WriteByte('%')
		case 's', 'd':
			if len(args) > 0 {
				b.WriteString(args[0])
				args = args[1:]
			}
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	fmt.Fprint(p.out, b.String())
	return 0
}

func cmdExport(p *proc) int {
	for _, a := range p.args[1:] {
		if name, val, ok := strings.Cut(a, "="); ok && isVarName(name) {
			p.s.setVar(name, val)
		}
	}
	return 0
}

// cmdStty honours what drivers send to tame a terminal: -echo/echo and
// cols/columns N.
func cmdStty(p *proc) int {
	s := p.s
	if !s.pty {
		p.errf("stty: 'standard input': Inappropriate ioctl for device\n")
		return 1
	}
	args := p.args[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-echo":
			s.echo = false
		case "echo":
			s.echo = true
		case "cols", "columns", "rows":
			if i+1 < len(args) {
				if n, err := strconv.Atoi(args[i+1]); err == nil && n >= 0 {
					if args[i] == "rows" {
						s.rows.Store(int32(min(n, 1<<20)))
					} else {
						s.cols.Store(int32(min(n, 1<<20)))
					}
				}
				i++
			}
		case "size":
			fmt.Fprintf(p.out, "%d %d\n", s.rows.Load(), s.cols.Load())
		}
	}
	return 0
}

const sudoLecture = `
We trust you have received the usual lecture from the local System
Administrator. It usually boils down to these three things:

    #1) Respect the privacy of others.
    #2) Think before you type.
    #3) With great power comes great responsibility.

`

// sudoTimeout is sudo's credential cache, per session (tty_tickets).
const sudoTimeout = 5 * time.Minute

// sudoAuth asks for the admin password as sudo does; true if granted.
func (p *proc) sudoAuth() bool {
	s := p.s
	if p.root {
		return true
	}
	if !s.sudoAt.IsZero() && s.d.now().Sub(s.sudoAt) < sudoTimeout {
		return true
	}
	if !s.pty {
		p.errf("sudo: no tty present and no askpass program specified\n")
		return false
	}
	if s.d.takeLecture() {
		s.print(sudoLecture)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		s.print("Password: ")
		pw, err := s.readLine(false)
		if errors.Is(err, errInterrupt) {
			// sudo's tgetpass catches SIGINT: it ends the prompt's line
			// (echo is off, so the tty showed no ^C), the policy logs the
			// wrong guesses so far, and sudo exits 1 back to the shell.
			s.sigHandled = true
			s.print("\n")
			if n := attempt - 1; n > 0 {
				msg := "sudo: 1 incorrect password attempt\n"
				if n > 1 {
					msg = fmt.Sprintf("sudo: %d incorrect password attempts\n", n)
				}
				p.errf("%s", msg)
			}
			return false
		}
		if err != nil {
			return false
		}
		s.d.cnt.passwords.Add(1)
		if !s.latency(p.ctx, 150*time.Millisecond) {
			return false
		}
		if pw == s.d.fleet.cfg.Password {
			s.sudoAt = s.d.now()
			return true
		}
		if attempt < 3 {
			s.print("Sorry, try again.\n")
		}
	}
	p.errf("sudo: 3 incorrect password attempts\n")
	return false
}

func cmdSudo(p *proc) int {
	args := p.args[1:]
	login, shell := false, false
	nonInteractive := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-i":
			login, shell = true, true
		case "-s":
			shell = true
		case "-n":
			nonInteractive = true
		case "-k", "-K":
			p.s.sudoAt = time.Time{}
			if len(args) == 1 {
				return 0
			}
		case "-u":
			if len(args) < 2 {
				p.errf("sudo: option requires an argument -- 'u'\nusage: sudo -h | -K | -k | -V\n")
				return 1
			}
			if args[1] != "root" {
				p.errf("sudo: unknown user: %s\n", args[1])
				return 1
			}
			args = args[1:]
		case "-S", "-H", "-E":
		default:
			p.errf("sudo: invalid option -- '%s'\nusage: sudo -h | -K | -k | -V\n", strings.TrimLeft(args[0], "-"))
			return 1
		}
		args = args[1:]
	}
	if len(args) == 0 && !shell {
		p.errf("usage: sudo -h | -K | -k | -V\nusage: sudo [-AbEHknPS] [-C num] [-g group] [-h host] [-p prompt] [-u user] command\n")
		return 1
	}
	if len(args) > 0 && args[0] == "su" {
		shell = true
		login = len(args) > 1 && (args[1] == "-" || args[1] == "-l" || args[1] == "--login")
		args = nil
	}
	if nonInteractive && !p.root && (p.s.sudoAt.IsZero() || p.s.d.now().Sub(p.s.sudoAt) >= sudoTimeout) {
		p.errf("sudo: a password is required\n")
		return 1
	}
	if !p.sudoAuth() {
		return 1
	}
	if shell {
		return p.s.enterRoot(login)
	}
	if shellBuiltins[args[0]] {
		p.errf("sudo: %s: command not found\n", args[0])
		return 1
	}
	saved := p.s.frames
	p.s.frames = append(append([]frame(nil), saved...), frame{lv: lvRoot, cwd: p.s.top().cwd})
	status := p.s.runCommand(p.ctx, args, p.stdin, p.hasIn, p.out, p.err)
	if len(p.s.frames) > 0 && p.s.top().lv == lvRoot && len(p.s.frames) == len(saved)+1 {
		p.s.frames = saved
	}
	return status
}

// enterRoot starts a root shell: "sudo su -" lands in /root, "sudo su"
// keeps the directory (as the kernel resolves it: /Volume/home/admin).
func (s *shell) enterRoot(login bool) int {
	cwd := rootHome
	if !login {
		cwd = canonicalPath(s.top().cwd)
	}
	s.frames = append(s.frames, frame{lv: lvRoot, cwd: cwd, login: login})
	return 0
}

func cmdSu(p *proc) int {
	login := len(p.args) > 1 && (p.args[1] == "-" || p.args[1] == "-l")
	if p.root {
		return p.s.enterRoot(login)
	}
	if !p.s.pty {
		p.errf("su: must be run from a terminal\n")
		return 1
	}
	// The root password is not the admin password: su always fails.
	p.s.print("Password: ")
	if _, err := p.s.readLine(false); err != nil {
		return 1
	}
	p.s.d.cnt.passwords.Add(1)
	if !p.s.latency(p.ctx, 2*time.Second) {
		return 1
	}
	p.errf("su: Authentication failure\n")
	return 1
}

// cmdShC is sh -c / bash -c, which Ansible and others wrap commands in.
func cmdShC(p *proc) int {
	if len(p.args) >= 3 && p.args[1] == "-c" {
		return p.s.bash(p.ctx, p.args[2], p.out, p.err)
	}
	if len(p.args) == 1 {
		return 0 // an interactive sub-shell we do not start
	}
	p.errf("%s: %s: No such file or directory\n", p.args[0], p.args[1])
	return 127
}

func cmdTimeout(p *proc) int {
	if len(p.args) < 3 {
		p.errf("timeout: missing operand\n")
		return 125
	}
	d, err := time.ParseDuration(p.args[1])
	if err != nil {
		n, err2 := strconv.ParseFloat(p.args[1], 64)
		if err2 != nil {
			p.errf("timeout: invalid time interval '%s'\n", p.args[1])
			return 125
		}
		d = time.Duration(n * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.s.d.fleet.cfg.scaled(d))
	defer cancel()
	status := p.s.runCommand(ctx, p.args[2:], p.stdin, p.hasIn, p.out, p.err)
	if ctx.Err() != nil && p.ctx.Err() == nil {
		return 124
	}
	return status
}

func cmdSleep(p *proc) int {
	if len(p.args) < 2 {
		p.errf("sleep: missing operand\n")
		return 1
	}
	n, err := strconv.ParseFloat(p.args[1], 64)
	if err != nil || n < 0 {
		p.errf("sleep: invalid time interval '%s'\n", p.args[1])
		return 1
	}
	if !p.s.latency(p.ctx, time.Duration(n*float64(time.Second))) {
		return 130
	}
	return 0
}

func (p *proc) user() string {
	if p.root {
		return "root"
	}
	return p.s.d.fleet.cfg.Username
}

func cmdWhoami(p *proc) int {
	fmt.Fprintln(p.out, p.user())
	return 0
}

func cmdID(p *proc) int {
	if p.root {
		fmt.Fprintln(p.out, "uid=0(root) gid=0(root) groups=0(root)")
	} else {
		fmt.Fprintf(p.out, "uid=1000(%s) gid=1000(%s) groups=1000(%s),500(sfadmin)\n", p.user(), p.user(), p.user())
	}
	return 0
}

func cmdHostname(p *proc) int {
	fmt.Fprintln(p.out, p.s.d.hostname)
	return 0
}

func cmdUname(p *proc) int {
	kernel := "4.14.212-rt100"
	if strings.HasPrefix(p.s.d.rel.version, "6.") {
		kernel = "4.1.21-WR8.0.0.28_standard"
	}
	switch {
	case len(p.args) > 1 && p.args[1] == "-a":
		fmt.Fprintf(p.out, "Linux %s %s #1 SMP PREEMPT x86_64 GNU/Linux\n", p.s.d.hostname, kernel)
	case len(p.args) > 1 && p.args[1] == "-r":
		fmt.Fprintln(p.out, kernel)
	case len(p.args) > 1 && p.args[1] == "-n":
		fmt.Fprintln(p.out, p.s.d.hostname)
	default:
		fmt.Fprintln(p.out, "Linux")
	}
	return 0
}

func cmdDate(p *proc) int {
	fmt.Fprintln(p.out, p.s.d.now().Format("Mon Jan  2 15:04:05 MST 2006"))
	return 0
}

func cmdUptime(p *proc) int {
	now := p.s.d.now()
	p.s.d.mu.Lock()
	up := now.Sub(p.s.d.bootedAt)
	p.s.d.mu.Unlock()
	days := int(up.Hours()) / 24
	fmt.Fprintf(p.out, " %s up %d days, %2d:%02d,  1 user,  load average: 0.52, 0.48, 0.45\n",
		now.Format("15:04:05"), days, int(up.Hours())%24, int(up.Minutes())%60)
	return 0
}

func cmdWhich(p *proc) int {
	status := 0
	for _, a := range p.args[1:] {
		if commands[a] == nil {
			status = 1
			continue
		}
		dir := "/usr/bin"
		switch a {
		case "pmtool":
			dir = "/usr/local/sf/bin"
		case "reboot", "shutdown":
			dir = "/sbin"
		}
		fmt.Fprintf(p.out, "%s/%s\n", dir, a)
	}
	return status
}

func cmdEnv(p *proc) int {
	for _, k := range []string{"USER", "HOME", "SHELL", "PATH", "PWD", "TERM", "HOSTNAME"} {
		fmt.Fprintf(p.out, "%s=%s\n", k, p.s.lookup(k))
	}
	return 0
}
