package remediate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fleetd/fleetd/pkg/runs"
)

// StatusLister gives the latest known health per device (runs.Service).
type StatusLister interface {
	Status(ctx context.Context, f runs.StatusFilter) ([]runs.DeviceStatus, error)
}

// InventorySource is the production DeviceSource: names are looked up in
// the inventory's devices table, and site/diagnosis selections come from the
// latest device status.
type InventorySource struct {
	DB     querier
	Status StatusLister
}

// DevicesByName implements DeviceSource. Each device comes with its
// identity as it is now (address, credential, pinned host key), which the
// request freezes.
func (s InventorySource) DevicesByName(ctx context.Context, names []string) ([]Device, error) {
	rows, err := s.DB.Query(ctx, `SELECT d.id, d.name, d.site, d.kind, d.address, d.credential, coalesce(h.fingerprint, '')
		FROM devices d LEFT JOIN host_keys h ON h.device_id = d.id AND h.state = 'pinned'
		WHERE d.name = ANY($1) ORDER BY d.name`, names)
	if err != nil {
		return nil, fmt.Errorf("look up devices: %w", err)
	}
	devs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Device, error) {
		var d Device
		return d, row.Scan(&d.ID, &d.Name, &d.Site, &d.Kind, &d.Address, &d.Credential, &d.HostKey)
	})
	if err != nil {
		return nil, fmt.Errorf("look up devices: %w", err)
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
