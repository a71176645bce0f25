package targets

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/devicecheck"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
)

// HostKeys adapts the inventory's PostgreSQL host-key store to the runner,
// translating its errors into the runner's classes. Jump hosts are not
// devices: their keys are pinned in config (JumpKeys, by hop name), and a
// hop whose key differs is refused like a changed device key.
type HostKeys struct {
	Store    *inventory.Store
	JumpKeys map[string]string // hop name (jump-<site|chain>-N) -> SHA256 fingerprint
}

// JumpHostKeys lists the pinned fingerprint of every hop name Resolve can
// produce.
func JumpHostKeys(cfg config.Config) map[string]string {
	out := map[string]string{}
	add := func(prefix string, hops []config.JumpHost) {
		for i, j := range hops {
			out[fmt.Sprintf("%s-%d", prefix, i+1)] = j.HostKey
		}
	}
	for name, s := range cfg.Sites {
		add("jump-"+name, s.JumpHosts)
	}
	for name, hops := range cfg.JumpChains {
		add("jump-"+name, hops)
	}
	return out
}

// CheckHostKey implements runner.HostKeyStore.
func (h HostKeys) CheckHostKey(ctx context.Context, device, addr string, key ssh.PublicKey, policy runner.HostKeyPolicy) error {
	if want, ok := h.JumpKeys[device]; ok {
		if got := ssh.FingerprintSHA256(key); got != want {
			return fmt.Errorf("%w: jump host %s at %s presented %s, config pins %s", runner.ErrHostKeyMismatch, device, addr, got, want)
		}
		return nil
	}
	// An approved remediation froze the device's key: any other is refused.
	if want, ok := devicecheck.ApprovedHostKey(ctx, device); ok {
		if got := ssh.FingerprintSHA256(key); got != want {
			return fmt.Errorf("%w: %s at %s presented %s, the approved request froze %s", runner.ErrHostKeyMismatch,
				device, addr, got, want)
		}
	}
	wire, loaded := devicecheck.PinnedHostKey(ctx, device)
	if loaded && wire != nil && bytes.Equal(wire, key.Marshal()) {
		return nil
	}
	// First contact under tofu (the job found nothing pinned): pinned in a
	// batch with the other first contacts. Anything else the batch did not
	// pin (a candidate seen before, a racer's key) is decided below.
	if loaded && wire == nil && policy == runner.HostKeyTOFU {
		if pinned, err := h.Store.PinOnFirstUse(ctx, device, addr, key); err != nil {
			return fmt.Errorf("host key store: %w", err)
		} else if pinned {
			return nil
		}
	}
	err := h.Store.CheckHostKey(ctx, device, addr, key, string(policy))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, inventory.ErrHostKeyUnknown):
		return fmt.Errorf("%w: %s (fleetctl hostkey accept %s)", runner.ErrHostKeyUnknown, device, device)
	case errors.Is(err, inventory.ErrHostKeyMismatch):
		return fmt.Errorf("%w: %s presented %s", runner.ErrHostKeyMismatch, device, ssh.FingerprintSHA256(key))
	default:
		return fmt.Errorf("host key store: %w", err)
	}
}
