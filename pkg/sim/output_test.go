package sim

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// refTranslate is the terminal's translation one byte at a time, as
// termWriter did before it copied printable runs whole.
func refTranslate(col *int, cols int, pty bool, p []byte) []byte {
	var dst []byte
	for _, b := range p {
		switch {
		case b == '\n':
			if pty {
				dst = append(dst, '\r')
			}
			dst = append(dst, '\n')
			*col = 0
			continue
		case b == '\r':
			*col = 0
		case b < 0x20 || b == 0x7f || b&0xC0 == 0x80:
		default:
			if cols > 0 && *col >= cols {
				dst = append(dst, '\r', '\n')
				*col = 0
			}
			*col++
		}
		dst = append(dst, b)
	}
	return dst
}

func TestTermWriterTranslate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abc xyz-\n\r\t\x1b\x7f\xc3\xa9\xe2\x82\xac")
	for _, pty := range []bool{true, false} {
		for _, cols := range []int{0, 1, 2, 5, 80} {
			var c atomic.Int32
			c.Store(int32(cols))
			tw := &termWriter{pty: pty, cols: &c}
			refCol := 0
			for range 200 {
				p := make([]byte, r.IntN(40))
				for i := range p {
					p[i] = alphabet[r.IntN(len(alphabet))]
				}
				want := refTranslate(&refCol, map[bool]int{true: cols}[pty], pty, p)
				require.Equal(t, string(want), string(tw.translate(nil, p)), "pty=%v cols=%d %q", pty, cols, p)
				require.Equal(t, refCol, tw.col)
			}
		}
	}
}

func TestHeadTailLines(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = "ab\n"[r.IntN(3)]
		}
		text, n := string(b), r.IntN(6)
		lines := splitLines(text)
		head, tail := lines, lines
		if len(lines) > n {
			head, tail = lines[:n], lines[len(lines)-n:]
		}
		require.Equal(t, joinLines(head), headLines(text, n), "head -n %d %q", n, text)
		require.Equal(t, joinLines(tail), tailLines(text, n), "tail -n %d %q", n, text)
	}
}
