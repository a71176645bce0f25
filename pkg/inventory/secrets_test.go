package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
)

// fencedConfig is the lab config with emea's devices confined to
// 127.20.0.0/16 and the credential lab to emea; amer has no networks.
func fencedConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := labConfig(t)
	emea := cfg.Sites["emea"]
	emea.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.20.0.0/16"), netip.MustParsePrefix("fd00:20::/32")}
	cfg.Sites["emea"] = emea
	lab := cfg.Credentials["lab"]
	lab.Sites = []string{"emea"}
	cfg.Credentials["lab"] = lab
	cfg.Credentials["amer-lab"] = config.Credential{Username: "admin", PasswordEnv: "AMER_PW"}
	require.NoError(t, cfg.Validate())
	return cfg
}

func fencedSetup(t *testing.T) *testBundle {
	t.Helper()
	pool := testdb.New(t)
	store := inventory.NewStore(pool, app.InventoryCatalog(fencedConfig(t)), zaptest.NewLogger(t))
	ctx := context.Background()
	_, err := store.SyncCatalog(ctx)
	require.NoError(t, err)
	return &testBundle{ctx: ctx, pool: pool, store: store}
}

// The harvesting attack by import: a row that points emea's credential at an
// address outside emea's networks, or uses it from a site it does not name,
// is refused with its line, and the import writes nothing.
func TestImportRefusesAddressesOutsideTheSiteAndForeignCredentials(t *testing.T) {
	t.Parallel()
	b := fencedSetup(t)
	data := strings.Join([]string{
		"name,kind,site,address,credential",
		"ftd-ok-1,ftd,emea,127.20.0.1,lab",
		"ftd-ok-2,ftd,emea,[fd00:20::7]:2222,lab",
		"ftd-ok-3,ftd,emea,ftd-ok-3.emea.example.net,lab", // a name: checked when resolved at connect time
		"evil-capture,ftd,emea,127.0.0.1:2222,lab",
		"evil-v6,ftd,emea,::1,lab",
		"ftd-nyc,ftd,amer,127.30.0.1,lab",
		"ftd-nyc-2,ftd,amer,192.0.2.1,amer-lab", // amer has no networks: anywhere
	}, "\n")
	_, err := b.store.ImportFile(b.ctx, "mallory", "fleet.csv", []byte(data), false)
	var ve *inventory.ValidationError
	require.ErrorAs(t, err, &ve)
	got := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		got[i] = p.String()
	}
	require.Equal(t, []string{
		"line 5: address: 127.0.0.1 is outside site emea's allowed_networks (127.20.0.0/16, fd00:20::/32)",
		"line 6: address: ::1 is outside site emea's allowed_networks (127.20.0.0/16, fd00:20::/32)",
		`line 7: credential: credential "lab" may not be used by site "amer" (credentials.lab.sites: emea)`,
	}, got)
	require.Equal(t, 0, b.count(t, "devices"), "all or nothing")
	require.Empty(t, b.auditTrail(t, audit.Filter{Actor: "mallory"}))

	// Add (the API's device add) applies the same rules.
	_, err = b.store.Add(b.ctx, "mallory", inventory.Device{Name: "evil-capture", Kind: "ftd", Site: "emea", Address: "127.0.0.1", Credential: "lab"})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "address: 127.0.0.1 is outside site emea's allowed_networks (127.20.0.0/16, fd00:20::/32)", ve.Problems[0].String())
	_, err = b.store.Add(b.ctx, "mallory", inventory.Device{Name: "ok", Kind: "ftd", Site: "emea", Address: "127.20.0.9", Credential: "lab"})
	require.NoError(t, err)
	// And update: moving a device out of its networks is refused too.
	_, _, err = b.store.Update(b.ctx, "mallory", inventory.Device{Name: "ok", Kind: "ftd", Site: "emea", Address: "127.0.0.1", Credential: "lab"})
	require.ErrorAs(t, err, &ve)
}

// 60,000 bad rows once answered 8.4 MB: the error lists the first 100
// problems, in file order, and the total.
func TestImportReportsTheFirstHundredProblemsAndTheTotal(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	sb.WriteString("name,kind,site,address,credential\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "ftd-%04d,asa,emea,127.1.0.1,lab\n", i)
	}
	_, err := inventory.Parse("big.csv", []byte(sb.String()), app.InventoryCatalog(labConfig(t)))
	var ve *inventory.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, inventory.MaxProblems)
	require.Equal(t, 1000, ve.Total)
	require.Equal(t, 2, ve.Problems[0].Line)
	require.Equal(t, 101, ve.Problems[99].Line)
	require.Contains(t, ve.Error(), "big.csv: 1000 problems:")
	require.Contains(t, ve.Error(), "... and 900 more")
	require.Less(t, len(ve.Error()), 20_000)
}

func (b *testBundle) addressSetBy(t *testing.T, device string) string {
	t.Helper()
	var by *string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT address_set_by FROM devices WHERE name = $1`, device).Scan(&by))
	if by == nil {
		return ""
	}
	return *by
}

// The harvesting attack by address change: whoever moves a device may not
// vouch for the key found at the new address; an operator may not replace
// a pinned key at all. Refusals are audited, nothing is pinned.
func TestAcceptHostKeysTwoPersonRule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, n := range []string{"ftd-moved", "ftd-rekeyed", "ftd-fresh", "ftd-moved-new"} {
		_, err := b.store.Add(b.ctx, "alice", inventory.Device{Name: n, Kind: "ftd", Site: "emea", Address: "127.1.0.1", Credential: "lab"})
		require.NoError(t, err)
	}
	require.Equal(t, "alice", b.addressSetBy(t, "ftd-moved"))
	old := map[string]ssh.PublicKey{"ftd-moved": newKey(t), "ftd-rekeyed": newKey(t)}
	for n, k := range old {
		require.NoError(t, b.store.CheckHostKey(b.ctx, n, "127.1.0.1:22", k, inventory.PolicyTOFU))
	}

	// Lead1 (an approver) moves ftd-moved by import and ftd-moved-new (never
	// pinned) by update; a tag change by someone else does not count as a move.
	_, err := b.store.ImportFile(b.ctx, "Lead1", "move.csv", []byte("name,kind,site,address,credential\nftd-moved,ftd,emea,127.1.0.66,lab\n"), false)
	require.NoError(t, err)
	_, _, err = b.store.Update(b.ctx, "lead1", inventory.Device{Name: "ftd-moved-new", Kind: "ftd", Site: "emea", Address: "127.1.0.67", Credential: "lab"})
	require.NoError(t, err)
	_, _, err = b.store.Update(b.ctx, "carol", inventory.Device{Name: "ftd-moved", Kind: "ftd", Site: "emea", Address: "127.1.0.66", Credential: "lab",
		Tags: map[string]string{"role": "edge"}})
	require.NoError(t, err)
	require.Equal(t, "Lead1", b.addressSetBy(t, "ftd-moved"))
	require.Equal(t, "lead1", b.addressSetBy(t, "ftd-moved-new"))

	hostile := map[string]ssh.PublicKey{"ftd-moved": newKey(t), "ftd-rekeyed": newKey(t), "ftd-moved-new": newKey(t), "ftd-fresh": newKey(t)}
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-moved", "127.1.0.66:22", hostile["ftd-moved"], inventory.PolicyStrict), inventory.ErrHostKeyMismatch)
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-rekeyed", "127.1.0.1:22", hostile["ftd-rekeyed"], inventory.PolicyStrict), inventory.ErrHostKeyMismatch)
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-moved-new", "127.1.0.67:22", hostile["ftd-moved-new"], inventory.PolicyStrict), inventory.ErrHostKeyUnknown)
	require.ErrorIs(t, b.store.CheckHostKey(b.ctx, "ftd-fresh", "127.1.0.1:22", hostile["ftd-fresh"], inventory.PolicyStrict), inventory.ErrHostKeyUnknown)

	accept := func(by inventory.Accepter, devices ...string) error {
		_, err := b.store.AcceptHostKeys(b.ctx, by, inventory.AcceptSelector{Devices: devices})
		return err
	}
	operator := inventory.Accepter{Name: "ops1"}
	lead1 := inventory.Accepter{Name: "LEAD1", Approver: true} // case-insensitively the mover
	lead2 := inventory.Accepter{Name: "lead2", Approver: true}

	var refused *inventory.AcceptRefusedError
	// An operator: neither the mismatches nor the moved device's first key.
	for _, d := range []string{"ftd-moved", "ftd-rekeyed", "ftd-moved-new"} {
		err := accept(operator, d)
		require.ErrorIs(t, err, inventory.ErrTwoPersonRule, d)
		require.ErrorAs(t, err, &refused)
		require.Contains(t, refused.Refused[0].Reason, "needs an approver or admin token", d)
	}
	// All-or-nothing: one refused name blocks the others.
	require.ErrorIs(t, accept(operator, "ftd-fresh", "ftd-moved"), inventory.ErrTwoPersonRule)
	require.Equal(t, inventory.StatePending, b.keyStates(t, "ftd-fresh")[ssh.FingerprintSHA256(hostile["ftd-fresh"])])
	// The mover, even as an approver.
	for _, d := range []string{"ftd-moved", "ftd-moved-new"} {
		err := accept(lead1, d)
		require.ErrorAs(t, err, &refused, d)
		require.Contains(t, strings.ToLower(refused.Refused[0].Reason), "address set by lead1", d)
		require.Contains(t, refused.Refused[0].Reason, "may not accept its key; another approver must", d)
	}
	// All-pending never takes a moved device's key, whoever asks.
	res, err := b.store.AcceptHostKeys(b.ctx, lead2, inventory.AcceptSelector{AllPending: true})
	require.NoError(t, err)
	require.Len(t, res.Accepted, 1)
	require.Equal(t, "ftd-fresh", res.Accepted[0].Device, "a first key at the address the device was added with stays operator business")
	require.Equal(t, []inventory.Skipped{{Device: "ftd-moved-new",
		Reason: "the device's address changed since it was added; accept by name (needs an approver other than lead1)"}}, res.Skipped)

	for n, k := range hostile {
		if n != "ftd-fresh" {
			require.NotEqual(t, inventory.StatePinned, b.keyStates(t, n)[ssh.FingerprintSHA256(k)], "%s: nothing pinned by the refusals", n)
		}
	}
	refusals := b.auditTrail(t, audit.Filter{Action: audit.ActionHostKeyAcceptRefused})
	require.Contains(t, refusals, "ops1 hostkey.accept_refused ftd-moved")
	require.Contains(t, refusals, "LEAD1 hostkey.accept_refused ftd-moved-new")
	require.Len(t, refusals, 3+1+2)

	// Another approver may; the alice-added device that was re-keyed in
	// place may be accepted by an approver other than alice.
	require.NoError(t, accept(lead2, "ftd-moved", "ftd-moved-new"))
	require.ErrorAs(t, accept(inventory.Accepter{Name: "Alice", Approver: true}, "ftd-rekeyed"), &refused)
	require.NoError(t, accept(lead1, "ftd-rekeyed"))
	for n, k := range hostile {
		require.Equal(t, inventory.StatePinned, b.keyStates(t, n)[ssh.FingerprintSHA256(k)], n)
	}
	events, err := audit.List(b.ctx, b.pool, audit.Filter{Actor: "lead2", Action: audit.ActionHostKeyAccept, Target: "ftd-moved"})
	require.NoError(t, err)
	require.Equal(t, true, events[0].Details["two_person"])
	require.Equal(t, "Lead1", events[0].Details["address_set_by"])
	require.False(t, errors.Is(err, inventory.ErrTwoPersonRule))
}
