package runner

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// HostKeyPolicy says what to do with a device whose host key is not pinned
// yet. A key that differs from a pinned one is refused under every policy.
type HostKeyPolicy string

const (
	// HostKeyStrict (the default, also for the empty value) records an unknown
	// key as pending and refuses the connection until an operator accepts it.
	HostKeyStrict HostKeyPolicy = "strict"
	// HostKeyTOFU pins the key seen on first use.
	HostKeyTOFU HostKeyPolicy = "tofu"
)

func (p HostKeyPolicy) normalized() HostKeyPolicy {
	if p == "" {
		return HostKeyStrict
	}
	return p
}

// Valid reports whether p is a known policy (the empty value means strict).
func (p HostKeyPolicy) Valid() bool {
	switch p.normalized() {
	case HostKeyStrict, HostKeyTOFU:
		return true
	}
	return false
}

// JumpHost is one hop of a ProxyJump chain. Its host key is pinned under Name
// like a device's.
type JumpHost struct {
	Name          string
	Addr          string // host or host:port; default port 22
	Credential    Credential
	HostKeyPolicy HostKeyPolicy
}

// Target is one device to reach, with everything resolved by the caller.
type Target struct {
	Device string
	Site   string
	Kind   string // fmc, ftd, ... (informational: the driver detects the shell from its prompt)
	Addr   string // host or host:port; default port 22
	// Credential is the device's named credential, resolved.
	Credential    Credential
	HostKeyPolicy HostKeyPolicy
	// JumpHosts are dialled in order; the last one opens the connection to Addr.
	JumpHosts []JumpHost
	// AllowedNetworks, when set, are the only networks Addr may be in: a host
	// name is resolved here, every address it resolves to must lie inside,
	// and the checked IP is what gets dialled (no second lookup a DNS
	// rebinding could answer differently). Behind jump hosts the checked IP
	// is what the last hop is asked to open. Anything outside fails the
	// device with ErrAddressRefused before a byte is sent.
	AllowedNetworks []netip.Prefix
	// Exec runs each command as its own SSH exec request instead of driving a
	// PTY shell. If the device turns out to refuse exec (FTD's CLI does), the
	// session falls back to the shell driver.
	Exec bool
	// LegacySSH also offers the legacy algorithms (SHA-1 key exchanges, CBC
	// ciphers, SHA-1 MACs, ssh-rsa host keys) that old appliances may be
	// limited to. Off, such a device fails with an error naming the setting.
	LegacySSH bool
}

func (t Target) validate() error {
	if t.Device == "" {
		return fmt.Errorf("target has no device name: %w", ErrProtocol)
	}
	if t.Addr == "" {
		return fmt.Errorf("device %s has no address: %w", t.Device, ErrProtocol)
	}
	if !t.HostKeyPolicy.Valid() {
		return fmt.Errorf("device %s: unknown host key policy %q: %w", t.Device, t.HostKeyPolicy, ErrProtocol)
	}
	for _, j := range t.JumpHosts {
		if j.Name == "" || j.Addr == "" {
			return fmt.Errorf("device %s: jump host needs a name and an address: %w", t.Device, ErrProtocol)
		}
		if !j.HostKeyPolicy.Valid() {
			return fmt.Errorf("device %s: jump host %s: unknown host key policy %q: %w", t.Device, j.Name, j.HostKeyPolicy, ErrProtocol)
		}
	}
	return nil
}

// withDefaultPort turns "host" into "host:22" and leaves "host:port" alone.
func withDefaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	// A bare IPv6 address.
	if strings.Count(addr, ":") >= 2 && !strings.HasPrefix(addr, "[") {
		return net.JoinHostPort(addr, "22")
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), "22")
}

// checkedAddrs resolves addr (host:port) and returns ip:port for each
// address, after checking that every one lies in allowed (a name that
// resolves to one address outside is refused whole). A literal IP is only
// checked.
func checkedAddrs(ctx context.Context, addr string, allowed []netip.Prefix) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	var ips []netip.Addr
	if ip, perr := netip.ParseAddr(host); perr == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s resolves to no address", host)
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		ip = ip.Unmap()
		if !inNetworks(ip, allowed) {
			what := host + " is"
			if ip.String() != host {
				what = host + " resolves to " + ip.String() + ","
			}
			return nil, fmt.Errorf("%s outside the site's allowed_networks (%s); nothing sent: %w", what, prefixList(allowed), ErrAddressRefused)
		}
		out = append(out, net.JoinHostPort(ip.String(), port))
	}
	return out, nil
}

func inNetworks(ip netip.Addr, nets []netip.Prefix) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func prefixList(nets []netip.Prefix) string {
	s := make([]string, len(nets))
	for i, n := range nets {
		s[i] = n.String()
	}
	return strings.Join(s, ", ")
}
