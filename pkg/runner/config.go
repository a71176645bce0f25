package runner

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// RetryPolicy bounds the retries of transient connect errors (refused,
// reset, TCP connect timeout). Authentication and host-key failures are never
// retried.
type RetryPolicy struct {
	Attempts int           // total connection attempts per device, >= 1
	Base     time.Duration // first backoff; doubles each attempt, with jitter
	Max      time.Duration // backoff ceiling
}

// Config bounds the runner. Zero fields take the defaults of DefaultConfig,
// except StartRate, whose zero means unlimited (as runner.start_rate 0 does
// in fleetd's config file).
type Config struct {
	// MaxConcurrent caps sessions open at once across all sites; its
	// default is sized from memory and file descriptors (AutoMaxConcurrent).
	MaxConcurrent int
	// PerSite caps sessions open at once per site; sites not listed are only
	// bound by MaxConcurrent.
	PerSite map[string]int
	// StartRate is the number of new connections per second (all sites);
	// zero (or negative) means unlimited. StartBurst is the burst allowed
	// above it.
	StartRate  float64
	StartBurst int
	// ConnectTimeout bounds the TCP connect of each hop; HandshakeTimeout the
	// SSH key exchange plus authentication of each hop.
	ConnectTimeout   time.Duration
	HandshakeTimeout time.Duration
	// CommandTimeout bounds one prompt-to-prompt exchange. A command that
	// exceeds it leaves the device in an unknown state, so the session is
	// closed (timeout).
	CommandTimeout time.Duration
	// SessionTimeout is the hard bound on one device, from the first dial to
	// the last byte, retries included.
	SessionTimeout time.Duration
	// Keepalive is the interval of keepalive@openssh.com requests; a request
	// unanswered within the interval closes the connection. Negative disables.
	Keepalive time.Duration
	// ExitTimeout bounds each step of the clean exit at the end of a session.
	ExitTimeout time.Duration
	// MaxOutputPerCommand caps the output kept per command; MaxTranscript the
	// transcript kept per session.
	MaxOutputPerCommand int
	MaxTranscript       int
	Retry               RetryPolicy
	// AgentSocket is the ssh-agent socket for credentials with UseAgent
	// (cmd/ passes $SSH_AUTH_SOCK).
	AgentSocket string
	// ClientVersion is the SSH identification string; empty means the
	// x/crypto default.
	ClientVersion string
}

// DefaultConfig returns the defaults: sized for a few thousand devices per
// run on a small VM, with Cisco's own automation timeouts (15 s per expect)
// in mind. The settings fleetd's config file has (runner.*) default to the
// same values there; a test in internal/app holds the two together.
func DefaultConfig() Config {
	return Config{
		MaxConcurrent:       AutoMaxConcurrent(),
		StartRate:           500,
		StartBurst:          100,
		ConnectTimeout:      10 * time.Second,
		HandshakeTimeout:    15 * time.Second,
		CommandTimeout:      30 * time.Second,
		SessionTimeout:      2 * time.Minute,
		Keepalive:           15 * time.Second,
		ExitTimeout:         3 * time.Second,
		MaxOutputPerCommand: 512 << 10,
		MaxTranscript:       512 << 10,
		Retry:               RetryPolicy{Attempts: 2, Base: 2 * time.Second, Max: 5 * time.Second},
	}
}

// WithDefaults returns c with every zero field set to its default (StartRate
// excepted: zero is unlimited).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.MaxConcurrent, d.MaxConcurrent)
	setInt(&c.StartBurst, d.StartBurst)
	setDur(&c.ConnectTimeout, d.ConnectTimeout)
	setDur(&c.HandshakeTimeout, d.HandshakeTimeout)
	setDur(&c.CommandTimeout, d.CommandTimeout)
	setDur(&c.SessionTimeout, d.SessionTimeout)
	setDur(&c.Keepalive, d.Keepalive)
	setDur(&c.ExitTimeout, d.ExitTimeout)
	setInt(&c.MaxOutputPerCommand, d.MaxOutputPerCommand)
	setInt(&c.MaxTranscript, d.MaxTranscript)
	setInt(&c.Retry.Attempts, d.Retry.Attempts)
	setDur(&c.Retry.Base, d.Retry.Base)
	setDur(&c.Retry.Max, d.Retry.Max)
	return c
}

// Validate reports every invalid field of an already-defaulted config.
func (c Config) Validate() error {
	var errs []error
	if c.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("max_concurrent %d < 1", c.MaxConcurrent))
	}
	for site, n := range c.PerSite {
		if n < 1 {
			errs = append(errs, fmt.Errorf("per_site[%s] %d < 1", site, n))
		}
	}
	if math.IsNaN(c.StartRate) {
		errs = append(errs, errors.New("start_rate is NaN"))
	}
	if c.StartRate > 0 && c.StartBurst < 1 {
		errs = append(errs, fmt.Errorf("start_burst %d < 1", c.StartBurst))
	}
	for name, d := range map[string]time.Duration{
		"connect_timeout": c.ConnectTimeout, "handshake_timeout": c.HandshakeTimeout,
		"command_timeout": c.CommandTimeout, "session_timeout": c.SessionTimeout, "exit_timeout": c.ExitTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s must be > 0", name, d))
		}
	}
	if c.CommandTimeout > c.SessionTimeout {
		errs = append(errs, fmt.Errorf("command_timeout %s exceeds session_timeout %s", c.CommandTimeout, c.SessionTimeout))
	}
	if c.MaxOutputPerCommand < 1024 {
		errs = append(errs, fmt.Errorf("max_output_per_command %d < 1024", c.MaxOutputPerCommand))
	}
	if c.MaxTranscript < 1024 {
		errs = append(errs, fmt.Errorf("max_transcript %d < 1024", c.MaxTranscript))
	}
	if c.Retry.Attempts < 1 {
		errs = append(errs, fmt.Errorf("retry.attempts %d < 1", c.Retry.Attempts))
	}
	if c.Retry.Base < 0 || c.Retry.Max < c.Retry.Base {
		errs = append(errs, fmt.Errorf("retry backoff base %s / max %s invalid", c.Retry.Base, c.Retry.Max))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("runner config: %w", err)
	}
	return nil
}
