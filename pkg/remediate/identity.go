package remediate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// LiveDevice is a device as the inventory holds it now, with the
// fingerprint of its pinned host key ("" when none is pinned).
type LiveDevice struct {
	ID         uuid.UUID
	Name       string
	Site       string
	Kind       string
	Address    string
	Credential string
	HostKey    string
}

// DeviceIdentities tells the executor what the inventory says of a frozen
// device now, so that it can refuse a device that is not the approved box.
type DeviceIdentities interface {
	// CurrentDevice returns the inventory row with the frozen id or, when
	// that id is gone, the row now holding the frozen name (its ID differs);
	// ok is false when neither exists.
	CurrentDevice(ctx context.Context, id uuid.UUID, name string) (dev LiveDevice, ok bool, err error)
}

// CurrentDevice implements DeviceIdentities on the inventory's tables.
func (s InventorySource) CurrentDevice(ctx context.Context, id uuid.UUID, name string) (LiveDevice, bool, error) {
	var d LiveDevice
	err := s.DB.QueryRow(ctx, `SELECT d.id, d.name, d.site, d.kind, d.address, d.credential, coalesce(h.fingerprint, '')
		FROM devices d LEFT JOIN host_keys h ON h.device_id = d.id AND h.state = 'pinned'
		WHERE d.id = $1 OR d.name = $2 ORDER BY (d.id = $1) DESC LIMIT 1`, id, name).
		Scan(&d.ID, &d.Name, &d.Site, &d.Kind, &d.Address, &d.Credential, &d.HostKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("look up device %s (id %s): %w", name, id, err)
	}
	return d, true, nil
}

// identityChanges lists, in words, what differs between the device frozen
// into the request and the inventory now; empty means it is the same box,
// reached the same way. This is the one place the comparison is made.
func identityChanges(frozen Device, live LiveDevice, ok bool) []string {
	if !ok {
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
