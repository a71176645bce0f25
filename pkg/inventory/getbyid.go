package inventory

import "context"

// GetByID returns one device by its id. Work bound to an approval acts on
// the id it froze, never on whatever device holds the name now.
func (s *Store) GetByID(ctx context.Context, id string) (Device, error) {
	what := "device id " + id
	return s.getOne(ctx, "id::text = $1", id, what, what)
}
