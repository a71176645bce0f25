// Package targets turns an inventory device into what the runner and the
// checks need: a runner.Target (address, resolved credential, host-key
// policy, jump hosts) and a diagnose.Env (site, region and its endpoints).
// Secrets are read here, at use time, and live only in the returned Target.
package targets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/devicecheck"
	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
)

// ErrCredentialNotForSite: the device's credential names sites and the
// device's site is not one of them (credentials.X.sites). Nothing is sent.
var ErrCredentialNotForSite = errors.New("credential not allowed for the site")

// DeviceGetter loads one device (pkg/inventory.Store).
type DeviceGetter interface {
	Get(ctx context.Context, name string) (inventory.Device, error)
}

// Resolver resolves devices against the config.
type Resolver struct {
	cfg     config.Config
	devices DeviceGetter
	regions diagnose.RegionTable
}

// New validates the region table once.
func New(cfg config.Config, devices DeviceGetter) (*Resolver, error) {
	regions := RegionTable(cfg)
	if err := regions.Validate(); err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	return &Resolver{cfg: cfg, devices: devices, regions: regions}, nil
}

// RegionTable converts the config's regions to the checks' table.
func RegionTable(cfg config.Config) diagnose.RegionTable {
	t := diagnose.RegionTable{}
	for name, r := range cfg.Regions {
		t[name] = diagnose.Endpoints{API: r.API, EST: r.EST, MX: r.MX, DEX: r.DEX, Eventing: r.Eventing}
	}
	return t
}

// Resolve loads the device by name and resolves its credential and site.
func (r *Resolver) Resolve(ctx context.Context, name string) (devicecheck.Resolved, error) {
	d, err := r.devices.Get(ctx, name)
	if err != nil {
		return devicecheck.Resolved{}, fmt.Errorf("device %s: %w", name, err)
	}
	return r.ResolveDevice(d)
}

// ResolveDevice resolves an already loaded device.
func (r *Resolver) ResolveDevice(d inventory.Device) (devicecheck.Resolved, error) {
	site, ok := r.cfg.Sites[d.Site]
	if !ok {
		return devicecheck.Resolved{}, fmt.Errorf("device %s: site %q is not in the config", d.Name, d.Site)
	}
	// Checked again here, before any secret is read: config may have changed
	// since the device was imported.
	if err := r.checkCredentialSite(d.Credential, d.Site); err != nil {
		return devicecheck.Resolved{}, fmt.Errorf("device %s: %w", d.Name, err)
	}
	cred, err := r.credential(d.Credential)
	if err != nil {
		return devicecheck.Resolved{}, fmt.Errorf("device %s: %w", d.Name, err)
	}
	t := runner.Target{
		Device: d.Name, Site: d.Site, Kind: string(d.Kind), Addr: d.Address, Credential: cred,
		HostKeyPolicy: runner.HostKeyPolicy(site.HostKeyPolicy),
		// The runner resolves a host name and checks every address against
		// these before dialing; a literal IP is checked too.
		AllowedNetworks: site.AllowedNetworks,
		Exec:            d.Tags["exec"] == "true" || d.Tags["exec"] == "1",
		LegacySSH:       site.LegacySSH,
	}
	if v, ok := d.Tags["legacy_ssh"]; ok {
		// The device's own tag overrides its site, either way.
		switch v {
		case "true", "1":
			t.LegacySSH = true
		case "false", "0":
			t.LegacySSH = false
		default:
			return devicecheck.Resolved{}, fmt.Errorf("device %s: tag legacy_ssh=%s: want true or false", d.Name, v)
		}
	}
	chain, chainName := site.JumpHosts, "jump-"+d.Site
	if name, ok := d.Tags["jump"]; ok {
		// A device's own jump tag overrides its site's chain.
		chain, chainName = nil, "jump-"+name
		if name != inventory.JumpNone {
			if chain, ok = r.cfg.JumpChains[name]; !ok {
				return devicecheck.Resolved{}, fmt.Errorf("device %s: tag jump=%s names no chain in jump_chains (known: %s)",
					d.Name, name, strings.Join(slices.Sorted(maps.Keys(r.cfg.JumpChains)), ", "))
			}
		}
	}
	for i, j := range chain {
		// A jump host's credential is as much the site's secret as the
		// device's: a chain named by a device's tag must not hand another
		// site's jump credential to this one.
		if err := r.checkCredentialSite(j.Credential, d.Site); err != nil {
			return devicecheck.Resolved{}, fmt.Errorf("device %s: jump host %d: %w", d.Name, i+1, err)
		}
		jc, err := r.credential(j.Credential)
		if err != nil {
			return devicecheck.Resolved{}, fmt.Errorf("device %s: jump host %d: %w", d.Name, i+1, err)
		}
		t.JumpHosts = append(t.JumpHosts, runner.JumpHost{
			Name: fmt.Sprintf("%s-%d", chainName, i+1), Addr: j.Address, Credential: jc,
			HostKeyPolicy: runner.HostKeyPolicy(site.HostKeyPolicy),
		})
	}
	env, err := diagnose.NewEnv(d.Name, d.Site, site.Region, r.regions)
	if err != nil {
		return devicecheck.Resolved{}, err
	}
	env.CurlMaxTime = r.cfg.Diagnose.CurlMaxTime
	env.LogWindow = r.cfg.Diagnose.LogWindow
	return devicecheck.Resolved{Device: d, Target: t, Env: env}, nil
}

// checkCredentialSite refuses a credential whose credentials.X.sites does not
// list site. It is checked here, before any secret is read, because config may
// have changed since the device was imported.
func (r *Resolver) checkCredentialSite(cred, site string) error {
	if cr, ok := r.cfg.Credentials[cred]; ok && !cr.AllowsSite(site) {
		return fmt.Errorf("credential %q may not be used by site %q (credentials.%s.sites: %s): %w",
			cred, site, cred, strings.Join(cr.Sites, ", "), ErrCredentialNotForSite)
	}
	return nil
}

func (r *Resolver) credential(name string) (runner.Credential, error) {
	rc, err := r.cfg.ResolveCredential(name)
	if err != nil {
		return runner.Credential{}, err
	}
	return runner.Credential{
		Name: rc.Name, Username: rc.Username, Password: rc.Password.Reveal(),
		SudoPassword: rc.SudoPassword.Reveal(), PrivateKeyPEM: []byte(rc.PrivateKey.Reveal()),
		Passphrase: rc.KeyPassphrase.Reveal(), UseAgent: rc.UseAgent, Certificate: rc.Certificate,
	}, nil
}
