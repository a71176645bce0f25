package runs

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/inventory"
)

// DeviceLister is the part of the inventory a run selection needs.
type DeviceLister interface {
	List(ctx context.Context, f inventory.Filter) ([]inventory.Device, error)
}

// InventorySource resolves selectors against the inventory.
type InventorySource struct{ Inventory DeviceLister }

// SelectDevices implements DeviceSource.
func (s InventorySource) SelectDevices(ctx context.Context, sel Selector) ([]Device, error) {
	f := inventory.Filter{Site: sel.Site, Names: sel.Devices}
	if sel.Tag != "" {
		k, v, ok := strings.Cut(sel.Tag, "=")
		if !ok || k == "" {
			return nil, &SelectionError{Reason: fmt.Sprintf("tag %q: want k=v", sel.Tag)}
		}
		f.Tags = map[string]string{k: v}
	}
	devs, err := s.Inventory.List(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("select devices: %w", err)
	}
	if len(sel.Devices) > 0 {
		found := make(map[string]bool, len(devs))
		for _, d := range devs {
			found[d.Name] = true
		}
		var unknown []string
		for _, n := range sel.Devices {
			if !found[n] {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			return nil, &SelectionError{Unknown: unknown}
		}
	}
	out := make([]Device, len(devs))
	for i, d := range devs {
		id, err := uuid.Parse(d.ID)
		if err != nil {
			return nil, fmt.Errorf("device %s: bad id %q: %w", d.Name, d.ID, err)
		}
		out[i] = Device{ID: id, Name: d.Name, Site: d.Site, Kind: string(d.Kind)}
	}
	return out, nil
}
