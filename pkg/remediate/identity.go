package remediate

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/inventory"
)

// LiveDevice is a device as the inventory holds it now, with the
// fingerprint of its pinned host key ("" when none is pinned).
type LiveDevice = inventory.Identity

// DeviceIdentities tells the executor (and an approval) what the inventory
// says of frozen devices now, so that a device that is not the approved box
// any more is refused.
type DeviceIdentities interface {
	// CurrentDevices returns, for each frozen device in order, the
	// inventory row with its id or, when that id is gone, the row now
	// holding its name (whose ID differs); nil when neither exists.
	CurrentDevices(ctx context.Context, frozen []Device) ([]*LiveDevice, error)
}

// CurrentDevices implements DeviceIdentities on the inventory, in one
// query whatever the number of devices.
func (s InventorySource) CurrentDevices(ctx context.Context, frozen []Device) ([]*LiveDevice, error) {
	ids := make([]uuid.UUID, len(frozen))
	names := make([]string, len(frozen))
	for i, d := range frozen {
		ids[i], names[i] = d.ID, d.Name
	}
	return s.Inventory.CurrentIdentities(ctx, ids, names)
}

// identityChanges lists, in words, what differs between the device frozen
// into the request and the inventory now; empty means it is the same box,
// reached the same way. This is the one place the comparison is made.
func identityChanges(frozen Device, live *LiveDevice) []string {
	if live == nil {
		return []string{fmt.Sprintf("deleted from the inventory (id %s)", shortID(frozen.ID))}
	}
	var out []string
	if live.ID != frozen.ID {
		out = append(out, fmt.Sprintf("id %s → %s (deleted and re-added)", shortID(frozen.ID), shortID(live.ID)))
	}
	diff := func(what, was, now string) {
		if was != now {
			out = append(out, fmt.Sprintf("%s %s → %s", what, orNone(was), orNone(now)))
		}
	}
	diff("name", frozen.Name, live.Name)
	diff("site", frozen.Site, live.Site)
	diff("kind", frozen.Kind, live.Kind)
	diff("address", frozen.Address, live.Address)
	diff("credential", frozen.Credential, live.Credential)
	diff("host key", frozen.HostKey, live.HostKey)
	return out
}

func shortID(id uuid.UUID) string { return id.String()[:8] + "…" }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// refusalMessage is the device's outcome message when it is refused.
func refusalMessage(name string, changes []string, step string) string {
	msg := fmt.Sprintf("refused: device %s changed since approval: %s; ", name, strings.Join(changes, ", "))
	if step == "" || step == StepPrecheck {
		return msg + "nothing was sent"
	}
	return msg + "nothing more was sent after step " + step + " (the approved device may need a look)"
}

// ClassIdentityChanged is the error class of a device refused because it is
// not the approved box any more.
const ClassIdentityChanged = "identity-changed"
