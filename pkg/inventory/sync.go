package inventory

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/audit"
)

// ActionDeviceSync is the audit action of one sync from an FMC (its
// additions, changes and removals are device.add/update/delete events).
const ActionDeviceSync = "device.sync"

// SyncRecord is one FTD an FMC lists in devicerecords.
type SyncRecord struct {
	Name      string
	HostName  string // where the FTD is reached: its address
	Model     string
	SWVersion string
	Health    string
	Connected bool
}

// SyncOptions say what a sync may do. Credential is the SSH credential of
// added FTDs (and, when set, of every listed FTD); empty: an existing
// device keeps its own, a new one gets the FMC's.
type SyncOptions struct {
	DryRun     bool
	Prune      bool
	Credential string
}

// GoneDevice is a device synced from the FMC that the FMC no longer lists.
type GoneDevice struct {
	Device  string `json:"device"`
	Address string `json:"address"`
	// Hint says when an added device took its address (a rename on the FMC).
	Hint string `json:"hint,omitempty"`
}

// SyncPlan is what a sync does (or, for a dry run, would do).
type SyncPlan struct {
	FMC       string   `json:"fmc"`
	DryRun    bool     `json:"dry_run"`
	Prune     bool     `json:"prune"`
	Records   int      `json:"records"`
	Added     []Device `json:"added"`
	Changed   []Change `json:"changed"`
	Unchanged []string `json:"unchanged"`
	// Gone are the devices synced from this FMC it no longer lists; they
	// are removed only with Prune (then also listed in Removed).
	Gone    []GoneDevice `json:"gone"`
	Removed []string     `json:"removed"`
	// Disconnected are listed FTDs the FMC says it cannot reach.
	Disconnected []string `json:"disconnected"`
}

// Sync upserts the FTDs an FMC lists: kind ftd, the FMC's site, managed_by
// and synced_from the FMC, address, model and software version from the
// record; tags stay as they are. Devices synced from this FMC that it no
// longer lists are reported as gone and removed only with Prune; devices
// added by hand or synced from another FMC are never removed. Every record
// is validated as an import row is (a bad name or address is reported, with
// the others, and nothing is written); the whole sync is one transaction.
func (s *Store) Sync(ctx context.Context, actor string, fmc Device, recs []SyncRecord, opt SyncOptions) (SyncPlan, error) {
	if fmc.Kind != KindFMC {
		return SyncPlan{}, &ValidationError{Problems: []Problem{{Field: "from", Message: fmt.Sprintf("%s is a %s, not an FMC", fmc.Name, fmc.Kind)}}}
	}
	file := "devicerecords of " + fmc.Name
	plan := SyncPlan{FMC: fmc.Name, DryRun: opt.DryRun, Prune: opt.Prune, Records: len(recs), Added: []Device{},
		Changed: []Change{}, Unchanged: []string{}, Gone: []GoneDevice{}, Removed: []string{}, Disconnected: []string{}}
	names := make([]string, len(recs))
	for i, r := range recs {
		names[i] = r.Name
		if !r.Connected {
			plan.Disconnected = append(plan.Disconnected, r.Name)
		}
	}
	if !opt.DryRun {
		if err := s.ensureCatalog(ctx); err != nil {
			return SyncPlan{}, err
		}
	}
	errDryRun := errors.New("dry run")
	err := s.write(ctx, func(tx pgx.Tx) error {
		byName, err := lockByName(ctx, tx, names)
		if err != nil {
			return err
		}

		ix := s.cat.index()
		var probs []Problem
		first := map[string]int{}
		var add, upd []Device
		for i, r := range recs {
			line := i + 1 // the record's position in devicerecords
			old, exists := byName[r.Name]
			want := normalise(Device{Name: r.Name, Kind: KindFTD, Site: fmc.Site, Address: r.HostName,
				Credential: fmc.Credential, ManagedBy: fmc.Name, Model: r.Model, SWVersion: r.SWVersion, SyncedFrom: fmc.Name})
			if exists {
				want.Credential, want.Tags, want.APIAddress = old.Credential, maps.Clone(old.Tags), old.APIAddress
			}
			if opt.Credential != "" {
				want.Credential = opt.Credential
			}
			for _, p := range validateDevice(want, ix, line) {
				p.Message = fmt.Sprintf("%s (record %q)", p.Message, r.Name)
				probs = append(probs, p)
			}
			if prev, dup := first[r.Name]; dup {
				probs = append(probs, Problem{Line: line, Field: "name", Message: fmt.Sprintf("duplicate name %q (first as record %d)", r.Name, prev)})
			}
			first[r.Name] = line
			switch {
			case !exists:
				add = append(add, want)
			case old.Kind != KindFTD:
				probs = append(probs, Problem{Line: line, Field: "name", Message: fmt.Sprintf("%q is an %s of the inventory, not an FTD", r.Name, old.Kind)})
			case old.SyncedFrom != "" && old.SyncedFrom != fmc.Name:
				probs = append(probs, Problem{Line: line, Field: "name", Message: fmt.Sprintf("%q was synced from FMC %s; both list it", r.Name, old.SyncedFrom)})
			default:
				if ch := diff(old, want); len(ch) > 0 {
					plan.Changed = append(plan.Changed, Change{Device: want.Name, Fields: ch})
					upd = append(upd, want)
				} else {
					plan.Unchanged = append(plan.Unchanged, want.Name)
				}
			}
		}
		if len(probs) > 0 {
			return newValidationError(file, probs)
		}

		// Gone: synced from this FMC, no longer listed. Hand-added devices
		// (synced_from '') and other FMCs' devices are not candidates.
		q, err := tx.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE synced_from = $1 AND name <> ALL($2::text[]) ORDER BY name FOR UPDATE",
			fmc.Name, names)
		if err != nil {
			return err
		}
		gone, err := pgx.CollectRows(q, scanDevice)
		if err != nil {
			return err
		}
		addedAt := map[string]string{}
		for _, d := range add {
			addedAt[d.SSHAddr()] = d.Name
		}
		for _, d := range gone {
			g := GoneDevice{Device: d.Name, Address: d.Address}
			if n, ok := addedAt[d.SSHAddr()]; ok {
				g.Hint = "renamed on the FMC? " + n + " is new at its address"
			}
			plan.Gone = append(plan.Gone, g)
		}
		if opt.DryRun {
			plan.Added = append(plan.Added, add...)
			return errDryRun
		}

		if plan.Added, err = insertDevices(ctx, tx, actor, add); err != nil {
			return err
		}
		if err := updateDevices(ctx, tx, actor, upd); err != nil {
			return err
		}
		via := map[string]any{"via": "sync", "fmc": fmc.Name}
		with := func(m map[string]any) map[string]any {
			maps.Copy(m, via)
			return m
		}
		events := make([]audit.Event, 0, len(add)+len(upd)+len(gone)+1)
		for _, d := range plan.Added {
			events = append(events, audit.Event{Actor: actor, Action: audit.ActionDeviceAdd, TargetKind: audit.TargetDevice,
				Target: d.Name, Details: with(map[string]any{"device": deviceDetails(d)})})
		}
		for _, c := range plan.Changed {
			events = append(events, audit.Event{Actor: actor, Action: audit.ActionDeviceUpdate, TargetKind: audit.TargetDevice,
				Target: c.Device, Details: with(map[string]any{"changes": changeDetails(c.Fields)})})
		}
		if opt.Prune && len(gone) > 0 {
			ids := make([]string, len(gone))
			for i, d := range gone {
				ids[i] = d.ID
				plan.Removed = append(plan.Removed, d.Name)
				events = append(events, audit.Event{Actor: actor, Action: audit.ActionDeviceDelete, TargetKind: audit.TargetDevice,
					Target: d.Name, Details: with(map[string]any{"device": deviceDetails(d), "reason": "no longer listed by the FMC"})})
			}
			// Only the rows read above: synced from this FMC, locked.
			if _, err := tx.Exec(ctx, `DELETE FROM devices WHERE id = ANY($1::uuid[]) AND synced_from = $2`, ids, fmc.Name); err != nil {
				return fmt.Errorf("prune: %w", err)
			}
		}
		events = append(events, audit.Event{Actor: actor, Action: ActionDeviceSync, TargetKind: audit.TargetDevice, Target: fmc.Name,
			Details: map[string]any{"records": len(recs), "added": len(plan.Added), "changed": len(plan.Changed),
				"unchanged": len(plan.Unchanged), "gone": len(plan.Gone), "removed": len(plan.Removed), "prune": opt.Prune}})
		return audit.RecordMany(ctx, tx, events)
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return SyncPlan{}, err
	}
	s.log.Info("inventory sync from FMC", zap.String("actor", actor), zap.String("fmc", fmc.Name), zap.Bool("dry_run", opt.DryRun),
		zap.Bool("prune", opt.Prune), zap.Int("records", len(recs)), zap.Int("added", len(plan.Added)),
		zap.Int("changed", len(plan.Changed)), zap.Int("gone", len(plan.Gone)), zap.Int("removed", len(plan.Removed)))
	return plan, nil
}
