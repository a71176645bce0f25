package devicecheck

import "context"

// The host-key bindings a caller puts on the context of a session; the
// runner's HostKeyStore (internal/targets.HostKeys) honours them.

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

// ApprovedHostKey returns the fingerprint ctx binds device to, if any.
func ApprovedHostKey(ctx context.Context, device string) (fingerprint string, ok bool) {
	a, ok := ctx.Value(approvedKeyCtx{}).(approvedKey)
	if !ok || a.device != device {
		return "", false
	}
	return a.fingerprint, true
}

type pinnedKey struct {
	device string
	wire   []byte
}

type pinnedKeyCtx struct{}

// WithPinnedHostKey tells the host-key store the key that was pinned for
// device when its job started (read with the job, in one query): a device
// that presents exactly that key is accepted without another round trip.
// Any other key (unknown, changed) still goes to the store, which records
// it and decides. A nil wire says the job found no key pinned.
func WithPinnedHostKey(ctx context.Context, device string, wire []byte) context.Context {
	return context.WithValue(ctx, pinnedKeyCtx{}, pinnedKey{device: device, wire: wire})
}

// PinnedHostKey returns the key (wire format) WithPinnedHostKey gave for
// device, if any.
func PinnedHostKey(ctx context.Context, device string) (wire []byte, ok bool) {
	p, ok := ctx.Value(pinnedKeyCtx{}).(pinnedKey)
	if !ok || p.device != device {
		return nil, false
	}
	return p.wire, true
}
