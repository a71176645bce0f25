package runner

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// ErrorClass is the operator-facing category of a device failure. It is what
// `fleetctl diagnose` shows as the diagnosis of a device whose checks could
// not run.
type ErrorClass string

const (
	ClassNone            ErrorClass = ""
	ClassUnreachable     ErrorClass = "unreachable"
	ClassAuthFailed      ErrorClass = "auth-failed"
	ClassHostKeyMismatch ErrorClass = "hostkey-mismatch"
	ClassHostKeyUnknown  ErrorClass = "hostkey-unknown"
	ClassTimeout         ErrorClass = "timeout"
	ClassProtocol        ErrorClass = "protocol"
	// ClassAddressRefused: the device's address (or what its host name
	// resolved to) lies outside its site's allowed_networks; nothing was
	// sent, and it is not retried.
	ClassAddressRefused ErrorClass = "address-refused"
	// ClassCanceled marks a device whose work was abandoned because the
	// caller's context was cancelled (run cancelled, fleetd shutting down); it
	// says nothing about the device.
	ClassCanceled ErrorClass = "canceled"
)

// Sentinel errors. Errors returned by the runner wrap one of these (or a
// net/context error) so that errors.Is and Classify work on them.
var (
	// ErrHostKeyUnknown: no key is pinned for the device and the policy does
	// not allow pinning on first use. Nothing was sent to the device.
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrHostKeyMismatch: the device presented a key other than the pinned
	// one. The connection was closed before any secret or command was sent.
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrAuthFailed: SSH authentication was refused, or sudo refused the
	// password.
	ErrAuthFailed = errors.New("authentication failed")
	// ErrTimeout: a connect, handshake, command or session bound expired.
	ErrTimeout = errors.New("timed out")
	// ErrConnectionLost: the device closed the connection or the session
	// mid-way (drop, reboot).
	ErrConnectionLost = errors.New("connection lost")
	// ErrProtocol: the device did not behave as the session driver expects
	// (unexpected prompt or answer, exec refused, ...).
	ErrProtocol = errors.New("unexpected device behaviour")
	// ErrLevelUnavailable: the requested privilege level cannot be reached on
	// this device (e.g. clish on an FMC that lands in bash).
	ErrLevelUnavailable = errors.New("privilege level unavailable")
	// ErrOutputTruncated: a command's output exceeded MaxOutputPerCommand; the
	// output returned with it is the first MaxOutputPerCommand bytes.
	ErrOutputTruncated = errors.New("output truncated at cap")
	// ErrInvalidCommand: the command contains a line break or control
	// character and was not sent.
	ErrInvalidCommand = errors.New("invalid command")
	// ErrSessionBroken: an earlier failure (timeout, drop) left the session
	// unusable; no further command is sent on it.
	ErrSessionBroken = errors.New("session unusable after earlier failure")
	// ErrAddressRefused: the address to dial is outside the target's
	// AllowedNetworks. No connection was opened.
	ErrAddressRefused = errors.New("address outside the site's allowed networks")
)

// Classify maps an error returned by the runner (or by a Session function
// built on it) to its ErrorClass. Unrecognised non-nil errors are protocol
// errors: the device said something the caller could not use.
func Classify(err error) ErrorClass {
	if err == nil {
		return ClassNone
	}
	switch {
	case errors.Is(err, ErrAddressRefused):
		return ClassAddressRefused
	case errors.Is(err, ErrHostKeyMismatch):
		return ClassHostKeyMismatch
	case errors.Is(err, ErrHostKeyUnknown):
		return ClassHostKeyUnknown
	case errors.Is(err, ErrAuthFailed):
		return ClassAuthFailed
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.Is(err, ErrConnectionLost):
		return ClassUnreachable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	var de *dialError
	if errors.As(err, &de) && de.phase == phaseTCP {
		return ClassUnreachable // includes a jump host refusing to forward
	}
	if isNetworkFailure(err) {
		return ClassUnreachable
	}
	return ClassProtocol
}

// isNetworkFailure reports errors that mean "could not reach / keep reaching
// the device".
func isNetworkFailure(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &op), errors.As(err, &dns):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	return false
}

// isTransientDialError reports the connect failures worth retrying: refused,
// reset, and a TCP connect timeout. Never auth or host-key failures, and
// never a device that accepted TCP and then said nothing (a hang would only
// cost its timeout again).
func isTransientDialError(err error) bool {
	var de *dialError
	if !errors.As(err, &de) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var oce *ssh.OpenChannelError
	if de.phase == phaseTCP && errors.As(err, &oce) && oce.Reason == ssh.ConnectionFailed &&
		strings.Contains(strings.ToLower(oce.Message), "refused") {
		return true // refused behind a jump host
	}
	var ne net.Error
	if de.phase == phaseTCP && errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// A peer that closes or resets before its banner (sshd MaxStartups under
	// a burst) has not seen anything from us yet: safe to try again.
	return de.phase == phaseBanner && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
}

type dialPhase int

const (
	phaseTCP    dialPhase = iota // TCP connect (direct or through a jump host)
	phaseBanner                  // connected, before the host key was checked
	phaseAuth                    // host key accepted, authenticating
)

// dialError marks an error from establishing the connection, with the phase
// it happened in (retries and classification depend on it).
type dialError struct {
	phase dialPhase
	hop   string // device or jump host name
	err   error
}

func (e *dialError) Error() string {
	switch e.phase {
	case phaseTCP:
		return "connect " + e.hop + ": " + e.err.Error()
	case phaseBanner:
		return "ssh handshake with " + e.hop + ": " + e.err.Error()
	default:
		return "ssh auth to " + e.hop + ": " + e.err.Error()
	}
}

func (e *dialError) Unwrap() error { return e.err }
