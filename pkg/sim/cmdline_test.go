package sim

import (
	"regexp"
	"testing"

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
	cases := []struct{ bre, line string; match bool }{
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
