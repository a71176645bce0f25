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

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/jobs"
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
	// Queue is the River client Runs and Remediation insert jobs through.
	// NewServices starts with one that only inserts (tests need no
	// workers); fleetd serve builds the client that also works the jobs
	// (cmd/fleetd/workers.go) and switches to it with UseQueue.
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
	inv := inventory.NewStore(pool, InventoryCatalog(cfg), log.Named("inventory"))
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
	s := &Services{Config: cfg, Pool: pool, Log: log, Inventory: inv, Auth: auth.NewStore(pool)}
	s.UseQueue(queue)
	return s, nil
}

// UseQueue (re)builds the services that enqueue jobs on queue: the one place
// where Runs and Remediation are constructed.
func (s *Services) UseQueue(queue *jobs.Client) {
	s.Queue = queue
	s.Runs = runs.NewService(s.Pool, queue, runs.InventorySource{Inventory: s.Inventory}, s.Config.Jobs.MaxAttempts, s.Log.Named("runs"))
	s.Remediation = remediate.NewService(s.Pool, queue, remediate.InventorySource{Inventory: s.Inventory, Status: s.Runs},
		RemediationConfig(s.Config), nil, s.Log.Named("remediate"))
}

// APIDeps is what the HTTP API serves.
func (s *Services) APIDeps() apiserver.Deps {
	return apiserver.Deps{
		Log:         s.Log,
		Config:      s.Config,
		DB:          s.Pool,
		Auth:        s.Auth,
		Inventory:   s.Inventory,
		Audit:       apiserver.AuditFromDB(s.Pool),
		Runs:        s.Runs,
		Remediation: s.Remediation,
	}
}
