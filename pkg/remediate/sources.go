package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runs"
)

// StatusLister gives the latest known health per device (runs.Service).
type StatusLister interface {
	Status(ctx context.Context, f runs.StatusFilter) ([]runs.DeviceStatus, error)
}

// IdentityStore is the part of the inventory remediation reads
// (pkg/inventory.Store).
type IdentityStore interface {
	IdentitiesByName(ctx context.Context, names []string) ([]inventory.Identity, error)
	CurrentIdentities(ctx context.Context, ids []uuid.UUID, names []string) ([]*inventory.Identity, error)
}

// InventorySource is the production DeviceSource: names are looked up in
// the inventory, and site/diagnosis selections come from the latest device
// status.
type InventorySource struct {
	Inventory IdentityStore
	Status    StatusLister
	// Results reads runs' results (a pool): from_run selections.
	Results runs.Querier
}

// DevicesRecommendedIn implements DeviceSource.
func (s InventorySource) DevicesRecommendedIn(ctx context.Context, run uuid.UUID, recommended string) ([]Device, error) {
	if s.Results == nil {
		return nil, fmt.Errorf("no run results source configured")
	}
	if _, err := runs.LoadHeader(ctx, s.Results, run); errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid("no run %s", run)
	} else if err != nil {
		return nil, fmt.Errorf("load run %s: %w", run, err)
	}
	rows, err := runs.DevicesRecommended(ctx, s.Results, run, recommended)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Device
	}
	return s.DevicesByName(ctx, names)
}

// DevicesByName implements DeviceSource. Each device comes with its
// identity as it is now (address, credential, pinned host key), which the
// request freezes.
func (s InventorySource) DevicesByName(ctx context.Context, names []string) ([]Device, error) {
	ids, err := s.Inventory.IdentitiesByName(ctx, names)
	if err != nil {
		return nil, err
	}
	devs := make([]Device, len(ids))
	for i, d := range ids {
		devs[i] = Device(d)
	}
	if len(devs) != len(names) {
		var unknown []string
		for _, n := range names {
			if !slices.ContainsFunc(devs, func(d Device) bool { return d.Name == n }) {
				unknown = append(unknown, n)
			}
		}
		return nil, invalid("unknown device(s): %s", strings.Join(unknown, ", "))
	}
	return devs, nil
}

// DevicesByStatus implements DeviceSource.
func (s InventorySource) DevicesByStatus(ctx context.Context, site, diagnosis string) ([]Device, error) {
	if s.Status == nil {
		return nil, fmt.Errorf("no device status source configured")
	}
	sts, err := s.Status.Status(ctx, runs.StatusFilter{Site: site, Diagnosis: diagnosis})
	if err != nil {
		return nil, err
	}
	if len(sts) == 0 {
		return nil, nil
	}
	names := make([]string, len(sts))
	for i, st := range sts {
		names[i] = st.Device
	}
	return s.DevicesByName(ctx, names)
}
