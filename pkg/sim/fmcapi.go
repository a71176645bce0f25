package sim

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// The FMC REST API as docs/firepower.md §5 describes it: every simulated FMC
// serves it over HTTPS on its own address with a self-signed certificate of
// its own. Tokens, domains, paging, the status codes and the JSON shapes are
// the FMC's; the faults cloud-events-off ... api-down change its answers.

// GlobalDomainUUID is the Global domain's UUID, the same on every FMC.
const GlobalDomainUUID = "e276abec-e0f2-11e3-8169-6d9ed49b625f"

// fmcAPI is one FMC's REST state.
type fmcAPI struct {
	certOnce sync.Once
	cert     tls.Certificate

	mu        sync.Mutex
	managed   []*Device            // the FTDs devicerecords lists (Release and Rename change it)
	names     map[*Device]string   // a managed FTD's name on the FMC when renamed there
	issued    []string             // every token handed out (tests check none leaks)
	tokens    map[string]*apiToken // by access token
	byRefresh map[string]*apiToken
	recent    []time.Time // request times within the last minute (api-rate-limit)
	srv       *http.Server

	port                        atomic.Int32
	requests, logins, refreshes atomic.Int64
}

type apiToken struct {
	access, refresh string
	issued, expires time.Time
	refreshes       int
}

// APIAddr is the FMC's REST address (host:port), "" for an FTD.
func (d *Device) APIAddr() string {
	if d.api == nil {
		return ""
	}
	return net.JoinHostPort(d.ip.String(), strconv.Itoa(int(d.api.port.Load())))
}

// ManagedBy is the name of the FMC that manages this FTD ("" for none).
func (d *Device) ManagedBy() string {
	if d.managedBy == nil {
		return ""
	}
	return d.managedBy.name
}

// APICertificate is the FMC's self-signed certificate (DER), nil for an
// FTD. It is derived from the seed and the name, so it survives restarts.
func (d *Device) APICertificate() []byte {
	if d.api == nil {
		return nil
	}
	return d.apiCert().Certificate[0]
}

// APIFingerprint is the certificate's SHA-256 fingerprint in the form of
// host keys and fleetd's pins ("SHA256:" + unpadded base64), "" for an FTD.
func (d *Device) APIFingerprint() string {
	der := d.APICertificate()
	if der == nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func (d *Device) apiCert() tls.Certificate {
	d.api.certOnce.Do(func() {
		seed := sha256.Sum256(d.hostKeySeed('t'))
		key := ed25519.NewKeyFromSeed(seed[:])
		serial := new(big.Int).SetUint64(devRand(d.fleet.cfg.Seed, d.name, "cert-serial") >> 1)
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: d.hostname, Organization: []string{"Cisco Systems, Inc."}, OrganizationalUnit: []string{"Firepower Management Center (simulated)"}},
			NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2044, 1, 1, 0, 0, 0, 0, time.UTC),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:     []string{d.name},
			IPAddresses:  []net.IP{d.ip.AsSlice()},
			// Self-signed, as FMCs ship: the certificate is its own root.
			BasicConstraintsValid: true, IsCA: true,
		}
		der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
		if err != nil {
			panic(fmt.Sprintf("sim: certificate of %s: %v", d.name, err)) // fixed template: cannot happen
		}
		d.api.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return d.api.cert
}

// fmcBlocks is what the managing FMC's settings do to this FTD: cloud
// events off or a licence in evaluation/unregistered keeps it from
// enrolling; another cloud region points it at that region.
func (d *Device) fmcBlocks() (notEnrolled, otherRegion bool) {
	m := d.managedBy
	if m == nil {
		return false, false
	}
	m.mu.Lock()
	fl := m.flags
	m.mu.Unlock()
	return fl.has(FaultCloudEventsOff) || fl.has(FaultLicenseEvaluation) || fl.has(FaultLicenseUnregistered),
		fl.has(FaultCloudRegionOther)
}

// assignManagers links every FTD to its FMC by name (named, from
// managerNames) and gives every FMC its REST API state.
func (f *Fleet) assignManagers(named map[string]string) error {
	for _, d := range f.devices {
		if d.kind.InventoryKind() == "fmc" {
			d.api = &fmcAPI{tokens: map[string]*apiToken{}, byRefresh: map[string]*apiToken{}, names: map[*Device]string{}}
		}
	}
	for _, d := range f.devices {
		if d.kind.InventoryKind() != "ftd" {
			continue
		}
		if name := named[d.name]; name != "" {
			m := f.byName[name]
			if m == nil || m.api == nil {
				return fmt.Errorf("device %q: managed_by %q is not an FMC of the fleet", d.name, name)
			}
			d.managedBy = m
		}
		if d.managedBy != nil {
			d.managedBy.api.managed = append(d.managedBy.api.managed, d)
		}
	}
	return nil
}

// listenAPI starts the FMC's HTTPS server.
func (f *Fleet) listenAPI(d *Device) error {
	port := f.cfg.APIPort
	if f.cfg.PortBase > 0 {
		port = 0 // one address for the fleet: the SSH ports are taken
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(d.ip.String(), strconv.Itoa(port)))
	if err != nil && port != 0 && f.cfg.APIPortFallback && errors.Is(err, syscall.EACCES) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(d.ip.String(), "0"))
	}
	if err != nil {
		return fmt.Errorf("device %s: REST API: %w", d.name, err)
	}
	d.api.port.Store(int32(ln.Addr().(*net.TCPAddr).Port))
	srv := &http.Server{
		Handler:           d.apiHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{d.apiCert()}, MinVersion: tls.VersionTLS12},
		ErrorLog:          zap.NewStdLog(f.log.Named("rest")),
	}
	d.api.mu.Lock()
	d.api.srv = srv
	d.api.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.log.Warn("REST API stopped", zap.String("device", d.name), zap.Error(err))
		}
	}()
	return nil
}

func (d *Device) closeAPI() {
	if d.api == nil {
		return
	}
	d.api.mu.Lock()
	srv := d.api.srv
	d.api.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// apiError writes the FMC's error envelope.
func apiError(w http.ResponseWriter, code int, msg string) {
	writeAPIJSON(w, code, map[string]any{"error": map[string]any{"category": "FRAMEWORK", "severity": "ERROR",
		"messages": []map[string]string{{"description": msg}}}})
}

func writeAPIJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (d *Device) apiHandler() http.Handler {
	cfg := &d.fleet.cfg
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/fmc_platform/v1/auth/generatetoken", func(w http.ResponseWriter, r *http.Request) {
		user, pw, ok := r.BasicAuth()
		if !ok || user != cfg.Username || pw != cfg.Password || d.hasFlag(FaultAuthFailure) {
			apiError(w, http.StatusUnauthorized, "Invalid username or password")
			return
		}
		d.api.logins.Add(1)
		d.issueToken(w, 0)
	})
	mux.HandleFunc("POST /api/fmc_platform/v1/auth/refreshtoken", func(w http.ResponseWriter, r *http.Request) {
		a := d.api
		a.mu.Lock()
		t := a.byRefresh[r.Header.Get("X-auth-refresh-token")]
		ok := t != nil && t.access == r.Header.Get("X-auth-access-token") && t.refreshes < 3
		if ok {
			delete(a.tokens, t.access)
			delete(a.byRefresh, t.refresh)
		}
		a.mu.Unlock()
		if !ok {
			apiError(w, http.StatusUnauthorized, "Invalid refresh token")
			return
		}
		a.refreshes.Add(1)
		d.issueToken(w, t.refreshes+1)
	})
	mux.HandleFunc("GET /api/fmc_platform/v1/license/smartlicenses", d.authed(func(w http.ResponseWriter, r *http.Request) {
		status, auth, eval := "REGISTERED", "AUTHORIZED", 0
		switch {
		case d.hasFlag(FaultLicenseEvaluation):
			status, auth, eval = "EVALUATION", "EVALUATION", 77
		case d.hasFlag(FaultLicenseUnregistered):
			status, auth = "UNREGISTERED", "UNREGISTERED"
		}
		item := map[string]any{"type": "SmartLicense", "regStatus": status, "metadata": map[string]any{
			"authStatus": auth, "evalUsed": eval > 0, "evalExpiresInDays": eval, "virtualAccount": "LAB-" + strings.ToUpper(d.site)}}
		d.writePage(w, r, []any{item})
	}))
	domain := "/api/fmc_config/v1/domain/{domain}"
	mux.HandleFunc("GET "+domain+"/integration/cloudeventsconfigs", d.authed(func(w http.ResponseWriter, r *http.Request) {
		if !d.domainOK(w, r) {
			return
		}
		on := !d.hasFlag(FaultCloudEventsOff)
		d.writePage(w, r, []any{map[string]any{"id": d.uuid(), "type": "CloudEventsConfig", "sendIntrusionEvents": on,
			"sendFileEvents": on, "sendConnectionEvents": false, "sendAllConnectionEvents": on}})
	}))
	mux.HandleFunc("GET "+domain+"/integration/cloudregions", d.authed(func(w http.ResponseWriter, r *http.Request) {
		if !d.domainOK(w, r) {
			return
		}
		current := d.region
		if d.hasFlag(FaultCloudRegionOther) {
			current = otherRegion(d.region)
		}
		var items []any
		for _, reg := range []struct{ key, label string }{{"us", "AMERICAS"}, {"eu", "EUROPE"}, {"apj", "APJC"}} {
			items = append(items, map[string]any{"id": "region-" + reg.key, "type": "CloudRegion",
				"name": reg.label + " (" + Regions[reg.key].API + ")", "current": reg.key == current})
		}
		d.writePage(w, r, items)
	}))
	mux.HandleFunc("GET "+domain+"/devices/devicerecords", d.authed(func(w http.ResponseWriter, r *http.Request) {
		if !d.domainOK(w, r) {
			return
		}
		expanded := r.URL.Query().Get("expanded") == "true"
		d.api.mu.Lock()
		managed := append([]*Device(nil), d.api.managed...)
		names := make([]string, len(managed))
		for i, m := range managed {
			names[i] = d.api.names[m]
		}
		d.api.mu.Unlock()
		items := make([]any, 0, len(managed))
		for i, m := range managed {
			items = append(items, m.deviceRecord(names[i], expanded))
		}
		d.writePage(w, r, items)
	}))
	mux.HandleFunc("GET "+domain+"/integration/securexconfigs", d.authed(func(w http.ResponseWriter, r *http.Request) {
		if !d.domainOK(w, r) {
			return
		}
		d.writePage(w, r, []any{map[string]any{"type": "SecureXConfig", "enabled": !d.hasFlag(FaultCloudEventsOff), "clientId": ""}})
	}))
	return d.apiFaults(mux)
}

// apiFaults applies the transport faults before any handler runs.
func (d *Device) apiFaults(next http.Handler) http.Handler {
	cfg := &d.fleet.cfg
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.api.requests.Add(1)
		if d.hasFlag(FaultAPIDown) {
			w.Header().Set("Retry-After", "1")
			apiError(w, http.StatusServiceUnavailable, "The server is temporarily unavailable")
			return
		}
		if d.hasFlag(FaultAPISlow) {
			t := time.NewTimer(cfg.scaled(cfg.APISlowLatency))
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if d.hasFlag(FaultAPIRateLimit) && !d.api.allow(cfg.APIRateLimit) {
			w.Header().Set("Retry-After", "1")
			apiError(w, http.StatusTooManyRequests, "Too many requests")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allow counts a request against a limit per sliding minute.
func (a *fmcAPI) allow(limit int) bool {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	keep := a.recent[:0]
	for _, t := range a.recent {
		if now.Sub(t) < time.Minute {
			keep = append(keep, t)
		}
	}
	a.recent = keep
	if len(a.recent) >= limit {
		return false
	}
	a.recent = append(a.recent, now)
	return true
}

func (d *Device) issueToken(w http.ResponseWriter, refreshes int) {
	life := d.fleet.cfg.APITokenLife
	if d.hasFlag(FaultTokenExpiry) {
		life = d.fleet.cfg.APIShortTokenLife
	}
	now := time.Now()
	t := &apiToken{access: newToken(), refresh: newToken(), issued: now, expires: now.Add(life), refreshes: refreshes}
	a := d.api
	a.mu.Lock()
	a.tokens[t.access] = t
	a.byRefresh[t.refresh] = t
	if len(a.issued) < 10_000 {
		a.issued = append(a.issued, t.access, t.refresh)
	}
	a.mu.Unlock()
	h := w.Header()
	h.Set("X-auth-access-token", t.access)
	h.Set("X-auth-refresh-token", t.refresh)
	h.Set("DOMAIN_UUID", GlobalDomainUUID)
	h.Set("DOMAINS", `[{"name":"Global","uuid":"`+GlobalDomainUUID+`"}]`)
	w.WriteHeader(http.StatusNoContent)
}

// authed answers 401 "Access token invalid" to an unknown or expired token.
func (d *Device) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := d.api
		a.mu.Lock()
		t := a.tokens[r.Header.Get("X-auth-access-token")]
		now := time.Now()
		ok := t != nil && now.Before(t.expires)
		if ok && d.hasFlag(FaultTokenExpiry) {
			// The fault cuts short the tokens handed out before it too.
			ok = now.Before(t.issued.Add(d.fleet.cfg.APIShortTokenLife))
		}
		a.mu.Unlock()
		if !ok {
			apiError(w, http.StatusUnauthorized, "Access token invalid.")
			return
		}
		h(w, r)
	}
}

func (d *Device) domainOK(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("domain") != GlobalDomainUUID {
		apiError(w, http.StatusNotFound, "Invalid domain "+r.PathValue("domain"))
		return false
	}
	return true
}

// writePage answers a list with the FMC's paging: limit default 25, at
// most 1000; next links while items remain.
func (d *Device) writePage(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 25
	}
	limit = min(limit, 1000)
	offset = max(0, min(offset, len(items)))
	end := min(len(items), offset+limit)
	paging := map[string]any{"offset": offset, "limit": limit, "count": len(items), "pages": (len(items) + limit - 1) / limit}
	if end < len(items) {
		nq := r.URL.Query()
		nq.Set("offset", strconv.Itoa(end))
		nq.Set("limit", strconv.Itoa(limit))
		paging["next"] = []string{"https://" + r.Host + r.URL.Path + "?" + nq.Encode()}
	}
	self := "https://" + r.Host + r.URL.RequestURI()
	writeAPIJSON(w, http.StatusOK, map[string]any{"links": map[string]string{"self": self}, "items": items[offset:end], "paging": paging})
}

// deviceRecord is the FTD as its FMC's devicerecords lists it. hostName is
// where fleetd reaches it: the simulated address (with the port when it is
// not 22, a liberty real FMCs do not need).
func (d *Device) deviceRecord(name string, expanded bool) map[string]any {
	if name == "" {
		name = d.name
	}
	rec := map[string]any{"id": d.uuid(), "type": "Device", "name": name}
	if !expanded {
		return rec
	}
	st := d.State()
	health := "green"
	if len(d.Faults()) > 0 {
		health = "red"
	}
	rec["hostName"] = d.inventoryAddress()
	rec["model"] = d.model.name
	rec["sw_version"] = d.rel.version
	rec["healthStatus"] = health
	rec["ftdMode"] = "ROUTED"
	rec["isConnected"] = st.Phase == phaseUp
	rec["metadata"] = map[string]any{"deviceSerialNumber": fmt.Sprintf("JAD%08X", uint32(devRand(d.fleet.cfg.Seed, d.name, "serial")))}
	return rec
}

// APICounters are the REST API's counters of one FMC.
type APICounters struct {
	Requests  int64 `json:"requests"`
	Logins    int64 `json:"logins"`
	Refreshes int64 `json:"refreshes"`
}

// APICounters returns the FMC's REST counters (zero for an FTD).
func (d *Device) APICounters() APICounters {
	if d.api == nil {
		return APICounters{}
	}
	return APICounters{Requests: d.api.requests.Load(), Logins: d.api.logins.Load(), Refreshes: d.api.refreshes.Load()}
}

// ErrNotManaged: the FTD is not (or no longer) listed by an FMC.
var ErrNotManaged = errors.New("not listed by an FMC")

// Release drops the FTD from its FMC's devicerecords, as deleting it on the
// FMC does (its SSH side and its FMC's effect on it stay).
func (d *Device) Release() error {
	m := d.managedBy
	if m == nil {
		return fmt.Errorf("%s: %w", d.name, ErrNotManaged)
	}
	m.api.mu.Lock()
	defer m.api.mu.Unlock()
	for i, x := range m.api.managed {
		if x == d {
			m.api.managed = append(m.api.managed[:i:i], m.api.managed[i+1:]...)
			delete(m.api.names, d)
			return nil
		}
	}
	return fmt.Errorf("%s: %w", d.name, ErrNotManaged)
}

// RenameOnFMC makes the FTD's FMC list it under another name, as renaming
// it in the FMC UI does; the simulated device keeps its own name.
func (d *Device) RenameOnFMC(name string) error {
	m := d.managedBy
	if m == nil {
		return fmt.Errorf("%s: %w", d.name, ErrNotManaged)
	}
	m.api.mu.Lock()
	defer m.api.mu.Unlock()
	m.api.names[d] = name
	return nil
}

// APITokensIssued lists every token the FMC handed out (access and
// refresh), so tests can check that none is logged or stored.
func (d *Device) APITokensIssued() []string {
	if d.api == nil {
		return nil
	}
	d.api.mu.Lock()
	defer d.api.mu.Unlock()
	return append([]string(nil), d.api.issued...)
}
