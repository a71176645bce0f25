package runs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/inventory"
)

// Reads for the web console's Fleet, Devices and Device pages. Each is one
// query that aggregates or pages in the database, so that a 10,000-device
// fleet never travels to the caller whole.

// SiteHealth counts one site's devices by latest health.
type SiteHealth struct {
	Site      string
	Healthy   int
	Unhealthy int
	Error     int
	Unknown   int
}

// Total is the site's device count.
func (s SiteHealth) Total() int { return s.Healthy + s.Unhealthy + s.Error + s.Unknown }

// DiagnosisCount is how many devices currently have one diagnosis.
type DiagnosisCount struct {
	Diagnosis   string
	Devices     int
	Recommended string // the most frequent recommendation of those devices
}

// Overview is the fleet at a glance.
type Overview struct {
	Sites        []SiteHealth     // by name
	TopDiagnoses []DiagnosisCount // most devices first
	LastChecked  *time.Time       // the latest check of any device
}

// FleetOverview counts every device's latest health per site and the
// most frequent diagnoses (at most topN).
func (s *Service) FleetOverview(ctx context.Context, topN int) (Overview, error) {
	var out Overview
	rows, err := s.pool.Query(ctx, `SELECT d.site,
			count(*) FILTER (WHERE st.health = 'healthy'),
			count(*) FILTER (WHERE st.health = 'unhealthy'),
			count(*) FILTER (WHERE st.health = 'error'),
			count(*) FILTER (WHERE st.health IS NULL),
			max(st.checked_at)
		FROM `+inventory.DevicesSQL("d")+` LEFT JOIN device_status st ON st.device_id = d.id
		GROUP BY d.site ORDER BY d.site`)
	if err != nil {
		return out, fmt.Errorf("fleet overview: %w", err)
	}
	for rows.Next() {
		var sh SiteHealth
		var last *time.Time
		if err := rows.Scan(&sh.Site, &sh.Healthy, &sh.Unhealthy, &sh.Error, &sh.Unknown, &last); err != nil {
			rows.Close()
			return out, fmt.Errorf("fleet overview: %w", err)
		}
		if last != nil && (out.LastChecked == nil || last.After(*out.LastChecked)) {
			out.LastChecked = last
		}
		out.Sites = append(out.Sites, sh)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("fleet overview: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT dg, count(*) AS n, mode() WITHIN GROUP (ORDER BY st.recommended)
		FROM device_status st, unnest(st.diagnoses) AS dg
		WHERE st.health <> 'healthy' AND `+inventory.DeviceExistsSQL("st.device_id")+`
		GROUP BY dg ORDER BY n DESC, dg LIMIT $1`, topN)
	if err != nil {
		return out, fmt.Errorf("fleet overview diagnoses: %w", err)
	}
	out.TopDiagnoses, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (DiagnosisCount, error) {
		var d DiagnosisCount
		return d, row.Scan(&d.Diagnosis, &d.Devices, &d.Recommended)
	})
	if err != nil {
		return out, fmt.Errorf("fleet overview diagnoses: %w", err)
	}
	return out, nil
}

// ScheduledRuns returns the latest runs that a sweep schedule started,
// newest first: the nightly history.
func (s *Service) ScheduledRuns(ctx context.Context, limit int) ([]Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs WHERE schedule IS NOT NULL AND schedule <> ''
		ORDER BY created_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("scheduled runs: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Run, error) { return scanRun(row) })
}

// Sort orders of a StatusQuery.
const (
	SortName    = "name"
	SortSite    = "site"
	SortHealth  = "health"
	SortChecked = "checked"
)

// StatusQuery is one page of device status, filtered and sorted.
type StatusQuery struct {
	StatusFilter
	Kind string
	Tag  string // k=v
	// Text matches the name, address or a diagnosis, case-insensitively.
	Text   string
	Sort   string // SortName (default), SortSite, SortHealth, SortChecked
	Desc   bool
	Limit  int // 1..1000, default 50
	Offset int
}

// StatusPage is a page of devices and how many match in all.
type StatusPage struct {
	Devices []DeviceStatus
	Total   int
}

// healthRank orders health worst first.
const healthRank = `CASE coalesce(st.health, 'unknown') WHEN 'error' THEN 0 WHEN 'unhealthy' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END`

// StatusPaged returns one page of the latest health per device.
func (s *Service) StatusPaged(ctx context.Context, q StatusQuery) (StatusPage, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Site != "" {
		where = append(where, "d.site = "+arg(q.Site))
	}
	if q.Kind != "" {
		where = append(where, "d.kind = "+arg(q.Kind))
	}
	if q.Health != "" {
		where = append(where, "coalesce(st.health, 'unknown') = "+arg(q.Health))
	}
	if q.Diagnosis != "" {
		where = append(where, "st.diagnoses @> ARRAY["+arg(q.Diagnosis)+"]::text[]")
	}
	if k, v, ok := strings.Cut(q.Tag, "="); ok {
		where = append(where, "d.tags @> "+arg(map[string]string{k: v})+"::jsonb")
	}
	if q.Text != "" {
		p := arg("%" + likeEscape(q.Text) + "%")
		where = append(where, "(d.name ILIKE "+p+" OR d.address ILIKE "+p+" OR array_to_string(st.diagnoses, ' ') ILIKE "+p+")")
	}
	order := map[string]string{SortName: "d.name", SortSite: "d.site", SortHealth: healthRank,
		SortChecked: "st.checked_at"}[q.Sort]
	if order == "" {
		order = "d.name"
	}
	dir := " ASC NULLS LAST"
	if q.Desc {
		dir = " DESC NULLS LAST"
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 50
	}
	from := ` FROM ` + inventory.DevicesSQL("d") + ` LEFT JOIN device_status st ON st.device_id = d.id`
	if len(where) > 0 {
		from += " WHERE " + strings.Join(where, " AND ")
	}
	filterArgs := len(args)
	sql := `SELECT d.name, d.site, d.kind, coalesce(st.health, 'unknown'), coalesce(st.diagnoses, '{}'),
			coalesce(st.recommended, ''), coalesce(st.error, ''), st.checked_at, st.run_id, count(*) OVER ()` + from +
		" ORDER BY " + order + dir + ", d.name LIMIT " + arg(q.Limit) + " OFFSET " + arg(max(q.Offset, 0))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return StatusPage{}, fmt.Errorf("device status page: %w", err)
	}
	var page StatusPage
	page.Devices, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeviceStatus, error) {
		var d DeviceStatus
		err := row.Scan(&d.Device, &d.Site, &d.Kind, &d.Health, &d.Diagnoses, &d.Recommended, &d.Error,
			&d.CheckedAt, &d.RunID, &page.Total)
		return d, err
	})
	if err != nil {
		return StatusPage{}, fmt.Errorf("device status page: %w", err)
	}
	if len(page.Devices) == 0 && q.Offset > 0 {
		// Past the end: the count comes with the rows, so ask for it alone.
		if err := s.pool.QueryRow(ctx, `SELECT count(*)`+from, args[:filterArgs]...).Scan(&page.Total); err != nil {
			return StatusPage{}, fmt.Errorf("device status count: %w", err)
		}
	}
	return page, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// DeviceRun is one device's result in one run, for its history.
type DeviceRun struct {
	RunID     uuid.UUID
	RunKind   string
	Schedule  string
	CreatedAt time.Time
	DeviceResult
}

// DeviceHistory returns the device's results across runs, newest first
// (at most limit).
func (s *Service) DeviceHistory(ctx context.Context, deviceID string, limit int) ([]DeviceRun, error) {
	id, err := uuid.Parse(deviceID)
	if err != nil {
		return nil, fmt.Errorf("device history: device id %q: %w", deviceID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT r.id, r.kind, coalesce(r.schedule, ''), r.created_at,
			rd.device, rd.site, rd.kind, rd.state, coalesce(rd.health, ''), rd.diagnoses, rd.recommended, rd.error,
			rd.attempts, rd.started_at, rd.finished_at
		FROM run_devices rd JOIN runs r ON r.id = rd.run_id
		WHERE rd.device_id = $1 ORDER BY r.created_at DESC LIMIT $2`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("device history: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeviceRun, error) {
		var d DeviceRun
		err := row.Scan(&d.RunID, &d.RunKind, &d.Schedule, &d.CreatedAt, &d.Device, &d.Site, &d.Kind, &d.State,
			&d.Health, &d.Diagnoses, &d.Recommended, &d.Error, &d.Attempts, &d.StartedAt, &d.FinishedAt)
		return d, err
	})
}
