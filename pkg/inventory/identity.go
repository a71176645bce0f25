package inventory

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Identity is what makes a device the box it is: its row as it is now and
// the fingerprint of its pinned host key ("" when none is pinned). A
// remediation request freezes it and checks it again before every step.
type Identity struct {
	ID         uuid.UUID
	Name       string
	Site       string
	Kind       string
	Address    string
	Credential string
	HostKey    string
}

// IdentitiesByName returns the identities of the named devices, sorted by
// name; names not in the inventory are left out.
func (s *Store) IdentitiesByName(ctx context.Context, names []string) ([]Identity, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.name, d.site, d.kind, d.address, d.credential, coalesce(h.fingerprint, '')
		FROM devices d LEFT JOIN host_keys h ON h.device_id = d.id AND h.state = 'pinned' AND h.kind = 'ssh'
		WHERE d.name = ANY($1) ORDER BY d.name`, names)
	if err != nil {
		return nil, fmt.Errorf("look up devices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Identity, error) {
		var d Identity
		return d, row.Scan(&d.ID, &d.Name, &d.Site, &d.Kind, &d.Address, &d.Credential, &d.HostKey)
	})
	if err != nil {
		return nil, fmt.Errorf("look up devices: %w", err)
	}
	return out, nil
}

// CurrentIdentities returns, for each (id, name) in order, the device with
// that id or, when that id is gone, the device now holding the name (whose
// ID differs); nil when neither exists. One query whatever the number of
// devices.
func (s *Store) CurrentIdentities(ctx context.Context, ids []uuid.UUID, names []string) ([]*Identity, error) {
	if len(ids) != len(names) {
		return nil, fmt.Errorf("look up devices by id: %d ids but %d names", len(ids), len(names))
	}
	rows, err := s.pool.Query(ctx, `SELECT f.ord, d.id, d.name, d.site, d.kind, d.address, d.credential, d.host_key
		FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS f(id, name, ord)
		CROSS JOIN LATERAL (
			SELECT d.id, d.name, d.site, d.kind, d.address, d.credential, coalesce(h.fingerprint, '') AS host_key
			FROM devices d LEFT JOIN host_keys h ON h.device_id = d.id AND h.state = 'pinned' AND h.kind = 'ssh'
			WHERE d.id = f.id OR d.name = f.name ORDER BY (d.id = f.id) DESC LIMIT 1) d`, ids, names)
	if err != nil {
		return nil, fmt.Errorf("look up devices by id: %w", err)
	}
	out := make([]*Identity, len(ids))
	var ord int64
	var d Identity
	_, err = pgx.ForEachRow(rows, []any{&ord, &d.ID, &d.Name, &d.Site, &d.Kind, &d.Address, &d.Credential, &d.HostKey},
		func() error {
			if ord < 1 || int(ord) > len(out) {
				return fmt.Errorf("device lookup returned position %d of %d", ord, len(out))
			}
			live := d
			out[ord-1] = &live
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("look up devices by id: %w", err)
	}
	return out, nil
}
