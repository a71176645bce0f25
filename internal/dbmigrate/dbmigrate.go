// Package dbmigrate applies fleetd's schema (migrations/*.sql through goose)
// and River's job-queue schema (rivermigrate) to a PostgreSQL database.
//
// Both are applied while holding one session-level advisory lock, so that
// several fleetd processes starting at once (replicas, `fleetd migrate up`
// racing `fleetd serve`) apply each migration exactly once: the first takes
// the lock and migrates, the others wait and then find nothing to do.
package dbmigrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/migrations"
)

// lockID is the advisory lock key for schema changes ("fleetd" in ASCII).
const lockID int64 = 0x666c65657464

// MigrationStatus is the state of one migration.
type MigrationStatus struct {
	Source    string     `json:"source"` // "fleetd" or "river"
	Version   int64      `json:"version"`
	Name      string     `json:"name"`
	Applied   bool       `json:"applied"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
}

// Up applies every pending migration, fleetd's first and then River's.
func Up(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()

	start := time.Now()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// Unlock on a context that outlives a cancelled caller, otherwise the
		// lock would be held until the pooled connection is closed.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID)
	}()
	if waited := time.Since(start); waited > time.Second {
		log.Info("waited for another process to finish migrating", zap.Duration("waited", waited))
	}

	provider, closeDB, err := newProvider(pool)
	if err != nil {
		return err
	}
	defer closeDB()
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate fleetd schema: %w", err)
	}
	for _, r := range results {
		log.Info("applied migration", zap.String("source", "fleetd"),
			zap.Int64("version", r.Source.Version), zap.String("file", r.Source.Path),
			zap.Duration("took", r.Duration))
	}

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrate river schema: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate river schema: %w", err)
	}
	for _, v := range res.Versions {
		log.Info("applied migration", zap.String("source", "river"),
			zap.Int("version", v.Version), zap.String("name", v.Name))
	}
	return nil
}

// Status lists fleetd's migrations and whether each is applied, then River's.
func Status(ctx context.Context, pool *pgxpool.Pool) ([]MigrationStatus, error) {
	provider, closeDB, err := newProvider(pool)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	sts, err := provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(sts))
	for _, s := range sts {
		st := MigrationStatus{Source: "fleetd", Version: s.Source.Version, Name: s.Source.Path,
			Applied: s.State == goose.StateApplied}
		if !s.AppliedAt.IsZero() {
			at := s.AppliedAt
			st.AppliedAt = &at
		}
		out = append(out, st)
	}

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("river migration status: %w", err)
	}
	applied := map[int]bool{}
	// Before River's first migration its table does not exist: all pending.
	if res, err := migrator.ExistingVersions(ctx); err == nil {
		for _, v := range res {
			applied[v.Version] = true
		}
	}
	for _, m := range migrator.AllVersions() {
		out = append(out, MigrationStatus{Source: "river", Version: int64(m.Version), Name: m.Name,
			Applied: applied[m.Version]})
	}
	return out, nil
}

// Pending reports whether any fleetd migration is not yet applied; fleetd
// serve uses it to refuse to run against a schema older than its code when
// migrations are disabled.
func Pending(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	sts, err := Status(ctx, pool)
	if err != nil {
		return false, err
	}
	for _, s := range sts {
		if !s.Applied {
			return true, nil
		}
	}
	return false, nil
}

func newProvider(pool *pgxpool.Pool) (*goose.Provider, func(), error) {
	db := stdlib.OpenDBFromPool(pool)
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		_ = db.Close()
		if errors.Is(err, goose.ErrNoMigrations) {
			return nil, nil, fmt.Errorf("migrations: no SQL files embedded: %w", err)
		}
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return provider, func() { _ = db.Close() }, nil
}
