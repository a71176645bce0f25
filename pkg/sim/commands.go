package sim

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The Linux tools of the expert/root shell.

func init() {
	for k, v := range map[string]command{
		"cat": cmdCat, "more": cmdCat, "less": cmdCat, "head": cmdHeadTail, "tail": cmdHeadTail,
		"wc": cmdWc, "ls": cmdLs, "grep": cmdGrep, "egrep": cmdGrep, "fgrep": cmdGrep,
		"curl": cmdCurl, "netstat": cmdNetstat, "lsof": cmdLsof, "pmtool": cmdPmtool, "ps": cmdPs,
		"reboot": cmdReboot, "shutdown": cmdShutdown, "sort": cmdSort, "uniq": cmdUniq,
	} {
		commands[k] = v
	}
}

// input returns the named files' contents or stdin, printing errors as
// the tool name does.
func (p *proc) input(files []string) (string, int) {
	if len(files) == 0 {
		return string(p.stdin), 0
	}
	if len(files) == 1 {
		// One file, as in every diagnose: its text as is, not copied
		// (connector.log is some 200 KB; issue 15).
		c, msg := p.s.readFile(files[0])
		if msg != "" {
			p.errf("%s: %s: %s\n", p.args[0], files[0], msg)
			return "", 1
		}
		return c, 0
	}
	var b strings.Builder
	status := 0
	for _, f := range files {
		c, msg := p.s.readFile(f)
		if msg != "" {
			p.errf("%s: %s: %s\n", p.args[0], f, msg)
			status = 1
			continue
		}
		b.WriteString(c)
	}
	return b.String(), status
}

func cmdCat(p *proc) int {
	var files []string
	for _, a := range p.args[1:] {
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
		}
	}
	text, status := p.input(files)
	if !p.s.latency(p.ctx, 5*time.Millisecond) {
		return 130
	}
	fmt.Fprint(p.out, text)
	return status
}

// cmdHeadTail is head/tail with -n N, -N and -nN.
func cmdHeadTail(p *proc) int {
	n := 10
	var files []string
	args := p.args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" && i+1 < len(args):
			v, err := strconv.Atoi(strings.TrimPrefix(args[i+1], "+"))
			if err != nil || v < 0 {
				p.errf("%s: invalid number of lines: '%s'\n", p.args[0], args[i+1])
				return 1
			}
			n = v
			i++
		case strings.HasPrefix(a, "-n") && len(a) > 2:
			v, err := strconv.Atoi(a[2:])
			if err != nil || v < 0 {
				p.errf("%s: invalid number of lines: '%s'\n", p.args[0], a[2:])
				return 1
			}
			n = v
		case strings.HasPrefix(a, "-") && len(a) > 1 && isDigits(a[1:]):
			n, _ = strconv.Atoi(a[1:])
		case a == "-f" || a == "-F" || a == "-q":
		case strings.HasPrefix(a, "-") && a != "-":
			p.errf("%s: invalid option -- '%s'\nTry '%s --help' for more information.\n", p.args[0], strings.TrimLeft(a, "-"), p.args[0])
			return 1
		default:
			files = append(files, a)
		}
	}
	text, status := p.input(files)
	if p.args[0] == "head" {
		text = headLines(text, n)
	} else {
		text = tailLines(text, n)
	}
	if !p.s.latency(p.ctx, 10*time.Millisecond) {
		return 130
	}
	_, _ = io.WriteString(p.out, text)
	return status
}

// headLines is joinLines(splitLines(text)[:n]) without splitting: a
// diagnose tails 200 lines of a 1000-line log (issue 15).
func headLines(text string, n int) string {
	if text == "" || n <= 0 {
		return ""
	}
	end := 0
	for i := 0; i < n; i++ {
		if end == len(text) {
			return text
		}
		j := strings.IndexByte(text[end:], '\n')
		if j < 0 {
			return text + "\n"
		}
		end += j + 1
	}
	return text[:end]
}

// tailLines is joinLines of splitLines(text)'s last n lines.
func tailLines(text string, n int) string {
	if text == "" || n <= 0 {
		return ""
	}
	body, nl := strings.CutSuffix(text, "\n")
	start := len(body)
	for i := 0; i < n; i++ {
		j := strings.LastIndexByte(body[:start], '\n')
		if j < 0 {
			start = 0
			break
		}
		start = j
		if i == n-1 {
			start = j + 1
		}
	}
	if nl {
		return text[start:]
	}
	return body[start:] + "\n"
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func splitLines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

func cmdWc(p *proc) int {
	var files []string
	onlyLines := false
	for _, a := range p.args[1:] {
		if a == "-l" {
			onlyLines = true
		} else if !strings.HasPrefix(a, "-") {
			files = append(files, a)
		}
	}
	text, status := p.input(files)
	lines := strings.Count(text, "\n")
	if onlyLines {
		fmt.Fprintln(p.out, lines)
	} else {
		fmt.Fprintf(p.out, "%7d %7d %7d\n", lines, len(strings.Fields(text)), len(text))
	}
	return status
}

func cmdLs(p *proc) int {
	long := false
	var targets []string
	for _, a := range p.args[1:] {
		if strings.HasPrefix(a, "-") {
			long = long || strings.Contains(a, "l")
			continue
		}
		targets = append(targets, a)
	}
	if len(targets) == 0 {
		targets = []string{"."}
	}
	status := 0
	for _, t := range targets {
		canon := p.s.resolvePath(t)
		if vf, ok := virtualFiles[canon]; ok {
			if long {
				fmt.Fprintf(p.out, "%s 1 root root %d Nov 12 10:01 %s\n", filePerm(vf), len(renderSafe(vf, p.s.d)), t)
			} else {
				fmt.Fprintln(p.out, t)
			}
			continue
		}
		if !isDir(canon) {
			p.errf("ls: cannot access '%s': No such file or directory\n", t)
			status = 2
			continue
		}
		if rootOnlyDir(canon) && !p.root {
			p.errf("ls: cannot open directory '%s': Permission denied\n", t)
			status = 2
			continue
		}
		names := p.s.listDir(canon)
		if !long {
			if len(names) > 0 {
				fmt.Fprintln(p.out, strings.Join(names, "  "))
			}
			continue
		}
		fmt.Fprintf(p.out, "total %d\n", len(names)*4)
		for _, n := range names {
			full := canon + "/" + n
			if canon == "/" {
				full = "/" + n
			}
			if vf, ok := virtualFiles[full]; ok {
				fmt.Fprintf(p.out, "%s 1 root root %d Nov 12 10:01 %s\n", filePerm(vf), len(renderSafe(vf, p.s.d)), n)
			} else {
				fmt.Fprintf(p.out, "drwxr-xr-x 2 root root 4096 Nov 12 10:01 %s\n", n)
			}
		}
	}
	return status
}

func filePerm(vf virtualFile) string {
	switch {
	case vf.special == "socket":
		return "srwxrwxrwx"
	case vf.rootOnly:
		return "-rw-------"
	}
	return "-rw-r--r--"
}

func renderSafe(vf virtualFile, d *Device) string {
	if vf.render == nil {
		return ""
	}
	return vf.render(d)
}

func cmdSort(p *proc) int {
	text, status := p.input(nonOptions(p.args[1:]))
	lines := splitLines(text)
	sort.Strings(lines)
	fmt.Fprint(p.out, joinLines(lines))
	return status
}

func cmdUniq(p *proc) int {
	count := false
	var files []string
	for _, a := range p.args[1:] {
		if a == "-c" {
			count = true
		} else if !strings.HasPrefix(a, "-") {
			files = append(files, a)
		}
	}
	text, status := p.input(files)
	lines := splitLines(text)
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		if count {
			fmt.Fprintf(p.out, "%7d %s\n", j-i, lines[i])
		} else {
			fmt.Fprintln(p.out, lines[i])
		}
		i = j
	}
	return status
}

func nonOptions(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
		}
	}
	return out
}

func cmdNetstat(p *proc) int {
	if !p.s.latency(p.ctx, 80*time.Millisecond) {
		return 130
	}
	if !p.root {
		p.errf("(Not all processes could be identified, non-owned process info\n will not be shown, you would have to be root to see it all.)\n")
	}
	fmt.Fprint(p.out, p.s.d.netstat(p.root))
	return 0
}

func cmdLsof(p *proc) int {
	if !p.s.latency(p.ctx, 250*time.Millisecond) {
		return 130
	}
	if !p.root {
		return 1 // lsof shows only the caller's processes: none with sockets
	}
	fmt.Fprint(p.out, p.s.d.lsof())
	return 0
}

func cmdPs(p *proc) int {
	fmt.Fprint(p.out, p.s.d.ps())
	return 0
}

const pmtoolUsage = `Usage: pmtool <command> [args]
  status                    show the status of all processes
  disablebyid <id>          disable a process
  enablebyid <id>           enable a process
  restartbyid <id>          restart a process
`

// pmProcesses are the ids pmtool knows, for case-insensitive matching.
var pmProcesses = []string{"SSEConnector", "EventHandler", "adi", "sfmbservice", "ngfwManager", "SFDataCorrelator", "sftunnel"}

func cmdPmtool(p *proc) int {
	if !p.root {
		p.errf("pmtool: must be run as root\n")
		return 1
	}
	if len(p.args) < 2 {
		fmt.Fprint(p.err, pmtoolUsage)
		return 1
	}
	d := p.s.d
	sub := strings.ToLower(p.args[1])
	if sub == "status" {
		if !p.s.latency(p.ctx, 120*time.Millisecond) {
			return 130
		}
		fmt.Fprint(p.out, d.pmtoolStatus())
		return 0
	}
	if sub != "disablebyid" && sub != "enablebyid" && sub != "restartbyid" {
		fmt.Fprint(p.err, pmtoolUsage)
		return 1
	}
	if len(p.args) < 3 {
		p.errf("pmtool: %s needs a process id\n", sub)
		return 1
	}
	id := ""
	for _, n := range pmProcesses {
		if strings.EqualFold(n, p.args[2]) {
			id = n
		}
	}
	if id == "" {
		p.errf("Unable to find process %s\n", p.args[2])
		return 1
	}
	if !p.s.latency(p.ctx, 300*time.Millisecond) {
		return 130
	}
	if id != "SSEConnector" {
		return 0 // the other processes are scenery
	}
	switch sub {
	case "disablebyid":
		d.disableConnector()
	case "enablebyid":
		d.enableConnector()
	case "restartbyid":
		d.restartConnector()
	}
	return 0
}

func cmdReboot(p *proc) int {
	if !p.root {
		p.errf("reboot: Need to be root\n")
		return 1
	}
	p.s.rebootNow(p.out)
	return 0
}

// cmdShutdown handles shutdown -r [now|+N]; a delay is scaled like every
// other device time.
func cmdShutdown(p *proc) int {
	if !p.root {
		p.errf("shutdown: Need to be root\n")
		return 1
	}
	reboot := false
	when := "now"
	for _, a := range p.args[1:] {
		switch {
		case a == "-r":
			reboot = true
		case a == "now" || strings.HasPrefix(a, "+"):
			when = a
		case a == "-h" || a == "-P":
			p.errf("shutdown: powering off is not simulated; use shutdown -r\n")
			return 1
		}
	}
	if !reboot {
		p.errf("shutdown: use shutdown -r to reboot\n")
		return 1
	}
	if when == "now" || when == "+0" {
		p.s.rebootNow(p.out)
		return 0
	}
	mins, err := strconv.Atoi(when[1:])
	if err != nil || mins < 0 {
		p.errf("shutdown: invalid time value \"%s\"\n", when)
		return 1
	}
	d := p.s.d
	fmt.Fprintf(p.out, "\nBroadcast message from root@%s (pts/0) (%s):\n\nThe system is going DOWN for reboot in %d minute(s)!\n",
		d.hostname, d.now().Format("Mon Jan  2 15:04:05 2006"), mins)
	time.AfterFunc(d.fleet.cfg.scaled(time.Duration(mins)*time.Minute), func() {
		if !d.fleet.isClosed() {
			d.Reboot()
		}
	})
	return 0
}
