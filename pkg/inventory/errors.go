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

// MaxProblems caps the problems a ValidationError lists: a file of 60,000
// bad rows would otherwise answer megabytes. Total still counts them all.
const MaxProblems = 100

// ValidationError carries the problems found, in file order: the first
// MaxProblems of them, and in Total how many there were.
type ValidationError struct {
	File     string    `json:"file,omitempty"`
	Problems []Problem `json:"problems"`
	// Total is the number of problems found (0 in a hand-built error means len(Problems)).
	Total int `json:"total"`
}

// newValidationError sorts probs into file order and keeps the first MaxProblems.
func newValidationError(file string, probs []Problem) *ValidationError {
	sortProblems(probs)
	e := &ValidationError{File: file, Problems: probs, Total: len(probs)}
	if len(probs) > MaxProblems {
		e.Problems = probs[:MaxProblems:MaxProblems]
	}
	return e
}

// Count is the number of problems found, listed or not.
func (e *ValidationError) Count() int { return max(e.Total, len(e.Problems)) }

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Count() == 1 && len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", e.Count())
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	if more := e.Count() - len(e.Problems); more > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", more)
	}
	return b.String()
}
