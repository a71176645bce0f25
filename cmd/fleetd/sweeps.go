package main

import (
	"context"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/metrics"
	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

// sweepParts are the scheduled sweeps, notifications and metrics of the
// backend: built before the River client (their workers and periodic jobs
// go into it) and bound to it afterwards.
type sweepParts struct {
	sweeps      *sweep.Service
	notify      *notify.Service
	metrics     *metrics.Metrics
	refresher   *metrics.Refresher
	log         *zap.Logger
	stopRefresh context.CancelFunc
	refreshDone sync.WaitGroup
}

func newSweepParts(cfg config.Config, pool *pgxpool.Pool, log *zap.Logger) (*sweepParts, error) {
	p := &sweepParts{metrics: metrics.New(), log: log}
	var err error
	if p.notify, err = notify.New(app.NotifyConfig(cfg, log), log.Named("notify")); err != nil {
		return nil, err
	}
	p.notify.Observe = p.metrics.WebhookDelivery
	if p.sweeps, err = sweep.New(pool, app.SweepConfig(cfg), nil, log.Named("sweep")); err != nil {
		return nil, err
	}
	p.refresher = metrics.NewRefresher(pool, p.metrics, app.MetricsRefresherConfig(cfg), log.Named("metrics"))
	return p, nil
}

func (p *sweepParts) addWorkers(w *river.Workers) {
	p.sweeps.AddWorkers(w)
	river.AddWorker(w, p.notify.Worker(nil))
}

// bind hands the parts the River client and the services built on it, and
// hooks run completion (metrics, sweep reports) into the recorder.
func (p *sweepParts) bind(b *backend) {
	p.notify.SetQueue(b.queue)
	var requests sweep.RequestCreator
	if b.remedy != nil {
		requests = remediationRequester{b.remedy}
	}
	p.sweeps.Bind(sweep.Deps{Runs: b.runs, Queue: b.queue, Notifier: p.notify, Requests: requests, Observer: p.metrics})
	prev := b.recorder.OnRecorded
	b.recorder.OnRecorded = func(results []runs.Result, completed []uuid.UUID) {
		if prev != nil {
			prev(results, completed)
		}
		p.metrics.ObserveResults(results)
		p.sweeps.RunsCompleted(completed)
	}
}

// start syncs the schedules from config (before the River client starts,
// so that its periodic jobs find them) and starts the metrics refresher.
func (p *sweepParts) start(ctx context.Context) error {
	if err := p.sweeps.Sync(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.stopRefresh = cancel
	p.refreshDone.Add(1)
	go func() { defer p.refreshDone.Done(); p.refresher.Run(rctx) }()
	return nil
}

func (p *sweepParts) stop() {
	if p.stopRefresh != nil {
		p.stopRefresh()
		p.refreshDone.Wait()
	}
}

// remediationRequester lets a sweep open restart-connector requests. They
// are pending: two-person approval applies as to any other request.
type remediationRequester struct{ svc *remediate.Service }

func (r remediationRequester) RequestRestart(ctx context.Context, requestedBy string, devices []string, reason string) (uuid.UUID, error) {
	req, err := r.svc.Create(ctx, remediate.Actor{Name: requestedBy, Role: "operator"},
		remediate.CreateRequest{Action: remediate.ActionRestartConnector, Devices: devices, Reason: reason})
	if err != nil {
		return uuid.Nil, err
	}
	return req.ID, nil
}
