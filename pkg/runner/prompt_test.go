package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDetectPrompt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want promptKind
	}{
		{"> ", promptClish},
		{">", promptClish},
		{"Firepower-module1> ", promptClish},
		{"admin@lab-ftd-01:~$ ", promptExpert},
		{"admin@fmc:~$ ", promptExpert},
		{"admin@firepower:/var/log$ ", promptExpert},
		{"root@firepower:~# ", promptRoot},
		{"root@FTD-1:/Volume/home/admin# ", promptRoot},
		{"root@firepower:common#", promptRoot},
		{"firepower# ", promptFXOS},
		{"firepower(local-mgmt)# ", promptFXOS},
		{"Password: ", promptPassword},
		{"[sudo] password for admin: ", promptPassword},
		{"<--- More --->", promptPager},
		{"--More--", promptPager},
		// Output that must not be taken for a prompt.
		{"> GET / HTTP/1.1", promptNone},
		{"* Connection #0 to host x left intact", promptNone},
		{"<html>", promptNone},
		{"a > b", promptNone},
		{"unix 2 [ ACC ] STREAM LISTENING 382276 7741/EventHandler #", promptNone},
		{"Please enter 'YES' or 'NO': ", promptNone},
		{"", promptNone},
		{strings.Repeat("a", 300) + "> ", promptNone},
	} {
		require.Equal(t, tc.want, detectPrompt([]byte(tc.line)), "%q", tc.line)
	}
}

func TestCleanerStripsControlSequencesAcrossChunks(t *testing.T) {
	t.Parallel()
	raw := "\x1b[?2004h\x1b]0;admin@ftd: ~\x07admin@ftd:~$ \x1b[1mbold\x1b[0m\r\nbell\x07\r\n\x1b(Bcharset\x1b=keypad\x1bP dcs \x1b\\end\r\n"
	want := "admin@ftd:~$ bold\nbell\ncharsetkeypadend\n"
	// Every split point gives the same result: sequences cut between reads
	// are still removed.
	for i := 0; i <= len(raw); i++ {
		var c cleaner
		a := c.clean(nil, []byte(raw[:i]))
		b := c.clean(nil, []byte(raw[i:]))
		require.Equal(t, want, string(a)+string(b), "split at %d", i)
	}
}

func TestStripEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ out, cmd, want string }{
		{"echo hi\nhi\n", "echo hi", "hi\n"},
		{"hi\n", "echo hi", "hi\n"}, // no echo: nothing removed
		{"echo   hi  \nhi\n", "echo hi", "hi\n"},
		// A terminal that wrapped the echo (" \r" turned into " " and "\n").
		{"curl -v https://exam\nple.com\n* Trying\n", "curl -v https://example.com", "* Trying\n"},
		// A stray prompt line before the echo.
		{"\nroot@x:~# \necho a\na\n", "echo a", "a\n"},
		{"", "echo a", ""},
	} {
		require.Equal(t, tc.want, string(stripEcho([]byte(tc.out), tc.cmd)), "%q", tc.out)
	}
}

func TestSplitOutput(t *testing.T) {
	t.Parallel()
	text := "cat f\na=1\nb=2\nroot@x:~# "
	require.Equal(t, "a=1\nb=2\n", string(splitOutput([]byte(text), "cat f", len("root@x:~# "))))
	require.Equal(t, "", string(splitOutput([]byte("true\nroot@x:~# "), "true", len("root@x:~# "))))
}

func TestRedactor(t *testing.T) {
	t.Parallel()
	rd := newRedactor([]string{"Admin123", "Admin", "", "s3cr3t"})
	require.Equal(t, "pw [REDACTED] and [REDACTED]", rd.string("pw Admin123 and s3cr3t"))
	require.Equal(t, "[REDACTED] only", rd.bytes([]byte("Admin only")))
	// A cap that cuts a secret does not leave its beginning behind.
	require.Equal(t, "x [REDACTED]", rd.capped([]byte("x s3cr3t"), 6))
	require.Equal(t, "x [REDACTED]", rd.capped([]byte("x s3cr3t"), 5))
	require.Equal(t, "nothing here", rd.capped([]byte("nothing here"), 100))
}

// goldenTranscripts are pkg/sim's captured sessions, used as fuzz seeds.
func goldenTranscripts() []string {
	paths, _ := filepath.Glob(filepath.Join("..", "sim", "testdata", "*.golden"))
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

func FuzzDetectPrompt(f *testing.F) {
	for _, tr := range goldenTranscripts() {
		for _, line := range strings.Split(tr, "\n") {
			f.Add([]byte(line))
		}
	}
	for _, s := range []string{"> ", "admin@lab-ftd-01:~$ ", "root@firepower:~# ", "firepower(local-mgmt)# ", "Password: ",
		"> GET / HTTP/1.1", "<--- More --->", "root@FTD-1:/Volume/home/admin# "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		k := detectPrompt(line)
		if bytes.IndexByte(line, '\n') >= 0 && k != promptNone && k != promptPager {
			t.Fatalf("a multi-line string %q detected as a prompt %d", line, k)
		}
		if k == promptRoot && !bytes.HasPrefix(line, []byte("root@")) {
			t.Fatalf("%q taken for a root prompt", line)
		}
	})
}

// FuzzCleanerAndSplit drives the output path with arbitrary device text:
// cleaning in two chunks equals cleaning at once, the result holds no
// control bytes, and a command's output framed by its echo and a prompt
// comes back exactly.
func FuzzCleanerAndSplit(f *testing.F) {
	f.Add([]byte("\x1b[?2004hroot@firepower:~# "), "cat /ngfw/etc/sf/connector.properties", []byte("registration_interval=180\r\nconnector_port=8989\r\n"), 5)
	f.Add([]byte("> "), "show version", []byte("\x07Syntax error: Illegal parameter\r\n"), 3)
	f.Add([]byte("admin@fmc:~$ "), "curl -v https://est.sco.cisco.com", []byte("> GET / HTTP/1.1\r\n> \r\n< HTTP/1.1 403\r\n"), 17)
	for _, tr := range goldenTranscripts() {
		for cmd, out := range splitGolden(tr) {
			f.Add([]byte("root@firepower:~# "), cmd, []byte(strings.ReplaceAll(out, "\n", "\r\n")), len(out)/2)
		}
	}
	f.Fuzz(func(t *testing.T, prompt []byte, cmd string, body []byte, split int) {
		var whole cleaner
		all := whole.clean(nil, body)
		if split < 0 {
			split = -split
		}
		split %= len(body) + 1
		var parts cleaner
		got := parts.clean(nil, body[:split])
		got = parts.clean(got, body[split:])
		if !bytes.Equal(all, got) {
			t.Fatalf("chunked cleaning differs: %q vs %q", all, got)
		}
		for _, b := range all {
			if b < 0x20 && b != '\n' && b != '\t' || b == 0x7f {
				t.Fatalf("control byte 0x%02x survived in %q", b, all)
			}
		}
		// Frame a clean body as the device would show it.
		if validateCommand(cmd) != nil || strings.TrimSpace(cmd) == "" {
			return
		}
		var pc cleaner
		p := pc.clean(nil, prompt)
		if len(p) == 0 || bytes.IndexByte(p, '\n') >= 0 {
			return
		}
		if len(all) > 0 && all[len(all)-1] != '\n' {
			all = append(all, '\n')
		}
		// The splitter removes a first line equal to the command; a body that
		// itself starts with the command text is ambiguous by construction.
		if _, ok := matchEcho(all, cmd); ok {
			return
		}
		text := append(append(append([]byte(cmd), '\n'), all...), p...)
		out := splitOutput(text, cmd, len(p))
		if !bytes.Equal(out, all) {
			t.Fatalf("output %q, want %q", out, all)
		}
	})
}
