package inventory_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
)

// TestPinOnFirstUseBatchesAndDefersTheRest: 60 concurrent first contacts
// are pinned with one audit event each (fewer transactions than devices);
// a device with a key pinned already, a candidate seen before, an unknown
// device and a second key for one device in flight are not pinned by it
// (false, nothing recorded) and CheckHostKey decides them as before.
func TestPinOnFirstUseBatchesAndDefersTheRest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var names []string
	for i := range 60 {
		names = append(names, fmt.Sprintf("ftd-%02d", i))
	}
	b.addDevices(t, append(names, "ftd-pinned", "ftd-candidate")...)
	keys := map[string]ssh.PublicKey{}
	for _, n := range append(names, "ftd-pinned", "ftd-candidate") {
		keys[n] = newKey(t)
	}
	// ftd-pinned has another key pinned; ftd-candidate's key is pending (seen while strict).
	require.NoError(t, b.store.CheckHostKey(b.ctx, "ftd-pinned", "127.1.0.1:22", newKey(t), inventory.PolicyTOFU))
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-candidate", "127.1.0.1:22", keys["ftd-candidate"], inventory.PolicyStrict),
		inventory.ErrHostKeyUnknown)
	before := b.count(t, "audit_events")

	var wg sync.WaitGroup
	pinned := make([]bool, len(names))
	for i, n := range names {
		wg.Go(func() {
			ok, err := b.store.PinOnFirstUse(b.ctx, n, "127.1.0.1:22", keys[n])
			require.NoError(t, err)
			pinned[i] = ok
		})
	}
	wg.Wait()
	for i, n := range names {
		require.True(t, pinned[i], n)
		require.Equal(t, map[string]inventory.HostKeyState{ssh.FingerprintSHA256(keys[n]): inventory.StatePinned}, b.keyStates(t, n))
	}
	require.Equal(t, before+len(names), b.count(t, "audit_events"))
	trail := b.auditTrail(t, audit.Filter{Target: "ftd-07"})
	require.Contains(t, trail, inventory.SystemActor+" hostkey.pin ftd-07")

	// Nothing of these is pinned or recorded by the batch.
	for _, n := range []string{"ftd-pinned", "ftd-candidate", "ftd-07"} {
		ok, err := b.store.PinOnFirstUse(b.ctx, n, "127.1.0.1:22", keys[n])
		require.NoError(t, err)
		require.False(t, ok, n)
	}
	ok, err := b.store.PinOnFirstUse(b.ctx, "ftd-nosuch", "127.1.0.1:22", newKey(t))
	require.NoError(t, err)
	require.False(t, ok)
	other := newKey(t)
	ok, err = b.store.PinOnFirstUse(b.ctx, "ftd-08", "127.1.0.1:22", other)
	require.NoError(t, err)
	require.False(t, ok, "a second key for a pinned device")
	require.Equal(t, before+len(names), b.count(t, "audit_events"))

	// CheckHostKey still decides them.
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-pinned", "127.1.0.1:22", keys["ftd-pinned"], inventory.PolicyTOFU),
		inventory.ErrHostKeyMismatch)
	require.NoError(t, b.store.CheckHostKey(b.ctx, "ftd-candidate", "127.1.0.1:22", keys["ftd-candidate"], inventory.PolicyTOFU))
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-08", "127.1.0.1:22", other, inventory.PolicyTOFU), inventory.ErrHostKeyMismatch)
}
