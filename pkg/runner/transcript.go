package runner

import (
	"bytes"
	"strings"
)

// transcript is the session text as the device showed it (cleaned of
// terminal control sequences), capped, plus the runner's own notes.
type transcript struct {
	buf       []byte
	max       int
	truncated bool
}

func (t *transcript) write(p []byte) {
	if t.truncated {
		return
	}
	room := t.max - len(t.buf)
	if len(p) > room {
		p = p[:room]
		t.truncated = true
	}
	t.buf = append(t.buf, p...)
}

// note adds a line from the runner itself (a timeout, a sent exec command).
func (t *transcript) note(s string) {
	if len(t.buf) > 0 && t.buf[len(t.buf)-1] != '\n' {
		t.write([]byte{'\n'})
	}
	t.write([]byte("[fleetd] " + s + "\n"))
}

// redactor replaces every secret the runner knows with [REDACTED].
type redactor struct {
	secrets [][]byte
	r       *strings.Replacer
}

func newRedactor(secrets []string) *redactor {
	rd := &redactor{}
	var pairs []string
	seen := map[string]bool{}
	for _, s := range secrets {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		rd.secrets = append(rd.secrets, []byte(s))
		pairs = append(pairs, s, redacted)
	}
	if len(pairs) > 0 {
		// strings.Replacer prefers, at each position, the pair listed first;
		// list longer secrets first so a secret containing another is
		// replaced whole.
		sortPairsByLength(pairs)
		rd.r = strings.NewReplacer(pairs...)
	}
	return rd
}

func sortPairsByLength(pairs []string) {
	for i := 2; i < len(pairs); i += 2 {
		for j := i; j >= 2 && len(pairs[j]) > len(pairs[j-2]); j -= 2 {
			pairs[j], pairs[j-2] = pairs[j-2], pairs[j]
			pairs[j+1], pairs[j-1] = pairs[j-1], pairs[j+1]
		}
	}
}

func (rd *redactor) contains(b []byte) bool {
	for _, s := range rd.secrets {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

// bytes returns b as a string with the secrets replaced.
func (rd *redactor) bytes(b []byte) string {
	if rd.r == nil || !rd.contains(b) {
		return string(b)
	}
	return rd.r.Replace(string(b))
}

func (rd *redactor) string(s string) string {
	if rd.r == nil {
		return s
	}
	return rd.r.Replace(s)
}

// capped returns b cut to max bytes, then redacted. The cut can leave the
// start of a secret at the very end; that prefix is redacted too. (Each
// replacement may lengthen the text by a few bytes.)
func (rd *redactor) capped(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	return rd.tail(rd.bytes(b))
}

// tail redacts a trailing partial secret (at least 3 bytes of one).
func (rd *redactor) tail(s string) string {
	for _, sec := range rd.secrets {
		for k := min(len(sec)-1, len(s)); k >= 3; k-- {
			if strings.HasSuffix(s, string(sec[:k])) {
				return s[:len(s)-k] + redacted
			}
		}
	}
	return s
}
