package remediate

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// StoredHashForTest recomputes a stored request's parameters hash the way
// Approve and the worker do (in the request's own params_version).
func StoredHashForTest(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID) (string, error) {
	r, err := loadRequest(ctx, pool, id, false)
	if err != nil {
		return "", err
	}
	devs, err := loadDevices(ctx, pool, id)
	if err != nil {
		return "", err
	}
	return recomputeHash(r, devs), nil
}
