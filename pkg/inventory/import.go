package inventory

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/audit"
)

// FieldChange is one field's old and new value; tags are rendered "k=v;k=v".
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Change is an existing device an import modifies.
type Change struct {
	Device string        `json:"device"`
	Fields []FieldChange `json:"fields"`
}

// Plan is what an import does (or, for a dry run, would do).
type Plan struct {
	DryRun    bool     `json:"dry_run"`
	Added     []Device `json:"added"`
	Changed   []Change `json:"changed"`
	Unchanged []string `json:"unchanged"`
}

// ImportFile parses and validates a CSV or YAML inventory, then imports it.
// Any invalid row makes it return a *ValidationError listing every problem,
// and nothing is written.
func (s *Store) ImportFile(ctx context.Context, actor, filename string, data []byte, dryRun bool) (Plan, error) {
	rows, err := Parse(filename, data, s.cat)
	if err != nil {
		return Plan{}, err
	}
	return s.importRows(ctx, actor, filepath.Base(filename), rows, dryRun)
}

// Import upserts rows by name in one transaction: new names are added,
// existing devices updated where a field differs, nothing is removed. Rows
// are validated again (a caller may have built them by hand); with dryRun the
// plan is computed and nothing is written.
func (s *Store) Import(ctx context.Context, actor string, rows []Row, dryRun bool) (Plan, error) {
	return s.importRows(ctx, actor, "", rows, dryRun)
}

func (s *Store) importRows(ctx context.Context, actor, file string, rows []Row, dryRun bool) (Plan, error) {
	ix := s.cat.index()
	var probs []Problem
	first := map[string]int{}
	names := make([]string, len(rows))
	for i := range rows {
		rows[i].Device = normalise(rows[i].Device)
		d := rows[i].Device
		probs = append(probs, validateDevice(d, ix, rows[i].Line)...)
		if prev, dup := first[d.Name]; dup {
			probs = append(probs, Problem{Line: rows[i].Line, Field: "name", Message: fmt.Sprintf("duplicate name %q (first on line %d)", d.Name, prev)})
		}
		first[d.Name] = rows[i].Line
		names[i] = d.Name
	}
	if len(probs) > 0 {
		return Plan{}, newValidationError(file, probs)
	}
	if len(rows) == 0 {
		return Plan{}, &ValidationError{File: file, Problems: []Problem{{Message: "no devices"}}}
	}
	if !dryRun {
		if err := s.ensureCatalog(ctx); err != nil {
			return Plan{}, err
		}
	}

	plan := Plan{DryRun: dryRun, Added: []Device{}, Changed: []Change{}, Unchanged: []string{}}
	errDryRun := errors.New("dry run") // rolls the transaction back
	err := s.write(ctx, func(tx pgx.Tx) error {
		byName, err := lockByName(ctx, tx, names)
		if err != nil {
			return err
		}

		var add, upd []Device
		for _, r := range rows {
			old, ok := byName[r.Device.Name]
			if !ok {
				add = append(add, r.Device)
				continue
			}
			want := r.Device
			if !r.HasTags {
				want.Tags = old.Tags
			}
			if !r.HasManagedBy {
				want.ManagedBy = old.ManagedBy
			}
			if !r.HasAPIAddress {
				want.APIAddress = old.APIAddress
			}
			// What a sync learnt from the FMC is not in an inventory file.
			want.Model, want.SWVersion, want.SyncedFrom = old.Model, old.SWVersion, old.SyncedFrom
			if ch := diff(old, want); len(ch) > 0 {
				plan.Changed = append(plan.Changed, Change{Device: want.Name, Fields: ch})
				upd = append(upd, want)
			} else {
				plan.Unchanged = append(plan.Unchanged, want.Name)
			}
		}
		if dryRun {
			plan.Added = append(plan.Added, add...)
			return errDryRun
		}

		if plan.Added, err = insertDevices(ctx, tx, actor, add); err != nil {
			return err
		}
		if err := updateDevices(ctx, tx, actor, upd); err != nil {
			return err
		}
		events := make([]audit.Event, 0, len(add)+len(upd))
		for _, d := range plan.Added {
			events = append(events, audit.Event{Actor: actor, Action: audit.ActionDeviceAdd, TargetKind: audit.TargetDevice,
				Target: d.Name, Details: map[string]any{"device": deviceDetails(d), "via": "import", "file": file}})
		}
		for _, c := range plan.Changed {
			events = append(events, audit.Event{Actor: actor, Action: audit.ActionDeviceUpdate, TargetKind: audit.TargetDevice,
				Target: c.Device, Details: map[string]any{"changes": changeDetails(c.Fields), "via": "import", "file": file}})
		}
		return audit.RecordMany(ctx, tx, events)
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return Plan{}, err
	}
	s.log.Info("inventory import",
		zap.String("actor", actor), zap.String("file", file), zap.Bool("dry_run", dryRun),
		zap.Int("added", len(plan.Added)), zap.Int("changed", len(plan.Changed)), zap.Int("unchanged", len(plan.Unchanged)))
	return plan, nil
}

// insertDevices adds devices in one statement and returns them as stored.
// actor is recorded as who set each address (the host-key two-person rule).
func insertDevices(ctx context.Context, tx pgx.Tx, actor string, devs []Device) ([]Device, error) {
	if len(devs) == 0 {
		return []Device{}, nil
	}
	cols := append(columnsOf(devs), actor)
	rows, err := tx.Query(ctx, `
		INSERT INTO devices (name, kind, site, address, credential, tags, managed_by, api_address, model, sw_version, synced_from, address_set_by)
		SELECT n, k, s, a, c, t::jsonb, m, api, mo, v, sf, $12
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[]) WITH ORDINALITY AS u(n, k, s, a, c, t, m, api, mo, v, sf, o)
		ORDER BY o
		RETURNING `+deviceColumns, cols...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, scanDevice)
	if err != nil {
		return nil, fmt.Errorf("insert devices: %w", err)
	}
	return out, nil
}

// updateDevices records actor as who set the address of each device whose
// address changes.
func updateDevices(ctx context.Context, tx pgx.Tx, actor string, devs []Device) error {
	if len(devs) == 0 {
		return nil
	}
	tag, err := tx.Exec(ctx, `
		UPDATE devices d SET kind = u.k, site = u.s, address = u.a, credential = u.c, tags = u.t::jsonb, managed_by = u.m,
			api_address = u.api, model = u.mo, sw_version = u.v, synced_from = u.sf, updated_at = now(),
			`+setAddressBy("u.a", "$12")+`
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[]) AS u(n, k, s, a, c, t, m, api, mo, v, sf)
		WHERE d.name = u.n`, append(columnsOf(devs), actor)...)
	if err != nil {
		return fmt.Errorf("update devices: %w", err)
	}
	if int(tag.RowsAffected()) != len(devs) {
		return fmt.Errorf("update devices: %d of %d rows updated", tag.RowsAffected(), len(devs))
	}
	return nil
}

// columnsOf turns devices into the eleven column arrays the bulk statements unnest.
func columnsOf(devs []Device) []any {
	n := len(devs)
	col := func() []string { return make([]string, n) }
	names, kinds, sites, addrs, creds, tags, mgr := col(), col(), col(), col(), col(), col(), col()
	api, model, version, from := col(), col(), col(), col()
	for i, d := range devs {
		names[i], kinds[i], sites[i], addrs[i], creds[i], mgr[i] = d.Name, string(d.Kind), d.Site, d.Address, d.Credential, d.ManagedBy
		tags[i] = tagsJSON(d.Tags)
		api[i], model[i], version[i], from[i] = d.APIAddress, d.Model, d.SWVersion, d.SyncedFrom
	}
	return []any{names, kinds, sites, addrs, creds, tags, mgr, api, model, version, from}
}

// diff lists the fields of want that differ from old, in column order.
func diff(old, want Device) []FieldChange {
	var ch []FieldChange
	cmp := func(field, o, n string) {
		if o != n {
			ch = append(ch, FieldChange{Field: field, Old: o, New: n})
		}
	}
	cmp("kind", string(old.Kind), string(want.Kind))
	cmp("site", old.Site, want.Site)
	cmp("address", old.Address, want.Address)
	cmp("credential", old.Credential, want.Credential)
	cmp("tags", FormatTags(old.Tags), FormatTags(want.Tags))
	cmp("managed_by", old.ManagedBy, want.ManagedBy)
	cmp("api_address", old.APIAddress, want.APIAddress)
	cmp("model", old.Model, want.Model)
	cmp("sw_version", old.SWVersion, want.SWVersion)
	cmp("synced_from", old.SyncedFrom, want.SyncedFrom)
	return ch
}

func changeDetails(ch []FieldChange) map[string]any {
	out := make(map[string]any, len(ch))
	for _, c := range ch {
		out[c.Field] = map[string]string{"old": c.Old, "new": c.New}
	}
	return out
}

// setAddressBy is the SET clause that records who changed a device's
// address and when, only when newAddr differs from the stored one (the
// right-hand side of an UPDATE sees the old row).
func setAddressBy(newAddr, actorParam string) string {
	return `address_set_by = CASE WHEN address IS DISTINCT FROM ` + newAddr + ` THEN ` + actorParam + ` ELSE address_set_by END,
			address_set_at = CASE WHEN address IS DISTINCT FROM ` + newAddr + ` THEN now() ELSE address_set_at END`
}

// lockByName loads and locks (FOR UPDATE) the devices of those names.
func lockByName(ctx context.Context, tx pgx.Tx, names []string) (map[string]Device, error) {
	q, err := tx.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE name = ANY($1::text[]) FOR UPDATE", names)
	if err != nil {
		return nil, err
	}
	existing, err := pgx.CollectRows(q, scanDevice)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]Device, len(existing))
	for _, d := range existing {
		byName[d.Name] = d
	}
	return byName, nil
}
