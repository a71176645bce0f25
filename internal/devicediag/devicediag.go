// Package devicediag is the runs.Diagnoser of production: it resolves a
// device (internal/targets), opens one SSH session through the runner, runs
// the check catalog at the root prompt, and assesses the result.
package devicediag

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/targets"
	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
)

// Diagnoser implements runs.Diagnoser.
type Diagnoser struct {
	resolver *targets.Resolver
	runner   *runner.Runner
	log      *zap.Logger
	now      func() time.Time
}

// New returns a Diagnoser.
func New(resolver *targets.Resolver, r *runner.Runner, log *zap.Logger) *Diagnoser {
	return &Diagnoser{resolver: resolver, runner: r, log: log, now: time.Now}
}

// Diagnose implements runs.Diagnoser.
func (d *Diagnoser) Diagnose(ctx context.Context, dev runs.Device, checks []string) runs.Outcome {
	start := d.now()
	var res targets.Resolved
	var err error
	if dev.Address != "" {
		// The worker loaded the device with its job: no second query.
		res, err = d.resolver.ResolveDevice(inventory.Device{ID: dev.ID.String(), Name: dev.Name,
			Kind: inventory.Kind(dev.Kind), Site: dev.Site, Address: dev.Address, Credential: dev.Credential, Tags: dev.Tags})
		if err == nil && dev.PinnedHostKey != nil {
			ctx = targets.WithPinnedHostKey(ctx, dev.Name, dev.PinnedHostKey)
		}
	} else {
		res, err = d.resolver.Resolve(ctx, dev.Name)
	}
	if err != nil {
		return runs.Outcome{Health: runs.HealthError, Diagnoses: []string{"error"}, Error: err.Error(),
			StartedAt: start, FinishedAt: d.now()}
	}
	out, _ := d.Check(ctx, res, checks)
	return out
}

// Check runs the checks on a resolved device and returns the outcome and
// the raw check results (remediation's pre-check and verify use them).
func (d *Diagnoser) Check(ctx context.Context, res targets.Resolved, checks []string) (runs.Outcome, []diagnose.CheckResult) {
	start := d.now()
	var results []diagnose.CheckResult
	rr := d.runner.Session(ctx, res.Target, func(ctx context.Context, s *runner.Session) error {
		env := res.Env
		env.Now = d.now()
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
		results = diagnose.RunChecks(ctx, exec, env, checks)
		return sessionErr
	})
	out := runs.Outcome{StartedAt: start, FinishedAt: d.now(), Transcript: rr.Transcript}
	if rr.Err != nil {
		class := string(rr.Class)
		if class == "" {
			class = string(runner.Classify(rr.Err))
		}
		out.Health = runs.HealthError
		out.Diagnoses = []string{class}
		out.Error = rr.Err.Error()
		out.Transient = rr.Class == runner.ClassUnreachable
		if len(results) > 0 {
			out.Checks, _ = json.Marshal(results)
		}
		return out, results
	}
	a := diagnose.Assess(results)
	out.Health = string(a.Health)
	out.Diagnoses = a.Codes()
	out.Recommended = string(a.Recommended)
	out.Checks, _ = json.Marshal(results)
	return out, results
}
