package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/inventory"
)

// Fleet-wide counts for the Prometheus gauges (pkg/metrics): bounded by
// sites × health values and sites × diagnosis codes, never per device.

// SiteCount is a count of devices of one site with one value (a health or
// a diagnosis code).
type SiteCount struct {
	Site  string
	Value string
	N     int
}

// HealthBySite counts the inventory's devices by site and latest health
// ("unknown": never checked).
func HealthBySite(ctx context.Context, q Querier) ([]SiteCount, error) {
	return siteCounts(ctx, q, `SELECT d.site, coalesce(s.health, 'unknown'), count(*)
		FROM `+inventory.DevicesSQL("d")+` LEFT JOIN device_status s ON s.device_id = d.id GROUP BY 1, 2`)
}

// DiagnosesBySite counts the inventory's devices by site and diagnosis of
// their latest result (a device with two diagnoses counts under each).
func DiagnosesBySite(ctx context.Context, q Querier) ([]SiteCount, error) {
	return siteCounts(ctx, q, `SELECT d.site, dg, count(*)
		FROM `+inventory.DevicesSQL("d")+` JOIN device_status s ON s.device_id = d.id, unnest(s.diagnoses) dg GROUP BY 1, 2`)
}

func siteCounts(ctx context.Context, q Querier, sql string) ([]SiteCount, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("count devices: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SiteCount, error) {
		var c SiteCount
		return c, row.Scan(&c.Site, &c.Value, &c.N)
	})
}

// LastSweep is a schedule's latest completed sweep.
type LastSweep struct {
	Schedule   string
	FinishedAt time.Time
	Devices    int
	NotHealthy int // unhealthy or not checked
}

// LastSweeps returns, per schedule, its latest completed sweep.
func LastSweeps(ctx context.Context, q Querier) ([]LastSweep, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (schedule) schedule, finished_at, total, unhealthy + errors
		FROM runs WHERE kind = 'sweep' AND status = 'completed' AND schedule IS NOT NULL AND finished_at IS NOT NULL
		ORDER BY schedule, finished_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("last sweeps: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (LastSweep, error) {
		var s LastSweep
		return s, row.Scan(&s.Schedule, &s.FinishedAt, &s.Devices, &s.NotHealthy)
	})
}
