package targets

import (
	"context"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/runner"
)

type approvedKey struct {
	device      string
	fingerprint string
}

type approvedKeyCtx struct{}

// WithApprovedHostKey binds the sessions of ctx to device to one host key:
// the fingerprint frozen into an approved remediation. A device presenting
// any other key is refused before authentication, whatever the store has
// pinned since; the presented key must also pass the store as usual.
func WithApprovedHostKey(ctx context.Context, device, fingerprint string) context.Context {
	return context.WithValue(ctx, approvedKeyCtx{}, approvedKey{device: device, fingerprint: fingerprint})
}

// checkApproved returns a mismatch error when ctx binds device to another
// key than the one presented.
func checkApproved(ctx context.Context, device, addr string, key ssh.PublicKey) error {
	a, ok := ctx.Value(approvedKeyCtx{}).(approvedKey)
	if !ok || a.device != device {
		return nil
	}
	if got := ssh.FingerprintSHA256(key); got != a.fingerprint {
		return fmt.Errorf("%w: %s at %s presented %s, the approved request froze %s", runner.ErrHostKeyMismatch,
			device, addr, got, a.fingerprint)
	}
	return nil
}
