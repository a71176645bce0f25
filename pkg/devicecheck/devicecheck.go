// Package devicecheck runs the diagnose checks on one device in one runner
// session and assesses the result: the one "run the checks on a device" of
// fleetd. Diagnose runs use it through Diagnoser (a runs.Diagnoser);
// remediation's pre-check and verify call Run. Resolving a device (its
// credential, site and region) is the Resolver's, which fleetd's wiring
// provides (internal/targets).
package devicecheck

import (
	"context"
	"time"

	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
)

// Resolved is one device ready to be reached.
type Resolved struct {
	Device inventory.Device
	Target runner.Target
	Env    diagnose.Env
}

// Resolver turns an inventory device into what the runner and the checks
// need (internal/targets.Resolver).
type Resolver interface {
	// Resolve loads the device by name and resolves it.
	Resolve(ctx context.Context, name string) (Resolved, error)
	// ResolveDevice resolves an already loaded device.
	ResolveDevice(d inventory.Device) (Resolved, error)
}

// Result is what one check session found.
type Result struct {
	// Checks are the results of the checks that ran (some, when the
	// session failed part-way).
	Checks []diagnose.CheckResult
	// Assessment is the device's health; set only when Err is nil.
	Assessment diagnose.Assessment
	// Err is the session's error: the device could not be reached or a
	// command could not run at all. Class is the runner's class of it.
	Err   error
	Class runner.ErrorClass
	// Transcript is the session's (redacted) text.
	Transcript            string
	StartedAt, FinishedAt time.Time
	// LongestCommand is the session's longest command (runner.Timings.Longest).
	LongestCommand time.Duration
}

// ErrorClass is Class, or the class of Err when the runner gave none.
func (r Result) ErrorClass() string {
	if r.Class != "" {
		return string(r.Class)
	}
	return string(runner.Classify(r.Err))
}

// Run opens one session to the resolved device, runs the checks at the
// root prompt and assesses them. now nil means time.Now.
func Run(ctx context.Context, r *runner.Runner, res Resolved, checks []string, now func() time.Time) Result {
	if now == nil {
		now = time.Now
	}
	out := Result{StartedAt: now()}
	rr := r.Session(ctx, res.Target, func(ctx context.Context, s *runner.Session) error {
		env := res.Env
		env.Now = now()
		// The first failure to run a command at all (session dropped,
		// deadline, sudo refused) is the device's error: reported as
		// timeout/unreachable/auth-failed rather than as failing checks.
		var sessionErr error
		exec := diagnose.ExecutorFunc(func(ctx context.Context, cmd string) (string, error) {
			out, err := s.Run(ctx, runner.LevelRoot, cmd)
			if err != nil && sessionErr == nil {
				sessionErr = err
			}
			return out, err
		})
		out.Checks = diagnose.RunChecks(ctx, exec, env, checks)
		return sessionErr
	})
	out.FinishedAt, out.Transcript, out.LongestCommand = now(), rr.Transcript, rr.Timings.Longest
	if rr.Err != nil {
		out.Err, out.Class = rr.Err, rr.Class
		return out
	}
	out.Assessment = diagnose.Assess(out.Checks)
	return out
}
