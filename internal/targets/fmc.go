package targets

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/fmc"
	"github.com/fleetd/fleetd/pkg/inventory"
)

// ErrRESTDisabled: the device's site does not use its FMCs' REST API
// (sites.X.fmc_api.enabled), or the device is not an FMC.
var ErrRESTDisabled = errors.New("FMC REST API not enabled")

// CertStore keeps FMC REST certificates with the host keys
// (pkg/inventory.Store).
type CertStore interface {
	CheckCertificate(ctx context.Context, device, addr string, der []byte, policy string) error
	PinnedCertificate(ctx context.Context, device string) ([]byte, error)
}

// FMCs turns an inventory FMC into a REST client of its API (address, API
// user, TLS trust) and keeps one client per FMC, so that its token and its
// rate limit are shared by every diagnose and sync of this process.
type FMCs struct {
	cfg     config.Config
	devices DeviceGetter
	certs   CertStore

	mu      sync.Mutex
	clients map[string]*fmc.Client // by fmcKey
}

// NewFMCs returns the FMCs' REST resolver.
func NewFMCs(cfg config.Config, devices DeviceGetter, certs CertStore) *FMCs {
	return &FMCs{cfg: cfg, devices: devices, certs: certs, clients: map[string]*fmc.Client{}}
}

// Close drops the clients' idle connections.
func (f *FMCs) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clients {
		c.Close()
	}
}

// Enabled reports whether d's REST API is used.
func (f *FMCs) Enabled(d inventory.Device) bool {
	return d.Kind == inventory.KindFMC && f.cfg.Sites[d.Site].FMCAPI.Enabled
}

// APIAddr is where d's REST API listens: its api_address, else its
// address's host on the site's fmc_api.port.
func (f *FMCs) APIAddr(d inventory.Device) string {
	if d.APIAddress != "" {
		return d.APIAddress
	}
	host, _, err := net.SplitHostPort(d.SSHAddr())
	if err != nil {
		host = d.Address
	}
	port := f.cfg.Sites[d.Site].FMCAPI.Port
	if port == 0 {
		port = config.DefaultFMCAPIPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Client returns the REST client of FMC d, logging in with the site's API
// user (fmc_api.credential, else the FMC's own credential).
func (f *FMCs) Client(d inventory.Device) (*fmc.Client, error) {
	if !f.Enabled(d) {
		if d.Kind != inventory.KindFMC {
			return nil, fmt.Errorf("device %s is a %s, not an FMC: %w", d.Name, d.Kind, ErrRESTDisabled)
		}
		return nil, fmt.Errorf("device %s: sites.%s.fmc_api.enabled is false: %w", d.Name, d.Site, ErrRESTDisabled)
	}
	site := f.cfg.Sites[d.Site]
	credName := site.FMCAPI.Credential
	if credName == "" {
		credName = d.Credential
	}
	if cr, ok := f.cfg.Credentials[credName]; ok && !cr.AllowsSite(d.Site) {
		return nil, fmt.Errorf("device %s: credential %q may not be used by site %q: %w", d.Name, credName, d.Site, ErrCredentialNotForSite)
	}
	rc, err := f.cfg.ResolveCredential(credName)
	if err != nil {
		return nil, fmt.Errorf("device %s: REST API user: %w", d.Name, err)
	}
	password := rc.Password.Reveal()
	addr := f.APIAddr(d)
	sum := sha256.Sum256([]byte(password))
	key := strings.Join([]string{d.Name, addr, rc.Username, hex.EncodeToString(sum[:]), site.FMCAPI.CAFile, site.HostKeyPolicy,
		site.FMCAPI.Domain, strconv.Itoa(site.FMCAPI.RateLimit), site.FMCAPI.Timeout.String()}, "\x00")
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[key]; ok {
		return c, nil
	}
	cfg := fmc.Config{Address: addr, Username: rc.Username, Password: password, Domain: site.FMCAPI.Domain,
		RateLimit: site.FMCAPI.RateLimit, Timeout: site.FMCAPI.Timeout}
	if site.FMCAPI.CAFile != "" {
		pem, err := os.ReadFile(site.FMCAPI.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sites.%s.fmc_api.ca_file: %w", d.Site, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sites.%s.fmc_api.ca_file %s: no PEM certificate in it", d.Site, site.FMCAPI.CAFile)
		}
		cfg.TLS = fmc.TLS{CAs: pool}
	} else {
		cfg.TLS = fmc.TLS{Pin: certPins{store: f.certs, device: d.Name, policy: site.HostKeyPolicy}}
	}
	c, err := fmc.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", d.Name, err)
	}
	// A client of an FMC whose address or API user changed is not reused.
	for k, old := range f.clients {
		if strings.HasPrefix(k, d.Name+"\x00") {
			old.Close()
			delete(f.clients, k)
		}
	}
	f.clients[key] = c
	return c, nil
}

// Check makes the REST checks ids names (nil: all) on FMC d. It returns
// false when d's REST API is not used (not an FMC, or the site has it off):
// then no fmc.* check is reported. trace receives the REST transcript.
func (f *FMCs) Check(ctx context.Context, d inventory.Device, env diagnose.Env, ids []string, trace func(string)) ([]diagnose.CheckResult, bool) {
	if !f.Enabled(d) {
		return nil, false
	}
	// Bounded like an SSH session: a hostile or stalled FMC costs at most
	// session_timeout (R7).
	if st := f.cfg.Runner.SessionTimeout; st > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st)
		defer cancel()
	}
	c, err := f.Client(d)
	if err != nil {
		out := make([]diagnose.CheckResult, 0, len(diagnose.FMCCheckIDs()))
		for _, id := range diagnose.FMCCheckIDs() {
			if len(ids) == 0 || containsID(ids, id) {
				out = append(out, diagnose.CheckResult{ID: id, Verdict: diagnose.VerdictError, Summary: "FMC REST API: " + err.Error(),
					Evidence: map[string]any{}})
			}
		}
		return out, true
	}
	if trace != nil {
		ctx = fmc.WithTrace(ctx, trace)
	}
	return fmc.RunChecks(ctx, c, fmc.Site{Region: env.Region, APIHost: env.Endpoints.API}, ids), true
}

func containsID(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// DeviceRecords loads FMC name and reads the FTDs it manages.
func (f *FMCs) DeviceRecords(ctx context.Context, name string) (inventory.Device, []inventory.SyncRecord, error) {
	d, err := f.devices.Get(ctx, name)
	if err != nil {
		return inventory.Device{}, nil, fmt.Errorf("device %s: %w", name, err)
	}
	c, err := f.Client(d)
	if err != nil {
		return d, nil, err
	}
	recs, err := c.DeviceRecords(ctx)
	if err != nil {
		return d, nil, fmt.Errorf("FMC %s: %s", name, fmc.Explain(err))
	}
	out := make([]inventory.SyncRecord, len(recs))
	for i, r := range recs {
		out[i] = inventory.SyncRecord{Name: r.Name, HostName: r.HostName, Model: r.Model, SWVersion: r.SWVersion,
			Health: r.HealthStatus, Connected: r.IsConnected}
	}
	return d, out, nil
}

// certPins is one FMC's pin store over the host-key table: the same
// policies, audit events and `fleetctl hostkey accept` as SSH host keys.
type certPins struct {
	store  CertStore
	device string
	policy string
}

func (p certPins) Pinned(ctx context.Context) ([]byte, error) {
	return p.store.PinnedCertificate(ctx, p.device)
}

func (p certPins) Presented(ctx context.Context, der []byte, addr string) error {
	err := p.store.CheckCertificate(ctx, p.device, addr, der, p.policy)
	fp := inventory.CertificateFingerprint(der)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, inventory.ErrHostKeyUnknown):
		return fmt.Errorf("%w: %s presented %s (fleetctl hostkey accept %s)", fmc.ErrCertificateUnknown, p.device, fp, p.device)
	case errors.Is(err, inventory.ErrHostKeyMismatch):
		return fmt.Errorf("%w: %s presented %s", fmc.ErrCertificateMismatch, p.device, fp)
	}
	return fmt.Errorf("certificate store: %w", err)
}
