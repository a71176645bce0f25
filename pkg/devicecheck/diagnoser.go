package devicecheck

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

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
	log      *zap.Logger
	now      func() time.Time
}

// NewDiagnoser returns a Diagnoser.
func NewDiagnoser(resolver Resolver, r *runner.Runner, log *zap.Logger) *Diagnoser {
	return &Diagnoser{resolver: resolver, runner: r, log: log, now: time.Now}
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
	r := Run(ctx, d.runner, res, checks, d.now)
	out := runs.Outcome{StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Transcript: r.Transcript}
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
