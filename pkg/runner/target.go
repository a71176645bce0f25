package runner

import (
	"fmt"
	"net"
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
