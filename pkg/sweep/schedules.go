package sweep

import (
	"github.com/fleetd/fleetd/pkg/api"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep/cron"
)

// ErrUnknownSchedule is returned for a schedule name not in the table.
var ErrUnknownSchedule = errors.New("unknown schedule")

// Audit actions of this package.
const (
	AuditScheduleEnable  = "schedule.enable"
	AuditScheduleDisable = "schedule.disable"
	TargetSchedule       = "schedule"
)

// Schedule is a schedule as stored, with its last and next run
// (`fleetctl schedule list`).
type Schedule = api.Schedule

// LastRun is the latest sweep a schedule started.
type LastRun = api.ScheduleLastRun

// Sync makes the table match the config: schedules are added, updated and
// removed. A run-time enable/disable survives unless the config changed its
// own enabled value since the last sync. Replicas syncing at once are
// serialised by a table lock.
func (s *Service) Sync(ctx context.Context) error {
	now := s.clock.Now().UTC()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE sweep_schedules IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		type stored struct {
			cron, tz            string
			enabled, cfgEnabled bool
		}
		have := map[string]stored{}
		rows, err := tx.Query(ctx, `SELECT name, cron, timezone, enabled, config_enabled FROM sweep_schedules`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			var st stored
			if err := rows.Scan(&n, &st.cron, &st.tz, &st.enabled, &st.cfgEnabled); err != nil {
				rows.Close()
				return err
			}
			have[n] = st
		}
		if err := rows.Err(); err != nil {
			return err
		}
		names := make([]string, 0, len(s.cfg.Schedules))
		for _, sc := range s.cfg.Schedules {
			names = append(names, sc.Name)
			tz := sc.Timezone
			if tz == "" {
				tz = "UTC"
			}
			sel, _ := json.Marshal(sc.Selector)
			old, exists := have[sc.Name]
			if !exists {
				if _, err := tx.Exec(ctx, `INSERT INTO sweep_schedules (name, cron, timezone, selector,
						create_remediation_requests, enabled, config_enabled, enabled_by, enabled_at, active_since)
					VALUES ($1, $2, $3, $4, $5, $6, $6, 'config', $7, $7)`,
					sc.Name, s.crons[sc.Name].String(), tz, sel, sc.CreateRemediationRequests, sc.Enabled, now); err != nil {
					return fmt.Errorf("add schedule %s: %w", sc.Name, err)
				}
				s.log.Info("schedule added", zap.String("schedule", sc.Name), zap.Bool("enabled", sc.Enabled))
				continue
			}
			enabled, by := old.enabled, ""
			if old.cfgEnabled != sc.Enabled {
				enabled, by = sc.Enabled, "config" // the config changed its mind: it wins
			}
			// New times, or switched back on: earlier slots were not meant
			// to run and must not be caught up.
			restart := old.cron != s.crons[sc.Name].String() || old.tz != tz || (!old.enabled && enabled)
			if _, err := tx.Exec(ctx, `UPDATE sweep_schedules SET cron = $2, timezone = $3, selector = $4,
					create_remediation_requests = $5, enabled = $6, config_enabled = $7,
					enabled_by = CASE WHEN $8 = '' THEN enabled_by ELSE $8 END,
					enabled_at = CASE WHEN $8 = '' THEN enabled_at ELSE $9 END,
					active_since = CASE WHEN $10 THEN $9 ELSE active_since END,
					updated_at = $9
				WHERE name = $1`,
				sc.Name, s.crons[sc.Name].String(), tz, sel, sc.CreateRemediationRequests, enabled, sc.Enabled,
				by, now, restart); err != nil {
				return fmt.Errorf("update schedule %s: %w", sc.Name, err)
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM sweep_schedules WHERE NOT (name = ANY($1))`, names)
		if err != nil {
			return fmt.Errorf("remove schedules no longer configured: %w", err)
		}
		if tag.RowsAffected() > 0 {
			s.log.Info("schedules removed from config were dropped", zap.Int64("count", tag.RowsAffected()))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync schedules from config: %w", err)
	}
	return nil
}

// scheduleSQL selects a schedule with its last run's status and counts
// (runs' building block: one query).
var scheduleSQL = func() string {
	lastRun, join := runs.SummarySQL("r", "s.last_run_id")
	return `SELECT s.name, s.cron, s.timezone, s.selector, s.enabled, s.enabled_by, s.enabled_at,
	s.create_remediation_requests, s.last_slot, s.last_run_id, s.last_run_at, s.last_error, ` + lastRun + `
		FROM sweep_schedules s ` + join
}()

func (s *Service) scanSchedule(row pgx.Row) (Schedule, error) {
	var sc Schedule
	var sel []byte
	var lastID *uuid.UUID
	var lastAt *time.Time
	var lr LastRun
	dest := []any{&sc.Name, &sc.Cron, &sc.Timezone, &sel, &sc.Enabled, &sc.EnabledBy, &sc.EnabledAt,
		&sc.CreateRemediationRequests, &sc.LastSlot, &lastID, &lastAt, &sc.LastError}
	if err := row.Scan(append(dest, runs.SummaryDest(&lr.Status, &lr.Summary)...)...); err != nil {
		return sc, err
	}
	_ = json.Unmarshal(sel, &sc.Selector)
	if lastID != nil && lastAt != nil {
		lr.ID, lr.StartedAt = *lastID, *lastAt
		sc.LastRun = &lr
	}
	if sc.Enabled {
		if c, err := cron.Parse(sc.Cron, sc.Timezone); err == nil {
			if next := c.Next(s.clock.Now()); !next.IsZero() {
				next = next.UTC()
				sc.NextRun = &next
			}
		}
	}
	return sc, nil
}

// List returns every schedule, by name.
func (s *Service) List(ctx context.Context) ([]Schedule, error) {
	rows, err := s.pool.Query(ctx, scheduleSQL+` ORDER BY s.name`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Schedule, error) { return s.scanSchedule(row) })
}

// Get returns one schedule.
func (s *Service) Get(ctx context.Context, name string) (Schedule, error) {
	sc, err := s.scanSchedule(s.pool.QueryRow(ctx, scheduleSQL+` WHERE s.name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, fmt.Errorf("%w %q", ErrUnknownSchedule, name)
	}
	if err != nil {
		return sc, fmt.Errorf("load schedule %s: %w", name, err)
	}
	return sc, nil
}

// SetEnabled enables or disables a schedule at run time, with an audit
// event. Enabling does not catch up on slots missed while disabled.
func (s *Service) SetEnabled(ctx context.Context, actor, name string, enabled bool) (Schedule, error) {
	now := s.clock.Now().UTC()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, `SELECT enabled FROM sweep_schedules WHERE name = $1 FOR UPDATE`, name).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w %q", ErrUnknownSchedule, name)
		}
		if err != nil {
			return err
		}
		if was == enabled {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE sweep_schedules SET enabled = $2, enabled_by = $3, enabled_at = $4,
				active_since = CASE WHEN $2 THEN $4 ELSE active_since END, updated_at = $4
			WHERE name = $1`, name, enabled, actor, now); err != nil {
			return err
		}
		action := AuditScheduleDisable
		if enabled {
			action = AuditScheduleEnable
		}
		return audit.Record(ctx, tx, audit.Event{Actor: actor, Action: action, TargetKind: TargetSchedule,
			Target: name, Details: map[string]any{"enabled": enabled}})
	})
	if errors.Is(err, ErrUnknownSchedule) {
		return Schedule{}, err
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("set schedule %s enabled=%v: %w", name, enabled, err)
	}
	s.log.Info("schedule changed", zap.String("schedule", name), zap.Bool("enabled", enabled), zap.String("actor", actor))
	return s.Get(ctx, name)
}
