package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// GetByID returns one device by its id. Work bound to an approval acts on
// the id it froze, never on whatever device holds the name now.
func (s *Store) GetByID(ctx context.Context, id string) (Device, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id::text = $1", id)
	if err != nil {
		return Device{}, fmt.Errorf("inventory: get device id %s: %w", id, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDevice)
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, fmt.Errorf("device id %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Device{}, fmt.Errorf("inventory: get device id %s: %w", id, err)
	}
	return d, nil
}
