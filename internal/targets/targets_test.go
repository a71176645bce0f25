package targets_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/targets"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
)

type devices map[string]inventory.Device

func (d devices) Get(_ context.Context, name string) (inventory.Device, error) {
	dev, ok := d[name]
	if !ok {
		return inventory.Device{}, inventory.ErrNotFound
	}
	return dev, nil
}

func testConfig() config.Config {
	cfg := config.Default()
	cfg.Sites = map[string]config.Site{
		"emea": {Region: "eu", HostKeyPolicy: "strict",
			JumpHosts: []config.JumpHost{{Address: "10.0.0.1:22", Credential: "bastion"}}},
		"amer": {Region: "us", HostKeyPolicy: "tofu"},
	}
	cfg.Credentials = map[string]config.Credential{
		"lab":     {Username: "admin", PasswordEnv: "TARGETS_TEST_LAB"},
		"bastion": {Username: "jump", PasswordEnv: "TARGETS_TEST_BASTION"},
	}
	cfg.JumpChains = map[string][]config.JumpHost{
		"dmz": {{Address: "10.9.0.1", Credential: "bastion"}, {Address: "10.9.0.2:2222", Credential: "bastion"}},
	}
	return cfg
}

func TestResolve(t *testing.T) {
	t.Setenv("TARGETS_TEST_LAB", "s3cret-lab")
	t.Setenv("TARGETS_TEST_BASTION", "s3cret-jump")
	devs := devices{
		"ftd-ams-01": {Name: "ftd-ams-01", Kind: inventory.KindFTD, Site: "emea", Address: "127.1.0.7", Credential: "lab"},
		"ftd-ams-02": {Name: "ftd-ams-02", Kind: inventory.KindFTD, Site: "emea", Address: "127.1.0.8", Credential: "lab",
			Tags: map[string]string{"jump": "none", "exec": "1"}},
		"ftd-ny-01": {Name: "ftd-ny-01", Kind: inventory.KindFTD, Site: "amer", Address: "127.1.0.9", Credential: "lab",
			Tags: map[string]string{"jump": "dmz"}},
		"ftd-ny-02": {Name: "ftd-ny-02", Kind: inventory.KindFTD, Site: "amer", Address: "127.1.0.10", Credential: "lab",
			Tags: map[string]string{"jump": "nowhere"}},
		"ftd-ny-03": {Name: "ftd-ny-03", Kind: inventory.KindFTD, Site: "amer", Address: "127.1.0.11", Credential: "gone"},
		"ftd-old-01": {Name: "ftd-old-01", Kind: inventory.KindFTD, Site: "amer", Address: "127.1.0.12", Credential: "lab",
			Tags: map[string]string{"legacy_ssh": "true"}},
		"ftd-old-02": {Name: "ftd-old-02", Kind: inventory.KindFTD, Site: "old", Address: "127.1.0.13", Credential: "lab"},
		"ftd-old-03": {Name: "ftd-old-03", Kind: inventory.KindFTD, Site: "old", Address: "127.1.0.14", Credential: "lab",
			Tags: map[string]string{"legacy_ssh": "false"}},
		"ftd-old-04": {Name: "ftd-old-04", Kind: inventory.KindFTD, Site: "old", Address: "127.1.0.15", Credential: "lab",
			Tags: map[string]string{"legacy_ssh": "maybe"}},
	}
	cfg := testConfig()
	cfg.Sites["old"] = config.Site{Region: "us", HostKeyPolicy: "strict", LegacySSH: true}
	r, err := targets.New(cfg, devs)
	require.NoError(t, err)
	ctx := context.Background()

	res, err := r.Resolve(ctx, "ftd-ams-01")
	require.NoError(t, err)
	require.Equal(t, "127.1.0.7", res.Target.Addr)
	require.Equal(t, "s3cret-lab", res.Target.Credential.Password)
	require.Equal(t, runner.HostKeyStrict, res.Target.HostKeyPolicy)
	require.Len(t, res.Target.JumpHosts, 1, "the site's chain")
	require.Equal(t, "10.0.0.1:22", res.Target.JumpHosts[0].Addr)
	require.Equal(t, "s3cret-jump", res.Target.JumpHosts[0].Credential.Password)
	require.Equal(t, "eu", res.Env.Region)
	require.Equal(t, "api.eu.sse.itd.cisco.com", res.Env.Endpoints.API)
	require.False(t, res.Target.Exec)
	require.False(t, res.Target.LegacySSH, "legacy SSH algorithms are opt-in")

	for name, want := range map[string]bool{"ftd-old-01": true, "ftd-old-02": true, "ftd-old-03": false} {
		res, err := r.Resolve(ctx, name)
		require.NoError(t, err)
		require.Equal(t, want, res.Target.LegacySSH, name)
	}
	_, err = r.Resolve(ctx, "ftd-old-04")
	require.ErrorContains(t, err, "device ftd-old-04: tag legacy_ssh=maybe: want true or false")

	res, err = r.Resolve(ctx, "ftd-ams-02")
	require.NoError(t, err)
	require.Empty(t, res.Target.JumpHosts, "jump=none connects directly")
	require.True(t, res.Target.Exec)

	res, err = r.Resolve(ctx, "ftd-ny-01")
	require.NoError(t, err)
	require.Equal(t, runner.HostKeyTOFU, res.Target.HostKeyPolicy)
	require.Len(t, res.Target.JumpHosts, 2, "the device's own chain")
	require.Equal(t, "jump-dmz-2", res.Target.JumpHosts[1].Name)
	require.Equal(t, "10.9.0.2:2222", res.Target.JumpHosts[1].Addr)

	_, err = r.Resolve(ctx, "ftd-ny-02")
	require.ErrorContains(t, err, "jump=nowhere names no chain")
	_, err = r.Resolve(ctx, "ftd-ny-03")
	require.ErrorContains(t, err, `"gone"`)
	require.NotContains(t, err.Error(), "s3cret")
	_, err = r.Resolve(ctx, "no-such")
	require.ErrorIs(t, err, inventory.ErrNotFound)
}

func TestConfigRejectsBadJumpChains(t *testing.T) {
	cfg := testConfig()
	cfg.JumpChains["none"] = []config.JumpHost{{Address: "10.0.0.1", Credential: "bastion"}}
	cfg.JumpChains["empty"] = nil
	cfg.JumpChains["bad-cred"] = []config.JumpHost{{Address: "10.0.0.1", Credential: "nope"}}
	err := cfg.Validate()
	require.ErrorContains(t, err, "jump_chains.none")
	require.ErrorContains(t, err, "jump_chains.empty")
	require.ErrorContains(t, err, `jump_chains.bad-cred[0].credential: unknown credential "nope"`)
}

func TestJumpHostKeysArePinnedInConfig(t *testing.T) {
	pubA, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pubB, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	keyA, err := ssh.NewPublicKey(pubA)
	require.NoError(t, err)
	keyB, err := ssh.NewPublicKey(pubB)
	require.NoError(t, err)

	cfg := testConfig()
	cfg.JumpChains["dmz"][0].HostKey = ssh.FingerprintSHA256(keyA)
	keys := targets.JumpHostKeys(cfg)
	require.Equal(t, ssh.FingerprintSHA256(keyA), keys["jump-dmz-1"])
	require.Contains(t, keys, "jump-emea-1")

	// No database is touched for a hop: Store is nil here.
	hk := targets.HostKeys{JumpKeys: keys}
	require.NoError(t, hk.CheckHostKey(context.Background(), "jump-dmz-1", "10.9.0.1:22", keyA, runner.HostKeyStrict))
	err = hk.CheckHostKey(context.Background(), "jump-dmz-1", "10.9.0.1:22", keyB, runner.HostKeyTOFU)
	require.ErrorIs(t, err, runner.ErrHostKeyMismatch, "a changed bastion key is refused under every policy")
}

// A credential is only handed to the sites it names, checked at resolve time
// too (config may have changed since import), before its secret is read; the
// site's networks travel to the runner, which checks the address.
func TestResolveEnforcesCredentialSitesAndCarriesNetworks(t *testing.T) {
	t.Setenv("TARGETS_TEST_LAB", "s3cret-lab")
	t.Setenv("TARGETS_TEST_BASTION", "s3cret-jump")
	cfg := testConfig()
	emea := cfg.Sites["emea"]
	emea.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.1.0.0/16")}
	cfg.Sites["emea"] = emea
	lab := cfg.Credentials["lab"]
	lab.Sites = []string{"emea"}
	cfg.Credentials["lab"] = lab
	devs := devices{
		"ftd-ams-01": {Name: "ftd-ams-01", Kind: inventory.KindFTD, Site: "emea", Address: "127.1.0.7", Credential: "lab"},
		"ftd-ny-01":  {Name: "ftd-ny-01", Kind: inventory.KindFTD, Site: "amer", Address: "127.1.0.9", Credential: "lab"},
	}
	r, err := targets.New(cfg, devs)
	require.NoError(t, err)
	res, err := r.Resolve(context.Background(), "ftd-ams-01")
	require.NoError(t, err)
	require.Equal(t, emea.AllowedNetworks, res.Target.AllowedNetworks)

	_, err = r.Resolve(context.Background(), "ftd-ny-01")
	require.ErrorIs(t, err, targets.ErrCredentialNotForSite)
	require.EqualError(t, err, `device ftd-ny-01: credential "lab" may not be used by site "amer" (credentials.lab.sites: emea): credential not allowed for the site`)
	require.NotContains(t, err.Error(), "s3cret")
}

// A chain named by a device's jump tag must not hand a jump credential
// restricted to another site to this device (issue 10 leftover).
func TestResolveEnforcesCredentialSitesOnJumpHosts(t *testing.T) {
	t.Setenv("TARGETS_TEST_LAB", "s3cret-lab")
	t.Setenv("TARGETS_TEST_BASTION", "s3cret-jump")
	cfg := testConfig()
	bastion := cfg.Credentials["bastion"]
	bastion.Sites = []string{"emea"}
	cfg.Credentials["bastion"] = bastion
	devs := devices{
		"ftd-ams-01": {Name: "ftd-ams-01", Kind: inventory.KindFTD, Site: "emea", Address: "127.1.0.7", Credential: "lab",
			Tags: map[string]string{"jump": "dmz"}},
		"ftd-ny-01": {Name: "ftd-ny-01", Kind: inventory.KindFTD, Site: "amer", Address: "127.1.0.9", Credential: "lab",
			Tags: map[string]string{"jump": "dmz"}},
	}
	r, err := targets.New(cfg, devs)
	require.NoError(t, err)
	res, err := r.Resolve(context.Background(), "ftd-ams-01")
	require.NoError(t, err)
	require.Len(t, res.Target.JumpHosts, 2)

	_, err = r.Resolve(context.Background(), "ftd-ny-01")
	require.ErrorIs(t, err, targets.ErrCredentialNotForSite)
	require.EqualError(t, err, `device ftd-ny-01: jump host 1: credential "bastion" may not be used by site "amer" (credentials.bastion.sites: emea): credential not allowed for the site`)
	require.NotContains(t, err.Error(), "s3cret")
}
