package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/queues"
)

// FMCSyncArgs is the periodic inventory sync from one site's FMCs
// (sites.X.fmc_api.sync_interval).
type FMCSyncArgs struct {
	Site string `json:"site"`
}

// Kind implements river.JobArgs.
func (FMCSyncArgs) Kind() string { return "fmc_sync" }

type fmcSyncWorker struct {
	river.WorkerDefaults[FMCSyncArgs]
	app *App
}

// Work implements river.Worker.
func (w *fmcSyncWorker) Work(ctx context.Context, job *river.Job[FMCSyncArgs]) error {
	_, err := w.app.SyncFMCs(ctx, job.Args.Site)
	return err
}

// SyncFMCs syncs the inventory from every FMC of site, as `fleetctl device
// sync --from FMC` does, as actor fleetd (pruning with fmc_api.sync_prune).
// One FMC failing does not stop the others; the errors are joined.
func (a *App) SyncFMCs(ctx context.Context, site string) ([]inventory.SyncPlan, error) {
	s, ok := a.Config.Sites[site]
	if !ok || !s.FMCAPI.Enabled {
		return nil, fmt.Errorf("fmc sync: site %q has no fmc_api enabled", site)
	}
	fmcs, err := a.Inventory.List(ctx, inventory.Filter{Site: site, Kind: inventory.KindFMC})
	if err != nil {
		return nil, err
	}
	var plans []inventory.SyncPlan
	var errs []error
	for _, d := range fmcs {
		dev, recs, err := a.FMCs.DeviceRecords(ctx, d.Name)
		if err == nil {
			var plan inventory.SyncPlan
			if plan, err = a.Inventory.Sync(ctx, inventory.SystemActor, dev, recs, inventory.SyncOptions{Prune: s.FMCAPI.SyncPrune}); err == nil {
				plans = append(plans, plan)
				continue
			}
		}
		a.Log.Warn("periodic sync from FMC failed", zap.String("device", d.Name), zap.String("site", site), zap.Error(err))
		errs = append(errs, fmt.Errorf("%s: %w", d.Name, err))
	}
	return plans, errors.Join(errs...)
}

// fmcSyncJobs are the periodic syncs of the sites that ask for one.
func fmcSyncJobs(cfg config.Config) []*river.PeriodicJob {
	var jobs []*river.PeriodicJob
	for _, name := range cfg.SiteNames() {
		a := cfg.Sites[name].FMCAPI
		if !a.Enabled || a.SyncInterval <= 0 {
			continue
		}
		site := name
		jobs = append(jobs, river.NewPeriodicJob(river.PeriodicInterval(a.SyncInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				return FMCSyncArgs{Site: site}, &river.InsertOpts{Queue: queues.Default, MaxAttempts: 1}
			}, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	return jobs
}
