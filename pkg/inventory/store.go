package inventory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/audit"
)

// writeLock serialises inventory writers (imports, add, update, delete)
// across fleetd replicas, so that an import's plan is exactly what it writes.
const writeLock int64 = 0x666c6565_74640001 // "flee" "td" 0001

// Store is the inventory in PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	cat    Catalog
	log    *zap.Logger
	synced atomic.Bool
	pins   pinBatcher // PinOnFirstUse's queue
}

// NewStore returns a Store that validates rows against cat.
func NewStore(pool *pgxpool.Pool, cat Catalog, log *zap.Logger) *Store {
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{pool: pool, cat: cat, log: log}
}

// Catalog returns the sites and credentials rows may name.
func (s *Store) Catalog() Catalog { return s.cat }

// SyncCatalog writes the catalog's sites and credential references to the
// database (devices reference them), removes the ones no longer configured
// and no longer used, and returns those still used by devices, as
// "site:NAME" / "credential:NAME", so that fleetd can warn about them.
func (s *Store) SyncCatalog(ctx context.Context) ([]string, error) {
	var stale []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var names, regions, zones, policies []string
		for _, st := range s.cat.Sites {
			names, regions, zones, policies = append(names, st.Name), append(regions, st.Region), append(zones, st.Timezone), append(policies, st.HostKeyPolicy)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO sites (name, region, timezone, hostkey_policy)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
			ON CONFLICT (name) DO UPDATE SET region = EXCLUDED.region, timezone = EXCLUDED.timezone,
				hostkey_policy = EXCLUDED.hostkey_policy, updated_at = now()
			WHERE (sites.region, sites.timezone, sites.hostkey_policy) IS DISTINCT FROM
				(EXCLUDED.region, EXCLUDED.timezone, EXCLUDED.hostkey_policy)`,
			names, regions, zones, policies); err != nil {
			return fmt.Errorf("sync sites: %w", err)
		}
		var cnames, users, methods []string
		for _, c := range s.cat.Credentials {
			// Methods travel as one comma-joined string: pgx cannot bind a ragged text[][].
			cnames, users, methods = append(cnames, c.Name), append(users, c.Username), append(methods, strings.Join(c.Methods, ","))
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO credentials (name, username, methods)
			SELECT n, u, CASE WHEN m = '' THEN '{}'::text[] ELSE string_to_array(m, ',') END
			FROM unnest($1::text[], $2::text[], $3::text[]) AS x(n, u, m)
			ON CONFLICT (name) DO UPDATE SET username = EXCLUDED.username, methods = EXCLUDED.methods, updated_at = now()
			WHERE (credentials.username, credentials.methods) IS DISTINCT FROM (EXCLUDED.username, EXCLUDED.methods)`,
			cnames, users, methods); err != nil {
			return fmt.Errorf("sync credentials: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM sites WHERE name <> ALL($1::text[])
			AND NOT EXISTS (SELECT 1 FROM devices WHERE devices.site = sites.name)`, names); err != nil {
			return fmt.Errorf("prune sites: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			DELETE FROM credentials WHERE name <> ALL($1::text[])
			AND NOT EXISTS (SELECT 1 FROM devices WHERE devices.credential = credentials.name)`, cnames); err != nil {
			return fmt.Errorf("prune credentials: %w", err)
		}
		rows, err := tx.Query(ctx, `
			SELECT 'site:' || name FROM sites WHERE name <> ALL($1::text[])
			UNION ALL
			SELECT 'credential:' || name FROM credentials WHERE name <> ALL($2::text[])
			ORDER BY 1`, names, cnames)
		if err != nil {
			return fmt.Errorf("stale references: %w", err)
		}
		stale, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	s.synced.Store(true)
	if len(stale) > 0 {
		s.log.Warn("devices use sites or credentials that are no longer configured", zap.Strings("stale", stale))
	}
	return stale, nil
}

// ensureCatalog syncs once per Store before the first write, so that a
// caller who forgot SyncCatalog gets working foreign keys rather than errors.
func (s *Store) ensureCatalog(ctx context.Context) error {
	if s.synced.Load() {
		return nil
	}
	_, err := s.SyncCatalog(ctx)
	return err
}

// ListSites returns the sites in the database with their device counts.
func (s *Store) ListSites(ctx context.Context) ([]Site, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.name, s.region, s.timezone, s.hostkey_policy,
			(SELECT count(*) FROM devices d WHERE d.site = s.name)
		FROM sites s ORDER BY s.name`)
	if err != nil {
		return nil, fmt.Errorf("inventory: list sites: %w", err)
	}
	sites, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Site, error) {
		var st Site
		err := r.Scan(&st.Name, &st.Region, &st.Timezone, &st.HostKeyPolicy, &st.Devices)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: list sites: %w", err)
	}
	return sites, nil
}

// Filter narrows List. Zero fields do not filter; Tags must all match.
type Filter struct {
	Site  string
	Kind  Kind
	Tags  map[string]string
	Names []string
	After string // keyset paging: names greater than this
	Limit int    // 0 = no limit
}

const deviceColumns = `id::text, name, kind, site, address, credential, tags, managed_by, api_address, model, sw_version,
	synced_from, created_at, updated_at`

func scanDevice(r pgx.CollectableRow) (Device, error) {
	var d Device
	var kind string
	err := r.Scan(&d.ID, &d.Name, &kind, &d.Site, &d.Address, &d.Credential, &d.Tags, &d.ManagedBy, &d.APIAddress,
		&d.Model, &d.SWVersion, &d.SyncedFrom, &d.CreatedAt, &d.UpdatedAt)
	d.Kind = Kind(kind)
	if d.Tags == nil {
		d.Tags = map[string]string{}
	}
	return d, err
}

// List returns devices ordered by name. Each filter is index-backed
// (site/kind b-tree, tags GIN).
func (s *Store) List(ctx context.Context, f Filter) ([]Device, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Site != "" {
		where = append(where, "site = "+arg(f.Site))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(string(f.Kind)))
	}
	if len(f.Tags) > 0 {
		where = append(where, "tags @> "+arg(f.Tags)+"::jsonb")
	}
	if len(f.Names) > 0 {
		where = append(where, "name = ANY("+arg(f.Names)+"::text[])")
	}
	if f.After != "" {
		where = append(where, "name > "+arg(f.After))
	}
	q := "SELECT " + deviceColumns + " FROM devices"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY name"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("inventory: list devices: %w", err)
	}
	devs, err := pgx.CollectRows(rows, scanDevice)
	if err != nil {
		return nil, fmt.Errorf("inventory: list devices: %w", err)
	}
	return devs, nil
}

// Get returns one device by name.
func (s *Store) Get(ctx context.Context, name string) (Device, error) {
	return s.getOne(ctx, "name = $1", name, fmt.Sprintf("%q", name), fmt.Sprintf("device %q", name))
}

// getOne returns the one device matching where (with $1 = arg). Errors
// name the device as what, and as missing when it is not there.
func (s *Store) getOne(ctx context.Context, where string, arg any, what, missing string) (Device, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE "+where, arg)
	if err != nil {
		return Device{}, fmt.Errorf("inventory: get %s: %w", what, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDevice)
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, fmt.Errorf("%s: %w", missing, ErrNotFound)
	}
	if err != nil {
		return Device{}, fmt.Errorf("inventory: get %s: %w", what, err)
	}
	return d, nil
}

// Add creates a device.
func (s *Store) Add(ctx context.Context, actor string, d Device) (Device, error) {
	d = normalise(d)
	if err := ValidateDevice(d, s.cat); err != nil {
		return Device{}, err
	}
	if err := s.ensureCatalog(ctx); err != nil {
		return Device{}, err
	}
	var out Device
	err := s.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			INSERT INTO devices (name, kind, site, address, credential, tags, managed_by, address_set_by, api_address)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+deviceColumns,
			d.Name, string(d.Kind), d.Site, d.Address, d.Credential, d.Tags, d.ManagedBy, actor, d.APIAddress)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanDevice)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("device %q: %w", d.Name, ErrExists)
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Actor: actor, Action: audit.ActionDeviceAdd, TargetKind: audit.TargetDevice,
			Target: d.Name, Details: map[string]any{"device": deviceDetails(out)}})
	})
	if err != nil {
		return Device{}, err
	}
	return out, nil
}

// Update replaces a device's fields (matched by name) and returns what changed.
func (s *Store) Update(ctx context.Context, actor string, d Device) (Device, []FieldChange, error) {
	d = normalise(d)
	if err := ValidateDevice(d, s.cat); err != nil {
		return Device{}, nil, err
	}
	if err := s.ensureCatalog(ctx); err != nil {
		return Device{}, nil, err
	}
	var (
		out     Device
		changes []FieldChange
	)
	err := s.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE name = $1 FOR UPDATE", d.Name)
		if err != nil {
			return err
		}
		old, err := pgx.CollectExactlyOneRow(rows, scanDevice)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("device %q: %w", d.Name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		changes = diff(old, d)
		if len(changes) == 0 {
			out = old
			return nil
		}
		rows, err = tx.Query(ctx, `
			UPDATE devices SET kind = $2, site = $3, address = $4, credential = $5, tags = $6, managed_by = $7, updated_at = now(),
				api_address = $9, `+setAddressBy("$4", "$8")+`
			WHERE name = $1 RETURNING `+deviceColumns,
			d.Name, string(d.Kind), d.Site, d.Address, d.Credential, d.Tags, d.ManagedBy, actor, d.APIAddress)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectExactlyOneRow(rows, scanDevice); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Actor: actor, Action: audit.ActionDeviceUpdate, TargetKind: audit.TargetDevice,
			Target: d.Name, Details: map[string]any{"changes": changeDetails(changes)}})
	})
	if err != nil {
		return Device{}, nil, err
	}
	return out, changes, nil
}

// Delete removes a device (and, by cascade, its host keys).
func (s *Store) Delete(ctx context.Context, actor, name string) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "DELETE FROM devices WHERE name = $1 RETURNING "+deviceColumns, name)
		if err != nil {
			return err
		}
		old, err := pgx.CollectExactlyOneRow(rows, scanDevice)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("device %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return err
		}
		// The audit event keeps what was removed: the row itself is gone.
		return audit.Record(ctx, tx, audit.Event{Actor: actor, Action: audit.ActionDeviceDelete, TargetKind: audit.TargetDevice,
			Target: name, Details: map[string]any{"device": deviceDetails(old)}})
	})
}

// write runs fn in a transaction holding the inventory write lock.
func (s *Store) write(ctx context.Context, fn func(pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", writeLock); err != nil {
			return fmt.Errorf("lock inventory: %w", err)
		}
		return fn(tx)
	})
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) || errors.As(err, &ve) {
		return err
	}
	return fmt.Errorf("inventory: %w", err)
}

func normalise(d Device) Device {
	d.Name = strings.TrimSpace(d.Name)
	if k, err := ParseKind(string(d.Kind)); err == nil {
		d.Kind = k
	}
	d.Site, d.Address, d.Credential, d.ManagedBy = strings.TrimSpace(d.Site), strings.TrimSpace(d.Address), strings.TrimSpace(d.Credential), strings.TrimSpace(d.ManagedBy)
	d.APIAddress, d.Model, d.SWVersion = strings.TrimSpace(d.APIAddress), strings.TrimSpace(d.Model), strings.TrimSpace(d.SWVersion)
	if d.Tags == nil {
		d.Tags = map[string]string{}
	} else {
		d.Tags = maps.Clone(d.Tags)
	}
	return d
}

func deviceDetails(d Device) map[string]any {
	return map[string]any{
		"kind": string(d.Kind), "site": d.Site, "address": d.Address, "credential": d.Credential,
		"tags": FormatTags(d.Tags), "managed_by": d.ManagedBy, "api_address": d.APIAddress,
		"model": d.Model, "sw_version": d.SWVersion, "synced_from": d.SyncedFrom,
	}
}
