package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/incident"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
)

// RefresherConfig tunes the database gauges' refresh.
type RefresherConfig struct {
	// Interval between refreshes (default 15s: a typical scrape interval).
	Interval time.Duration
	// Queues always reported (at zero when empty).
	Queues []string
	// Incidents are the thresholds the fleetd_incidents gauge counts with
	// (fleetd's incidents.*).
	Incidents incident.Config
}

// queueStates are the states of a job not yet finished.
var queueStates = []string{"available", "pending", "retryable", "running", "scheduled"}

// Refresher keeps the queue-depth and approvals gauges up to date from
// PostgreSQL. Every replica refreshes its own copy.
type Refresher struct {
	pool      *pgxpool.Pool
	m         *Metrics
	cfg       RefresherConfig
	log       *zap.Logger
	incidents *runs.Incidents
}

// DefaultRefreshInterval is RefresherConfig's Interval when unset; it is
// metrics.refresh_interval's default in fleetd's config file.
const DefaultRefreshInterval = 15 * time.Second

// NewRefresher returns a Refresher; call Run.
func NewRefresher(pool *pgxpool.Pool, m *Metrics, cfg RefresherConfig, log *zap.Logger) *Refresher {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultRefreshInterval
	}
	return &Refresher{pool: pool, m: m, cfg: cfg, log: log, incidents: runs.NewIncidents(pool, cfg.Incidents)}
}

// Snapshot is what one refresh read.
type Snapshot struct {
	Jobs             map[string]map[string]int // queue -> state -> count
	ApprovalsPending int
	Devices          []runs.SiteCount  // site, health
	Diagnoses        []runs.SiteCount  // site, diagnosis
	Incidents        map[[2]string]int // {kind, site} -> incidents
	Sweeps           []runs.LastSweep
}

// Run refreshes until ctx ends.
func (r *Refresher) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.RefreshOnce(ctx); err != nil && ctx.Err() == nil {
			r.m.refreshErrors.Inc()
			r.log.Warn("refreshing database metrics failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshOnce reads the database and sets the gauges.
func (r *Refresher) RefreshOnce(ctx context.Context) (Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	snap := Snapshot{Jobs: map[string]map[string]int{}}
	for _, q := range r.cfg.Queues {
		snap.Jobs[q] = map[string]int{}
		for _, s := range queueStates {
			snap.Jobs[q][s] = 0
		}
	}
	// The state filter uses River's (state, queue, ...) index: finished
	// jobs, which River keeps for a day, are not counted.
	rows, err := r.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled') GROUP BY 1, 2`)
	if err != nil {
		return snap, fmt.Errorf("count jobs: %w", err)
	}
	for rows.Next() {
		var q, s string
		var n int
		if err := rows.Scan(&q, &s, &n); err != nil {
			rows.Close()
			return snap, fmt.Errorf("count jobs: %w", err)
		}
		if snap.Jobs[q] == nil {
			snap.Jobs[q] = map[string]int{}
			for _, st := range queueStates {
				snap.Jobs[q][st] = 0
			}
		}
		snap.Jobs[q][s] = n
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("count jobs: %w", err)
	}
	if snap.ApprovalsPending, err = remediate.CountPendingApprovals(ctx, r.pool); err != nil {
		return snap, fmt.Errorf("count pending approvals: %w", err)
	}
	r.m.jobs.Reset()
	for q, states := range snap.Jobs {
		for s, n := range states {
			r.m.jobs.WithLabelValues(q, s).Set(float64(n))
		}
	}
	r.m.approvalsPending.Set(float64(snap.ApprovalsPending))
	return snap, r.refreshFleet(ctx, &snap)
}

// refreshFleet sets the fleet health gauges.
func (r *Refresher) refreshFleet(ctx context.Context, snap *Snapshot) error {
	var err error
	if snap.Devices, err = runs.HealthBySite(ctx, r.pool); err != nil {
		return err
	}
	if snap.Diagnoses, err = runs.DiagnosesBySite(ctx, r.pool); err != nil {
		return err
	}
	if snap.Sweeps, err = runs.LastSweeps(ctx, r.pool); err != nil {
		return err
	}
	res, err := r.incidents.Current(ctx)
	if err != nil {
		return err
	}
	snap.Incidents = map[[2]string]int{}
	for _, in := range res.Incidents {
		site := in.Site
		if site == "" {
			site = "multi"
		}
		snap.Incidents[[2]string{in.Kind, site}]++
	}
	// Reset first: a site whose last unhealthy device recovered, or an
	// incident that is resolved, must vanish rather than keep its value.
	r.m.fleetDevices.Reset()
	for _, c := range snap.Devices {
		r.m.fleetDevices.WithLabelValues(c.Site, c.Value).Set(float64(c.N))
	}
	r.m.fleetDiagnoses.Reset()
	for _, c := range snap.Diagnoses {
		r.m.fleetDiagnoses.WithLabelValues(c.Site, c.Value).Set(float64(c.N))
	}
	r.m.incidents.Reset()
	for k, n := range snap.Incidents {
		r.m.incidents.WithLabelValues(k[0], k[1]).Set(float64(n))
	}
	for _, s := range snap.Sweeps {
		r.m.sweepLastCompleted.WithLabelValues(s.Schedule).Set(float64(s.FinishedAt.Unix()))
		r.m.sweepLastUnhealthy.WithLabelValues(s.Schedule).Set(float64(s.NotHealthy))
		r.m.sweepLastDevices.WithLabelValues(s.Schedule).Set(float64(s.Devices))
	}
	return nil
}
