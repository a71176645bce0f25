package diagnose

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Terminal output reaches the parsers in whatever state the session left it: possibly with BEL
// and ANSI sequences, CRLF line ends, the prompt and the echoed command, and long lines broken
// mid-word where the terminal wrapped them. The helpers here undo that so that each parser can
// match whole logical lines.

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]`)

// promptRE matches an expert or root prompt at the start of a line (optionally followed by the
// echoed command): such a line is never data.
var promptRE = regexp.MustCompile(`^[\w.-]{1,63}@[\w.-]+:[^\s#$]*\s?[#$](?:\s|$)`)

// cleanLines strips escape sequences and control characters and splits into lines. A lone
// carriage return is treated as a line break: it only appears where a program redrew a line,
// and splitting keeps every character for the parsers to see.
func cleanLines(s string) []string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansiRE.ReplaceAllString(s, "")
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f:
			return -1
		default:
			return r
		}
	}, s)
	return strings.Split(lineEnds(s), "\n")
}

// lineEnds turns every run of carriage returns ending in a newline into
// that newline ("\r\r\n" appears when output crosses two newline
// translations) and every other carriage return into a newline. A loop,
// not a regexp: it runs over every command's output (issue 15 profile).
func lineEnds(s string) string {
	i := strings.IndexByte(s, '\r')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] != '\r' {
			b = append(b, s[i])
			continue
		}
		j := i
		for j < len(s) && s[j] == '\r' {
			j++
		}
		if j < len(s) && s[j] == '\n' {
			i = j - 1 // the newline is copied next
			continue
		}
		for ; i < j; i++ {
			b = append(b, '\n')
		}
		i--
	}
	return string(b)
}

// isPrompt reports whether a line is a shell prompt (with or without an echoed command).
func isPrompt(line string) bool { return promptRE.MatchString(line) }

// minWrapWidth is the narrowest terminal assumed: a record shorter than this cannot have been
// wrapped, so a line after it is a line of its own. This is the only width the parsers rely on.
const minWrapWidth = 40

// joinWrapped rebuilds logical records from terminal lines. A line for which isStart is true
// begins a record; any other non-blank line continues the current record (the terminal wrapped
// it) and is appended with no separator, since wraps fall mid-word — unless the current record
// is shorter than minWrapWidth, in which case it cannot have wrapped and the line stands alone.
// Blank lines end a record; a prompt line (with its echoed command, wrapped or not) is dropped.
// Column widths are never used: a record is recognised by how it begins, and a terminal never
// wraps a line before its first minWrapWidth characters.
func joinWrapped(text string, isStart func(string) bool) []string {
	var (
		records []string
		cur     strings.Builder
		curLen  int // runes in cur, kept so that long records cost linear time
		open    bool
		prompt  bool // the current record is a prompt: dropped at flush
	)
	flush := func() {
		if open && !prompt {
			records = append(records, cur.String())
		}
		cur.Reset()
		curLen, open, prompt = 0, false, false
	}
	for _, line := range cleanLines(text) {
		switch {
		case line == "":
			// Only an empty line separates records: a wrap can leave a fragment that is a
			// single space.
			flush()
			continue
		case isPrompt(line):
			flush()
			open, prompt = true, true
		case !open || curLen < minWrapWidth || isStart(line):
			flush()
			open = true
		}
		cur.WriteString(line)
		curLen += utf8.RuneCountInString(line)
	}
	flush()
	return records
}

// messageRE matches a diagnostic printed by a tool ("cat: ...", "grep: ...", "bash: x: command
// not found"), which starts a record of its own.
var messageRE = regexp.MustCompile(`^[\w.-]+: `)

// commandProblem recognises output that says the command itself could not run, which makes a
// check's verdict error rather than a judgement of the device.
func commandProblem(text string) string {
	for _, line := range cleanLines(text) {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasSuffix(l, "command not found"),
			strings.HasPrefix(l, "Syntax error"),
			strings.Contains(l, "Unknown command"):
			return l
		}
	}
	return ""
}

// truncate keeps evidence strings short enough to store and display.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
