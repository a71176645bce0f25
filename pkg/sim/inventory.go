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
var InventoryHeader = []string{"name", "kind", "site", "address", "credential", "tags", "managed_by", "api_address"}

// WriteInventoryCSV writes the fleet in fleetctl's import format. FTDs are
// managed by their FMC (ManagedBy); an FMC whose REST API is not on port
// 443 has an api_address.
func (f *Fleet) WriteInventoryCSV(w io.Writer, credential string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(InventoryHeader); err != nil {
		return fmt.Errorf("write inventory header: %w", err)
	}
	for _, d := range f.devices {
		apiAddr := ""
		if a := d.APIAddr(); a != "" && !f.cfg.NoAPI && d.api.port.Load() != 443 {
			apiAddr = a
		}
		if err := cw.Write([]string{d.name, d.kind.InventoryKind(), d.site, d.inventoryAddress(), credential,
			d.Tags(), d.ManagedBy(), apiAddr}); err != nil {
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
// operator would pin (HostKey, not a hostkey-changed device's new key),
// and for each FMC serving the REST API "name SHA256:... tls": its
// certificate's fingerprint.
func (f *Fleet) WriteFingerprints(w io.Writer) error {
	for _, d := range f.devices {
		if _, err := fmt.Fprintf(w, "%s %s\n", d.name, d.Fingerprint()); err != nil {
			return fmt.Errorf("write fingerprints: %w", err)
		}
		if d.api != nil && !f.cfg.NoAPI {
			if _, err := fmt.Fprintf(w, "%s %s tls\n", d.name, d.APIFingerprint()); err != nil {
				return fmt.Errorf("write fingerprints: %w", err)
			}
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
