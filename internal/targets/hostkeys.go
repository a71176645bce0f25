package targets

import (
	"bytes"
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

type pinnedKey struct {
	device string
	wire   []byte
}

type pinnedKeyCtx struct{}

// WithPinnedHostKey tells CheckHostKey the key that was pinned for device
// when its job started (read with the job, in one query): a device that
// presents exactly that key is accepted without another round trip. Any
// other key (unknown, changed) still goes to the store, which records it
// and decides.
func WithPinnedHostKey(ctx context.Context, device string, wire []byte) context.Context {
	return context.WithValue(ctx, pinnedKeyCtx{}, pinnedKey{device: device, wire: wire})
}

// CheckHostKey implements runner.HostKeyStore.
func (h HostKeys) CheckHostKey(ctx context.Context, device, addr string, key ssh.PublicKey, policy runner.HostKeyPolicy) error {
	if p, ok := ctx.Value(pinnedKeyCtx{}).(pinnedKey); ok && p.device == device && bytes.Equal(p.wire, key.Marshal()) {
		return nil
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
