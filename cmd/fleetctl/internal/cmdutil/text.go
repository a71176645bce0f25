package cmdutil

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
)

// FormatTags renders tags the way the inventory file spells them: k=v;k=v, sorted.
func FormatTags(tags map[string]string) string {
	keys := slices.Sorted(maps.Keys(tags))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	return strings.Join(parts, ";")
}

// FormatTime is local and short for people, RFC 3339 UTC when piped.
func FormatTime(ios *iostreams.IOStreams, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if ios.IsStdoutTTY() {
		return t.Local().Format("2006-01-02 15:04:05")
	}
	return t.UTC().Format(time.RFC3339)
}
