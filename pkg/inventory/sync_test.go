package inventory_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
)

func selfSigned(t *testing.T, cn string) []byte {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	require.NoError(t, err)
	return der
}

// An FMC's SSH host key and REST certificate are pinned side by side and
// accepted through the same workflow.
func TestCertificatePinnedBesideTheHostKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Add(b.ctx, "alice", inventory.Device{Name: "fmc-1", Kind: "fmc", Site: "emea", Address: "127.1.0.1", Credential: "lab"})
	require.NoError(t, err)
	key, cert, other := newKey(t), selfSigned(t, "fmc-1"), selfSigned(t, "evil")

	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "fmc-1", "127.1.0.1:22", key, inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
	require.ErrorIs(t, b.store.CheckCertificate(b.ctx, "fmc-1", "127.1.0.1:443", cert, inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
	pinned, err := b.store.PinnedCertificate(b.ctx, "fmc-1")
	require.NoError(t, err)
	require.Nil(t, pinned)

	pending, err := b.store.ListHostKeys(b.ctx, inventory.HostKeyFilter{State: inventory.StatePending, Kind: inventory.KeyKindTLS})
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, inventory.CertificateFingerprint(cert), pending[0].Fingerprint)
	require.Equal(t, "x509-ed25519", pending[0].KeyType)
	require.Contains(t, pending[0].PublicKey, "CN=fmc-1 (self-signed)")

	// One accept by name pins both kinds.
	res, err := b.store.AcceptHostKeys(b.ctx, inventory.Accepter{Name: "bob"}, inventory.AcceptSelector{Devices: []string{"fmc-1"}})
	require.NoError(t, err)
	require.Len(t, res.Accepted, 2)
	require.NoError(t, b.store.CheckHostKey(b.ctx, "fmc-1", "127.1.0.1:22", key, inventory.PolicyStrict))
	require.NoError(t, b.store.CheckCertificate(b.ctx, "fmc-1", "127.1.0.1:443", cert, inventory.PolicyStrict))
	pinned, err = b.store.PinnedCertificate(b.ctx, "fmc-1")
	require.NoError(t, err)
	require.Equal(t, cert, pinned)
	wire, err := b.store.PinnedHostKey(b.ctx, "fmc-1")
	require.NoError(t, err)
	require.Equal(t, ssh.FingerprintSHA256(key), ssh.FingerprintSHA256(wire), "the SSH pin is the SSH key, not the certificate")

	// A changed certificate is refused and audited; the SSH key is untouched.
	require.ErrorIs(t, b.store.CheckCertificate(b.ctx, "fmc-1", "127.1.0.1:443", other, inventory.PolicyTOFU), inventory.ErrHostKeyMismatch)
	require.NoError(t, b.store.CheckHostKey(b.ctx, "fmc-1", "127.1.0.1:22", key, inventory.PolicyStrict))
	evs, err := audit.List(b.ctx, b.pool, audit.Filter{Action: audit.ActionHostKeyMismatch})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "tls", evs[0].Details["kind"])
}

func TestSyncFromFMC(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fmc, err := b.store.Add(b.ctx, "alice", inventory.Device{Name: "fmc-1", Kind: "fmc", Site: "emea", Address: "127.1.0.1", Credential: "lab"})
	require.NoError(t, err)
	other, err := b.store.Add(b.ctx, "alice", inventory.Device{Name: "fmc-2", Kind: "fmc", Site: "emea", Address: "127.1.0.2", Credential: "lab"})
	require.NoError(t, err)
	// Hand-added, managed by fmc-1: never pruned.
	_, err = b.store.Add(b.ctx, "alice", inventory.Device{Name: "ftd-hand", Kind: "ftd", Site: "emea", Address: "127.1.0.9", Credential: "lab", ManagedBy: "fmc-1"})
	require.NoError(t, err)
	recs := []inventory.SyncRecord{
		{Name: "ftd-a", HostName: "127.1.0.10", Model: "Cisco Firepower 1120 Threat Defense", SWVersion: "6.5.0", Connected: true},
		{Name: "ftd-b", HostName: "127.1.0.11", Model: "Cisco Firepower Threat Defense for VMWare", SWVersion: "6.4.0.9"},
	}
	// Another FMC's device.
	_, err = b.store.Sync(b.ctx, "alice", other, []inventory.SyncRecord{{Name: "ftd-z", HostName: "127.1.0.30", Connected: true}}, inventory.SyncOptions{})
	require.NoError(t, err)

	plan, err := b.store.Sync(b.ctx, "alice", fmc, recs, inventory.SyncOptions{DryRun: true})
	require.NoError(t, err)
	require.Len(t, plan.Added, 2)
	require.Equal(t, []string{"ftd-b"}, plan.Disconnected)
	_, err = b.store.Get(b.ctx, "ftd-a")
	require.ErrorIs(t, err, inventory.ErrNotFound, "a dry run writes nothing")

	plan, err = b.store.Sync(b.ctx, "alice", fmc, recs, inventory.SyncOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Added, 2)
	d, err := b.store.Get(b.ctx, "ftd-a")
	require.NoError(t, err)
	require.Equal(t, "fmc-1", d.ManagedBy)
	require.Equal(t, "fmc-1", d.SyncedFrom)
	require.Equal(t, "emea", d.Site)
	require.Equal(t, "6.5.0", d.SWVersion)
	require.Equal(t, "Cisco Firepower 1120 Threat Defense", d.Model)

	// The FMC renamed ftd-b to ftd-c and upgraded ftd-a.
	recs = []inventory.SyncRecord{
		{Name: "ftd-a", HostName: "127.1.0.10", Model: "Cisco Firepower 1120 Threat Defense", SWVersion: "7.2.5", Connected: true},
		{Name: "ftd-c", HostName: "127.1.0.11", Model: "Cisco Firepower Threat Defense for VMWare", SWVersion: "6.4.0.9", Connected: true},
	}
	plan, err = b.store.Sync(b.ctx, "alice", fmc, recs, inventory.SyncOptions{})
	require.NoError(t, err)
	require.Equal(t, []inventory.Change{{Device: "ftd-a", Fields: []inventory.FieldChange{{Field: "sw_version", Old: "6.5.0", New: "7.2.5"}}}}, plan.Changed)
	require.Len(t, plan.Added, 1)
	require.Equal(t, []inventory.GoneDevice{{Device: "ftd-b", Address: "127.1.0.11", Hint: "renamed on the FMC? ftd-c is new at its address"}}, plan.Gone)
	require.Empty(t, plan.Removed)
	_, err = b.store.Get(b.ctx, "ftd-b")
	require.NoError(t, err, "gone devices stay without --prune")

	plan, err = b.store.Sync(b.ctx, "alice", fmc, recs, inventory.SyncOptions{Prune: true})
	require.NoError(t, err)
	require.Equal(t, []string{"ftd-b"}, plan.Removed)
	_, err = b.store.Get(b.ctx, "ftd-b")
	require.ErrorIs(t, err, inventory.ErrNotFound)
	for _, keep := range []string{"ftd-hand", "ftd-z"} {
		_, err = b.store.Get(b.ctx, keep)
		require.NoError(t, err, "%s: hand-added and other FMCs' devices are never pruned", keep)
	}
	evs, err := audit.List(b.ctx, b.pool, audit.Filter{Action: audit.ActionDeviceDelete})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "ftd-b", evs[0].Target)
	require.Equal(t, "sync", evs[0].Details["via"])

	// Bad records are reported, nothing is written.
	_, err = b.store.Sync(b.ctx, "alice", fmc, []inventory.SyncRecord{
		{Name: "ftd-a", HostName: "127.1.0.10"}, {Name: "-bad", HostName: "127.1.0.12"}, {Name: "ftd-d", HostName: "not an address!"},
		{Name: "ftd-z", HostName: "127.1.0.30"}}, inventory.SyncOptions{Prune: true})
	var ve *inventory.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 3, ve.Count(), ve.Error())
	require.ErrorContains(t, err, "synced from FMC fmc-2")
	_, err = b.store.Get(b.ctx, "ftd-c")
	require.NoError(t, err, "all or nothing: nothing was pruned")
}
