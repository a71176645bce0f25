package inventory_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
)

func newKey(t *testing.T) ssh.PublicKey { return newKeyTB(t) }

func newKeyTB(tb testing.TB) ssh.PublicKey {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	k, err := ssh.NewPublicKey(pub)
	require.NoError(tb, err)
	return k
}

func (b *testBundle) addDevices(t *testing.T, names ...string) {
	t.Helper()
	for i, n := range names {
		site := "emea"
		if i%2 == 1 {
			site = "amer"
		}
		_, err := b.store.Add(b.ctx, "alice", inventory.Device{Name: n, Kind: "ftd", Site: site, Address: "127.1.0.1", Credential: "lab"})
		require.NoError(t, err)
	}
}

func (b *testBundle) keyStates(t *testing.T, device string) map[string]inventory.HostKeyState {
	t.Helper()
	keys, err := b.store.ListHostKeys(b.ctx, inventory.HostKeyFilter{Device: device})
	require.NoError(t, err)
	out := map[string]inventory.HostKeyState{}
	for _, k := range keys {
		out[k.Fingerprint] = k.State
	}
	return out
}

func TestHostKeyPolicyMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addDevices(t, "ftd-strict", "ftd-tofu")
	k1, k2 := newKey(t), newKey(t)
	fp1, fp2 := ssh.FingerprintSHA256(k1), ssh.FingerprintSHA256(k2)

	// strict, nothing pinned: recorded pending, refused; again: still refused, counted.
	err := b.store.CheckHostKey(b.ctx, "ftd-strict", "127.1.0.1:22", k1, inventory.PolicyStrict)
	require.ErrorIs(t, err, inventory.ErrHostKeyUnknown)
	require.ErrorContains(t, err, fp1)
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-strict", "127.1.0.1:22", k1, inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
	keys, err := b.store.ListHostKeys(b.ctx, inventory.HostKeyFilter{State: inventory.StatePending})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, int64(2), keys[0].SeenCount)
	require.Equal(t, "ssh-ed25519", keys[0].KeyType)
	require.Equal(t, "127.1.0.1:22", keys[0].Address)
	parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(keys[0].PublicKey))
	require.NoError(t, err)
	require.Equal(t, fp1, ssh.FingerprintSHA256(parsed))

	// accepted: now it passes.
	res, err := b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "bob"}, inventory.AcceptSelector{Devices: []string{"ftd-strict"}})
	require.NoError(t, err)
	require.Len(t, res.Accepted, 1)
	require.Equal(t, "bob", res.Accepted[0].PinnedBy)
	require.NoError(t, b.store.CheckHostKey(b.ctx, "ftd-strict", "127.1.0.1:22", k1, inventory.PolicyStrict))

	// pinned + different key: mismatch, whatever the policy.
	for _, policy := range []string{inventory.PolicyStrict, inventory.PolicyTOFU} {
		err = b.store.CheckHostKey(b.ctx, "ftd-strict", "127.1.0.1:22", k2, policy)
		require.ErrorIs(t, err, inventory.ErrHostKeyMismatch, policy)
		require.ErrorContains(t, err, fp2)
		require.ErrorContains(t, err, fp1)
	}
	require.Equal(t, map[string]inventory.HostKeyState{fp1: inventory.StatePinned, fp2: inventory.StateMismatch}, b.keyStates(t, "ftd-strict"))
	require.NoError(t, b.store.CheckHostKey(b.ctx, "ftd-strict", "127.1.0.1:22", k1, inventory.PolicyStrict), "the pinned key still works")

	// tofu, nothing pinned: pinned at once.
	require.NoError(t, b.store.CheckHostKey(b.ctx, "ftd-tofu", "127.1.0.1:22", k2, inventory.PolicyTOFU))
	require.Equal(t, map[string]inventory.HostKeyState{fp2: inventory.StatePinned}, b.keyStates(t, "ftd-tofu"))
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-tofu", "127.1.0.1:22", k1, inventory.PolicyTOFU), inventory.ErrHostKeyMismatch)

	// Unknown device, unknown policy.
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ghost", "127.1.0.1:22", k1, inventory.PolicyTOFU), inventory.ErrNotFound)
	require.ErrorContains(t, b.store.CheckHostKey(b.ctx, "ftd-tofu", "127.1.0.1:22", k1, "yolo"), "unknown policy")

	// Each transition audited once (the repeated sightings are not).
	require.Equal(t, []string{
		"fleetd hostkey.pending ftd-strict",
		"bob hostkey.accept ftd-strict",
		"fleetd hostkey.mismatch ftd-strict",
		"fleetd hostkey.pin ftd-tofu",
		"fleetd hostkey.mismatch ftd-tofu",
	}, b.auditTrail(t, audit.Filter{Action: "hostkey."}))
}

func TestHostKeyStrictThenTOFUPromotesTheCandidate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addDevices(t, "ftd-1")
	k := newKey(t)
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-1", "a", k, inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
	// The site switched to tofu: the same key is pinned from its pending row.
	require.NoError(t, b.store.CheckHostKey(b.ctx, "ftd-1", "a", k, inventory.PolicyTOFU))
	require.Equal(t, map[string]inventory.HostKeyState{ssh.FingerprintSHA256(k): inventory.StatePinned}, b.keyStates(t, "ftd-1"))
}

// Many workers see the same device at once (a sweep retried, two replicas).
func TestHostKeyConcurrentSightings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addDevices(t, "ftd-same-strict", "ftd-same-tofu", "ftd-race-tofu")
	shared := newKey(t)
	const workers = 12

	run := func(device, policy string, key func(i int) ssh.PublicKey) []error {
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = b.store.CheckHostKey(b.ctx, device, "127.1.0.1:22", key(i), policy)
			}()
		}
		close(start)
		wg.Wait()
		return errs
	}

	// Same unknown key, strict: every worker refused, one pending row, one audit event.
	for _, err := range run("ftd-same-strict", inventory.PolicyStrict, func(int) ssh.PublicKey { return shared }) {
		require.ErrorIs(t, err, inventory.ErrHostKeyUnknown)
	}
	keys, err := b.store.ListHostKeys(b.ctx, inventory.HostKeyFilter{Device: "ftd-same-strict"})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, int64(workers), keys[0].SeenCount)

	// Same unknown key, tofu: everyone proceeds, one pin.
	for _, err := range run("ftd-same-tofu", inventory.PolicyTOFU, func(int) ssh.PublicKey { return shared }) {
		require.NoError(t, err)
	}
	require.Equal(t, map[string]inventory.HostKeyState{ssh.FingerprintSHA256(shared): inventory.StatePinned}, b.keyStates(t, "ftd-same-tofu"))

	// Different keys at once, tofu (someone in the middle): exactly one key is
	// pinned, exactly its presenters proceed, every other key is a mismatch.
	distinct := make([]ssh.PublicKey, workers)
	for i := range distinct {
		distinct[i] = newKey(t)
	}
	errs := run("ftd-race-tofu", inventory.PolicyTOFU, func(i int) ssh.PublicKey { return distinct[i] })
	states := b.keyStates(t, "ftd-race-tofu")
	require.Len(t, states, workers)
	pinned := 0
	for i, err := range errs {
		fp := ssh.FingerprintSHA256(distinct[i])
		if states[fp] == inventory.StatePinned {
			pinned++
			require.NoError(t, err)
		} else {
			require.Equal(t, inventory.StateMismatch, states[fp])
			require.ErrorIs(t, err, inventory.ErrHostKeyMismatch)
		}
	}
	require.Equal(t, 1, pinned)

	require.Equal(t, []string{"fleetd hostkey.pending ftd-same-strict"}, b.auditTrail(t, audit.Filter{Target: "ftd-same-strict", Action: "hostkey."}))
	require.Equal(t, []string{"fleetd hostkey.pin ftd-same-tofu"}, b.auditTrail(t, audit.Filter{Target: "ftd-same-tofu", Action: "hostkey."}))
	require.Len(t, b.auditTrail(t, audit.Filter{Target: "ftd-race-tofu", Action: audit.ActionHostKeyMismatch}), workers-1)
}

func TestAcceptHostKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Even indexes in emea, odd in amer.
	b.addDevices(t, "ftd-a", "ftd-b", "ftd-c", "ftd-d", "ftd-e", "ftd-f")
	keys := map[string]ssh.PublicKey{}
	for _, n := range []string{"ftd-a", "ftd-b", "ftd-c", "ftd-d"} {
		keys[n] = newKey(t)
		require.ErrorIs(t, b.store.CheckHostKey(b.ctx, n, "x", keys[n], inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
	}
	// ftd-c has shown two different keys: nobody can tell which is right.
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-c", "x", newKey(t), inventory.PolicyStrict), inventory.ErrHostKeyUnknown)

	// By name, all-or-nothing: one bad name blocks the rest.
	_, err := b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "bob"}, inventory.AcceptSelector{Devices: []string{"ftd-a", "ftd-c", "ftd-e", "ghost"}})
	var ve *inventory.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 3)
	for i, want := range []string{
		"ftd-c: several different keys seen (SHA256:",
		"ftd-e: no pending or mismatched key to accept",
		"ghost: no such device",
	} {
		require.True(t, strings.HasPrefix(ve.Problems[i].String(), want), ve.Problems[i].String())
	}
	require.Equal(t, inventory.StatePending, b.keyStates(t, "ftd-a")[ssh.FingerprintSHA256(keys["ftd-a"])], "nothing accepted")

	// All pending in emea: ftd-a accepted, ftd-c skipped; amer untouched.
	res, err := b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "bob"}, inventory.AcceptSelector{AllPending: true, Site: "emea"})
	require.NoError(t, err)
	require.Len(t, res.Accepted, 1)
	require.Equal(t, "ftd-a", res.Accepted[0].Device)
	require.Equal(t, []inventory.Skipped{{Device: "ftd-c", Reason: "2 different keys pending; accept by name after checking"}}, res.Skipped)
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-b", "x", keys["ftd-b"], inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
	require.NoError(t, b.store.CheckHostKey(b.ctx, "ftd-a", "x", keys["ftd-a"], inventory.PolicyStrict))

	// All pending anywhere: ftd-b and ftd-d.
	res, err = b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "carol"}, inventory.AcceptSelector{AllPending: true})
	require.NoError(t, err)
	require.Len(t, res.Accepted, 2)
	require.Equal(t, "ftd-b", res.Accepted[0].Device)
	require.Equal(t, "ftd-d", res.Accepted[1].Device)

	// A re-imaged device: its new key is a mismatch until accepted by name,
	// which replaces the pin.
	newA := newKey(t)
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-a", "x", newA, inventory.PolicyStrict), inventory.ErrHostKeyMismatch)
	res, err = b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "dave", Approver: true}, inventory.AcceptSelector{Devices: []string{"ftd-a"}})
	require.NoError(t, err)
	require.Equal(t, ssh.FingerprintSHA256(newA), res.Accepted[0].Fingerprint)
	require.Equal(t, map[string]inventory.HostKeyState{ssh.FingerprintSHA256(newA): inventory.StatePinned}, b.keyStates(t, "ftd-a"))
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-a", "x", keys["ftd-a"], inventory.PolicyStrict), inventory.ErrHostKeyMismatch)
	events, err := audit.List(b.ctx, b.pool, audit.Filter{Actor: "dave"})
	require.NoError(t, err)
	require.Equal(t, ssh.FingerprintSHA256(keys["ftd-a"]), events[0].Details["replaced"])

	// Bad selectors.
	_, err = b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "bob"}, inventory.AcceptSelector{})
	require.ErrorAs(t, err, &ve)
	_, err = b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "bob"}, inventory.AcceptSelector{Devices: []string{"ftd-a"}, AllPending: true})
	require.ErrorAs(t, err, &ve)

	// Deleting a device forgets its keys: re-adding it needs a new accept.
	require.NoError(t, b.store.Delete(b.ctx, "alice", "ftd-b"))
	b.addDevices(t, "ftd-b")
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-b", "x", keys["ftd-b"], inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
}
