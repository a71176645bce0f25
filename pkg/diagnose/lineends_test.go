package diagnose

import (
	"regexp"
	"strings"
	"testing"
)

// lineEnds replaced a regexp (\r+\n, then \r): it must give what it gave.
func TestLineEndsMatchesTheRegexp(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`\r+\n`)
	for _, s := range []string{"", "a", "\r", "\r\r", "\r\n", "\r\r\n", "a\rb", "a\r\r\nb\r", "\n\r\n\r", "x\r\r\ry\r\n\r\n"} {
		want := strings.ReplaceAll(re.ReplaceAllString(s, "\n"), "\r", "\n")
		if got := lineEnds(s); got != want {
			t.Errorf("%q: got %q want %q", s, got, want)
		}
	}
}
