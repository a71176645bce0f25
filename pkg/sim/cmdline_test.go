package sim

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	vars := func(n string) string { return map[string]string{"?": "1", "USER": "root"}[n] }
	type cmd = []string
	cases := []struct {
		line  string
		want  [][]cmd // items → pipeline commands → args
		ops   []string
		error string
	}{
		{line: "pmtool status | grep -E '^(SSEConnector|EventHandler) '",
			want: [][]cmd{{{"pmtool", "status"}, {"grep", "-E", "^(SSEConnector|EventHandler) "}}}, ops: []string{""}},
		{line: `echo "a $USER" 'b $USER' c\ d $?`, want: [][]cmd{{{"echo", "a root", "b $USER", "c d", "1"}}}, ops: []string{""}},
		{line: "a && b || c; d", want: [][]cmd{{{"a"}}, {{"b"}}, {{"c"}}, {{"d"}}}, ops: []string{"", "&&", "||", ";"}},
		{line: "curl -v x 2>&1 | grep y", want: [][]cmd{{{"curl", "-v", "x"}, {"grep", "y"}}}, ops: []string{""}},
		{line: "ls ;", want: [][]cmd{{{"ls"}}}, ops: []string{""}},
		{line: `echo ""`, want: [][]cmd{{{"echo", ""}}}, ops: []string{""}},
		{line: "# comment", want: nil},
		{line: "| grep x", error: "syntax error near unexpected token `|'"},
		{line: "ls |", error: "syntax error: unexpected end of file"},
		{line: "echo 'oops", error: "unexpected EOF while looking for matching `''"},
		{line: "cat <", error: "syntax error near unexpected token `newline'"},
	}
	for _, c := range cases {
		items, err := parseLine(c.line)
		if c.error != "" {
			require.EqualError(t, err, c.error, c.line)
			continue
		}
		require.NoError(t, err, c.line)
		var got [][]cmd
		var ops []string
		for _, it := range items {
			var pl []cmd
			for _, sc := range it.pipe.cmds {
				var args cmd
				for _, w := range sc.words {
					args = append(args, w.expand(vars))
				}
				pl = append(pl, args)
			}
			got = append(got, pl)
			ops = append(ops, it.op)
		}
		require.Equal(t, c.want, got, c.line)
		if c.ops != nil {
			require.Equal(t, c.ops, ops, c.line)
		}
	}
}

func TestBREToRE2(t *testing.T) {
	t.Parallel()
	cases := []struct {
		bre, line string
		match     bool
	}{
		{`EventHandler_SSEConnector.sock`, "x /ngfw/var/sf/run/EventHandler_SSEConnector.sock", true},
		{`^\(SSEConnector\|EventHandler\) `, "EventHandler (normal) - Running 1", true},
		{`(a)`, "(a)", true},
		{`(a)`, "a", false},
		{`a\{2\}`, "aa", true},
		{`*star`, "*star", true},
		{`[]x]`, "]", true},
		{`[[:digit:]]+`, "7+", true},
	}
	for _, c := range cases {
		re, err := regexp.Compile(breToRE2(c.bre))
		require.NoError(t, err, c.bre)
		require.Equal(t, c.match, re.MatchString(c.line), "%s on %q", c.bre, c.line)
	}
}

// FuzzParseLine: no command line may panic the parser or the grep pattern
// translation (a device CLI must survive anything typed at it).
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"pmtool status | grep -E '^(SSEConnector|EventHandler) '", `echo "$?" 'x' \`, "a && b || c ;; d",
		"curl -v https://x --max-time 5 2>&1 >/dev/null | grep -c y", "${", "$", `"\`, "2>&", "[[:", "\\(\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		items, err := parseLine(line)
		if err == nil {
			for _, it := range items {
				for _, c := range it.pipe.cmds {
					for _, w := range c.words {
						_ = w.expand(func(string) string { return "v" })
					}
				}
			}
		}
		_, _ = regexp.Compile(breToRE2(line))
		_, _ = parseGrepArgs("grep", []string{line, "-e"})
		_, _ = parseCurlArgs([]string{line, "-m"})
		_, _ = parseCurlURL(line)
	})
}

// fakeChannel is an ssh.Channel with no input whose output is dropped.
type fakeChannel struct{}

func (fakeChannel) Read([]byte) (int, error)                       { return 0, io.EOF }
func (fakeChannel) Write(p []byte) (int, error)                    { return len(p), nil }
func (fakeChannel) Close() error                                   { return nil }
func (fakeChannel) CloseWrite() error                              { return nil }
func (fakeChannel) Stderr() io.ReadWriter                          { return fakeStderr{} }
func (fakeChannel) SendRequest(string, bool, []byte) (bool, error) { return true, nil }

type fakeStderr struct{}

func (fakeStderr) Read([]byte) (int, error)    { return 0, io.EOF }
func (fakeStderr) Write(p []byte) (int, error) { return len(p), nil }

// FuzzShellLine types arbitrary lines at every level of a device: the CLI
// must answer anything without panicking.
func FuzzShellLine(f *testing.F) {
	for _, s := range append(diagnoseCommands, "show version", "sh ver", "expert", "sudo su -", "cd /etc/sf",
		"pmtool restartbyid sseconnector", "grep -e", "curl -m", "echo $? | wc -l", "sh -c 'sh -c \"echo x\"'",
		"stty cols 3", "PS1='\\u@\\h:\\w\\$ '", "ls -l /ngfw", "exit 3", "connect module 1 console") {
		f.Add(s)
	}
	fleet, err := NewFleet(FleetConfig{Count: 1, TimeScale: 1e-9, Clock: FixedClock(goldenTime)}, nil)
	if err != nil {
		f.Fatal(err)
	}
	d := fleet.Devices()[0]
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "reboot") || strings.Contains(line, "shutdown") ||
			strings.Contains(line, "sleep") || strings.Contains(line, "timeout") {
			return // reboots the device for real, or waits as long as asked
		}
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				panic(fmt.Sprintf("line %q hangs the CLI", line))
			}
		}()
		for _, lv := range []level{lvChassis, lvModule, lvClish, lvExpert, lvRoot} {
			cs := &connState{d: d, raw: nil, ctx: context.Background()}
			s := newShell(cs, fakeChannel{})
			s.setPTY(7, 5)
			s.frames = []frame{{lv: lvClish}, {lv: lv, cwd: "/root"}}
			out, errw := s.outputs()
			switch lv {
			case lvChassis:
				s.fxosCommand(context.Background(), "x "+line, out)
			case lvModule:
				s.moduleCommand(context.Background(), "x "+line, out)
			case lvClish:
				s.clishCommand(context.Background(), "x "+line, out)
			default:
				s.bash(context.Background(), line, out, errw)
			}
			_ = s.prompt
		}
	})
}
