package devicecheck

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
)

// Diagnoser is the runs.Diagnoser of production: it resolves a device,
// opens one SSH session through the runner, runs the check catalog at the
// root prompt, and assesses the result.
type Diagnoser struct {
	resolver Resolver
	runner   *runner.Runner
	api      APIChecker
	log      *zap.Logger
	now      func() time.Time
}

// APIChecker makes the REST checks (fmc.*) of an FMC next to its SSH
// checks (internal/targets.FMCs). It reports false when the device's REST
// API is not used (not an FMC, or its site has it off).
type APIChecker interface {
	Check(ctx context.Context, d inventory.Device, env diagnose.Env, ids []string, trace func(string)) ([]diagnose.CheckResult, bool)
}

// NewDiagnoser returns a Diagnoser; api nil makes no REST checks.
func NewDiagnoser(resolver Resolver, r *runner.Runner, api APIChecker, log *zap.Logger) *Diagnoser {
	return &Diagnoser{resolver: resolver, runner: r, api: api, log: log, now: time.Now}
}

// NotAnFMC is the summary of an fmc.* check asked of a device that is not
// an FMC whose REST API is used.
const NotAnFMC = "skipped: the fmc.* checks run on FMCs whose site has fmc_api.enabled"

// run makes the SSH checks and, on an FMC, the REST checks of one device.
// A check list naming only fmc.* checks opens no SSH session.
func (d *Diagnoser) run(ctx context.Context, res Resolved, checks []string) Result {
	sshIDs, restIDs := diagnose.SplitCheckIDs(checks)
	var r Result
	if sshIDs == nil || len(sshIDs) > 0 {
		r = Run(ctx, d.runner, res, sshIDs, d.now)
	} else {
		r = Result{StartedAt: d.now()}
	}
	var rest []diagnose.CheckResult
	ok := false
	if d.api != nil && res.Device.Kind == inventory.KindFMC && (restIDs == nil || len(restIDs) > 0) {
		dev := res.Device
		// The job's device row has no api_address: the FMC's own row does.
		if full, err := d.resolver.Resolve(ctx, dev.Name); err == nil {
			dev = full.Device
		}
		var lines []string
		rest, ok = d.api.Check(ctx, dev, res.Env, restIDs, func(l string) { lines = append(lines, l) })
		if len(lines) > 0 {
			r.Transcript += "\n--- FMC REST API ---\n" + strings.Join(lines, "\n") + "\n"
		}
	}
	if !ok {
		for _, id := range restIDs {
			rest = append(rest, diagnose.CheckResult{ID: id, Verdict: diagnose.VerdictSkip, Summary: NotAnFMC, Evidence: map[string]any{}})
		}
	}
	if len(rest) == 0 {
		return r
	}
	r.Checks = append(r.Checks, rest...)
	r.FinishedAt = d.now()
	if r.Err == nil {
		r.Assessment = diagnose.Assess(r.Checks)
	}
	return r
}

// Diagnose implements runs.Diagnoser.
func (d *Diagnoser) Diagnose(ctx context.Context, dev runs.Device, checks []string) runs.Outcome {
	start := d.now()
	var res Resolved
	var err error
	if dev.Address != "" {
		// The worker loaded the device with its job: no second query.
		res, err = d.resolver.ResolveDevice(inventory.Device{ID: dev.ID.String(), Name: dev.Name,
			Kind: inventory.Kind(dev.Kind), Site: dev.Site, Address: dev.Address, Credential: dev.Credential, Tags: dev.Tags})
		if err == nil {
			// nil when nothing was pinned: a first contact, which the
			// host-key store may then pin in a batch.
			ctx = WithPinnedHostKey(ctx, dev.Name, dev.PinnedHostKey)
		}
	} else {
		res, err = d.resolver.Resolve(ctx, dev.Name)
	}
	if err != nil {
		return runs.Outcome{Health: runs.HealthError, Diagnoses: []string{"error"}, Error: err.Error(),
			StartedAt: start, FinishedAt: d.now()}
	}
	r := d.run(ctx, res, checks)
	out := runs.Outcome{StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, LongestCommand: r.LongestCommand, Transcript: r.Transcript,
		SWVersion: diagnose.ParseSoftwareVersion(r.Transcript)}
	if r.Err != nil {
		out.Health = runs.HealthError
		out.Diagnoses = []string{r.ErrorClass()}
		out.Error = r.Err.Error()
		out.Transient = r.Class == runner.ClassUnreachable
		if len(r.Checks) > 0 {
			out.Checks, _ = json.Marshal(r.Checks)
		}
		return out
	}
	out.Health = string(r.Assessment.Health)
	out.Diagnoses = r.Assessment.Codes()
	out.Recommended = string(r.Assessment.Recommended)
	out.Checks, _ = json.Marshal(r.Checks)
	return out
}
