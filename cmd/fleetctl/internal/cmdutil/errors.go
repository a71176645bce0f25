package cmdutil

import (
	"errors"
	"fmt"
)

// Exit codes of docs/design.md. Only ExitCode (and the cli package calling it)
// turns errors into these numbers.
const (
	ExitOK        = 0
	ExitError     = 1
	ExitUsage     = 2
	ExitUnhealthy = 3 // the command worked but found unhealthy or unreachable devices
)

// FlagError is a usage mistake: bad flags, wrong arguments, conflicting
// options. It exits 2 and points at --help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitCodeError asks for a specific exit code after the command has already
// printed its results, e.g. ExitUnhealthy from diagnose or status. Nothing
// more is printed for it.
type ExitCodeError struct {
	Code   int
	Reason string // for logs and tests; not printed
}

func (e *ExitCodeError) Error() string { return fmt.Sprintf("exit %d: %s", e.Code, e.Reason) }

// ErrUnhealthy is returned by commands that found unhealthy or unreachable devices.
func ErrUnhealthy(reason string) error { return &ExitCodeError{Code: ExitUnhealthy, Reason: reason} }

// ErrSilent means the command already told the user what went wrong: exit 1
// without printing anything more.
var ErrSilent = errors.New("silent error")

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var (
		flagErr *FlagError
		exitErr *ExitCodeError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.As(err, &flagErr):
		return ExitUsage
	default:
		return ExitError
	}
}
