package sim

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// InventoryHeader is the header of the import format (docs/design.md).
var InventoryHeader = []string{"name", "kind", "site", "address", "credential", "tags", "managed_by"}

// WriteInventoryCSV writes the fleet in fleetctl's import format. FTDs are
// managed by an FMC of their site when the fleet has one (assignManagers).
func (f *Fleet) WriteInventoryCSV(w io.Writer, credential string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(InventoryHeader); err != nil {
		return fmt.Errorf("write inventory header: %w", err)
	}
	for _, d := range f.devices {
		managedBy := d.managedBy
		if err := cw.Write([]string{d.name, d.kind.InventoryKind(), d.site, d.inventoryAddress(), credential,
			d.Tags(), managedBy}); err != nil {
			return fmt.Errorf("write inventory row %s: %w", d.name, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write inventory: %w", err)
	}
	return nil
}

// inventoryAddress is the host alone on port 22, host:port otherwise.
func (d *Device) inventoryAddress() string {
	if d.Port() == 22 {
		return d.ip.String()
	}
	return net.JoinHostPort(d.ip.String(), strconv.Itoa(d.Port()))
}

// Tags are the inventory tags: model, version, simulator kind, sim=1 (and
// exec=1 for --exec fleets).
func (d *Device) Tags() string {
	tags := []string{"model=" + d.model.tag, "version=" + d.rel.version, "simkind=" + string(d.kind), "sim=1"}
	if d.fleet.cfg.Exec {
		tags = append(tags, "exec=1")
	}
	return strings.Join(tags, ";")
}

// WriteFingerprints writes "name SHA256:..." per device: the keys an
// operator would pin (HostKey, not a hostkey-changed device's new key).
func (f *Fleet) WriteFingerprints(w io.Writer) error {
	for _, d := range f.devices {
		if _, err := fmt.Fprintf(w, "%s %s\n", d.name, d.Fingerprint()); err != nil {
			return fmt.Errorf("write fingerprints: %w", err)
		}
	}
	return nil
}

// WriteKnownHosts writes an OpenSSH known_hosts file for the fleet.
func (f *Fleet) WriteKnownHosts(w io.Writer) error {
	for _, d := range f.devices {
		host := d.ip.String()
		if d.Port() != 22 {
			host = fmt.Sprintf("[%s]:%d", host, d.Port())
		}
		key := strings.TrimSpace(string(marshalAuthorizedKey(d.HostKey())))
		if _, err := fmt.Fprintf(w, "%s %s\n", host, key); err != nil {
			return fmt.Errorf("write known_hosts: %w", err)
		}
	}
	return nil
}
