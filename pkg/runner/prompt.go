package runner

import (
	"bytes"
	"regexp"
)

// shellState is where the interactive driver is. Levels map onto the first
// three; FXOS is the 4100/9300 chassis CLI the driver only passes through.
type shellState uint8

const (
	stateUnknown shellState = iota
	stateClish
	stateExpert
	stateRoot
	stateFXOS
)

func (s shellState) String() string {
	switch s {
	case stateClish:
		return "clish"
	case stateExpert:
		return "expert"
	case stateRoot:
		return "root"
	case stateFXOS:
		return "fxos"
	default:
		return "unknown"
	}
}

func stateOf(l Level) shellState {
	switch l {
	case LevelClish:
		return stateClish
	case LevelExpert:
		return stateExpert
	case LevelRoot:
		return stateRoot
	}
	return stateUnknown
}

// promptKind is what the last line of output is waiting for.
type promptKind uint8

const (
	promptNone promptKind = iota
	promptClish
	promptExpert
	promptRoot
	promptFXOS
	promptPassword // sudo or login password question
	promptPager    // a pager waiting for a key
)

func (k promptKind) state() shellState {
	switch k {
	case promptClish:
		return stateClish
	case promptExpert:
		return stateExpert
	case promptRoot:
		return stateRoot
	case promptFXOS:
		return stateFXOS
	}
	return stateUnknown
}

// Prompt regexes of docs/firepower.md §4 (with line breaks excluded from the path
// part, which only matters to callers passing more than one line), applied to the last line of output after
// BEL and ANSI sequences are stripped. They are compiled once; matching uses
// the []byte forms, which do not allocate.
var (
	reClish    = regexp.MustCompile(`^[\w.-]*> ?$`)
	reExpert   = regexp.MustCompile(`^[\w.-]{1,63}@[\w.-]+:[^$\n]*\$ ?$`)
	reRoot     = regexp.MustCompile(`^root@[\w.-]+:[^#\n]*# ?$`)
	reFXOS     = regexp.MustCompile(`^[\w.-]+(\([\w-]+\))?# ?$`)
	rePassword = regexp.MustCompile(`(?i)^(\[sudo\] )?password( for [\w.-]+)?: ?$`)
	rePager    = regexp.MustCompile(`^\s*(<--- More --->|--More--|-- More --)\s*$`)
)

// maxPromptLine bounds the line the detector looks at: prompts are short,
// and long lines are output.
const maxPromptLine = 256

// detectPrompt classifies the last line of cleaned output. A cheap check of
// the final character rejects almost every output chunk before any regex
// runs.
func detectPrompt(line []byte) promptKind {
	if len(line) == 0 || len(line) > maxPromptLine {
		return promptNone
	}
	end := len(line) - 1
	if line[end] == ' ' && end > 0 {
		end--
	}
	switch line[end] {
	case '>':
		if reClish.Match(line) {
			return promptClish
		}
	case '$':
		if reExpert.Match(line) {
			return promptExpert
		}
	case '#':
		// Root first: `root@host:~#` must not be read as an FXOS prompt (the
		// FXOS regex cannot match it, but the order keeps that obvious).
		if reRoot.Match(line) {
			return promptRoot
		}
		if reFXOS.Match(line) {
			return promptFXOS
		}
	case ':':
		if rePassword.Match(line) {
			return promptPassword
		}
	case '-':
		if rePager.Match(line) {
			return promptPager
		}
	}
	if bytes.Contains(line, []byte("More")) && rePager.Match(line) {
		return promptPager
	}
	return promptNone
}

// cleaner strips BEL, CR, other C0 controls and ANSI/VT escape sequences from
// terminal output, keeping its state across reads so a sequence split between
// two chunks is still removed. It works in place.
type cleaner struct {
	state  uint8
	oscLen int
}

const (
	clNormal uint8 = iota
	clEsc
	clCSI
	clOSC    // OSC/DCS/SOS/PM/APC string, until BEL or ESC \
	clOSCEsc // ESC seen inside a string
	clCharset
)

// maxOSC bounds an unterminated string sequence so a broken device cannot
// make the cleaner swallow all later output.
const maxOSC = 512

// clean appends the printable content of src to dst and returns it. dst may
// be src[:0]: the write index never passes the read index.
func (c *cleaner) clean(dst, src []byte) []byte {
	for _, b := range src {
		switch c.state {
		case clNormal:
			switch {
			case b == 0x1b:
				c.state = clEsc
			case b == '\n' || b == '\t' || b >= 0x20 && b != 0x7f:
				dst = append(dst, b)
			}
			// BEL, CR, BS, NUL, DEL and other controls are dropped.
		case clEsc:
			switch b {
			case '[':
				c.state = clCSI
			case ']', 'P', 'X', '^', '_':
				c.state, c.oscLen = clOSC, 0
			case '(', ')', '*', '+', '-', '.', '/', '#', '%':
				c.state = clCharset
			default:
				c.state = clNormal // two-byte sequence (ESC =, ESC >, ESC M, ...)
			}
		case clCSI:
			switch {
			case b >= 0x40 && b <= 0x7e:
				c.state = clNormal
			case b >= 0x20 && b <= 0x3f:
				// parameter or intermediate byte
			default:
				// Malformed: drop the sequence, keep the byte.
				c.state = clNormal
				if b == '\n' || b == '\t' || b >= 0x20 && b != 0x7f {
					dst = append(dst, b)
				}
			}
		case clOSC:
			c.oscLen++
			switch {
			case b == 0x07:
				c.state = clNormal
			case b == 0x1b:
				c.state = clOSCEsc
			case b == '\n' || c.oscLen > maxOSC:
				c.state = clNormal
				if b == '\n' {
					dst = append(dst, b)
				}
			}
		case clOSCEsc:
			c.state = clNormal
		case clCharset:
			c.state = clNormal
		}
	}
	return dst
}

// stripEcho removes the echoed command from the start of a command's output.
// The echo is matched ignoring whitespace and line breaks (terminals insert
// them when the command wraps), starting at one of the first lines (a device
// may repeat its prompt before echoing). If no echo is found the output is
// returned unchanged: some devices do not echo.
func stripEcho(out []byte, cmd string) []byte {
	if len(cmd) == 0 {
		return out
	}
	start := 0
	for range 3 {
		if end, ok := matchEcho(out[start:], cmd); ok {
			return out[start+end:]
		}
		nl := bytes.IndexByte(out[start:], '\n')
		if nl < 0 {
			break
		}
		start += nl + 1
	}
	return out
}

// matchEcho reports whether out starts with cmd (whitespace-insensitive) and
// returns the offset just past the echo line's newline.
func matchEcho(out []byte, cmd string) (int, bool) {
	i, j := 0, 0
	for j < len(cmd) {
		if isSpace(cmd[j]) {
			j++
			continue
		}
		for i < len(out) && (isSpace(out[i]) || out[i] == '\n') {
			i++
		}
		if i >= len(out) || out[i] != cmd[j] {
			return 0, false
		}
		i++
		j++
	}
	// The rest of the echo line may only be blanks.
	for i < len(out) && out[i] != '\n' {
		if !isSpace(out[i]) {
			return 0, false
		}
		i++
	}
	if i < len(out) {
		i++ // the newline
	}
	return i, true
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' }

// splitOutput returns a command's output from the cleaned text received
// after it was sent: without the echo, and without the final prompt line
// (promptLen bytes at the end).
func splitOutput(text []byte, cmd string, promptLen int) []byte {
	if promptLen > len(text) {
		promptLen = len(text)
	}
	body := text[:len(text)-promptLen]
	return stripEcho(body, cmd)
}
