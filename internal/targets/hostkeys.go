package targets

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
)

// HostKeys adapts the inventory's PostgreSQL host-key store to the runner,
// translating its errors into the runner's classes.
type HostKeys struct{ Store *inventory.Store }

// CheckHostKey implements runner.HostKeyStore.
func (h HostKeys) CheckHostKey(ctx context.Context, device, addr string, key ssh.PublicKey, policy runner.HostKeyPolicy) error {
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
