// Package app builds fleetd's services from a validated config over one
// database pool: the composition that `fleetd serve` runs and that
// end-to-end tests reuse, so a test server is wired exactly like the real one.
// A new service is constructed in NewServices and exposed to the API in
// APIDeps; nothing else needs to know.
package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
)

// Services are fleetd's long-lived services.
type Services struct {
	Config    config.Config
	Pool      *pgxpool.Pool
	Log       *zap.Logger
	Inventory *inventory.Store
	Auth      *auth.Store
	// Queue only inserts jobs. fleetd serve builds the River client that
	// works them (cmd/fleetd/workers.go) and serves Runs and Remediation
	// built on that client instead; tests need no workers.
	Queue       *jobs.Client
	Runs        *runs.Service
	Remediation *remediate.Service
}

// NewServices builds every service and syncs the configured sites and
// credentials into the database. The pool must be migrated.
func NewServices(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *zap.Logger) (*Services, error) {
	if log == nil {
		log = zap.NewNop()
	}
	inv := inventory.NewStore(pool, inventory.CatalogFromConfig(cfg), log.Named("inventory"))
	stale, err := inv.SyncCatalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync sites and credentials from config: %w", err)
	}
	if len(stale) > 0 {
		log.Warn("sites or credentials removed from config are still used by devices; "+
			"fix the inventory or restore them in config", zap.Strings("names", stale))
	}
	queue, err := jobs.NewClient(pool, nil, jobs.Config{}, log)
	if err != nil {
		return nil, err
	}
	runSvc := runs.NewService(pool, queue, runs.InventorySource{Inventory: inv}, cfg.Jobs.MaxAttempts, log.Named("runs"))
	remSvc := remediate.NewService(pool, queue, remediate.InventorySource{DB: pool, Status: runSvc},
		remediate.ConfigFrom(cfg), nil, log.Named("remediate"))
	return &Services{Config: cfg, Pool: pool, Log: log, Inventory: inv, Auth: auth.NewStore(pool),
		Queue: queue, Runs: runSvc, Remediation: remSvc}, nil
}

// APIDeps is what the HTTP API serves.
func (s *Services) APIDeps() api.Deps {
	return api.Deps{
		Log:         s.Log,
		Config:      s.Config,
		DB:          s.Pool,
		Auth:        s.Auth,
		Inventory:   s.Inventory,
		Audit:       api.AuditFromDB(s.Pool),
		Runs:        s.Runs,
		Remediation: s.Remediation,
	}
}
