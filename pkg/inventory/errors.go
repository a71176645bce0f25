package inventory

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fleetd/fleetd/pkg/runner"
)

// Errors.
var (
	ErrNotFound = errors.New("no such device")
	ErrExists   = errors.New("device already exists")
	// ErrHostKeyUnknown: no key is pinned for the device and the site's policy
	// is strict; the key was recorded as pending for `fleetctl hostkey accept`.
	// The runner's own sentinel, so that its error classification applies.
	ErrHostKeyUnknown = runner.ErrHostKeyUnknown
	// ErrHostKeyMismatch: the device presented a key other than the pinned
	// one. Nothing may be sent to it.
	ErrHostKeyMismatch = runner.ErrHostKeyMismatch
)

// Problem is one thing wrong with one row (Line 0 when there is no file).
type Problem struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError carries every problem found, in file order.
type ValidationError struct {
	File     string    `json:"file,omitempty"`
	Problems []Problem `json:"problems"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}
