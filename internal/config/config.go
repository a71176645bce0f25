package config

import (
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"time"
	_ "time/tzdata" // sites name IANA zones; embed the database so minimal images without /usr/share/zoneinfo still validate

	"github.com/fleetd/fleetd/pkg/remediate/window"
)

// Config is fleetd's whole configuration. Add a section by adding a field with
// a mapstructure tag, its defaults in Default and its checks in Validate.
type Config struct {
	Database    Database              `mapstructure:"database" json:"database"`
	API         API                   `mapstructure:"api" json:"api"`
	Log         Log                   `mapstructure:"log" json:"log"`
	Regions     map[string]Region     `mapstructure:"regions" json:"regions"`
	Sites       map[string]Site       `mapstructure:"sites" json:"sites"`
	Credentials map[string]Credential `mapstructure:"credentials" json:"credentials"`
	// JumpChains are named ProxyJump chains a device selects with the
	// inventory tag jump=NAME (overriding its site's jump_hosts; jump=none:
	// direct).
	JumpChains    map[string][]JumpHost `mapstructure:"jump_chains" json:"jump_chains"`
	Runner        Runner                `mapstructure:"runner" json:"runner"`
	Diagnose      Diagnose              `mapstructure:"diagnose" json:"diagnose"`
	Jobs          Jobs                  `mapstructure:"jobs" json:"jobs"`
	Remediation   Remediation           `mapstructure:"remediation" json:"remediation"`
	Schedules     []Schedule            `mapstructure:"schedules" json:"schedules"`
	Notifications Notifications         `mapstructure:"notifications" json:"notifications"`
	Metrics       Metrics               `mapstructure:"metrics" json:"metrics"`
	UI            UI                    `mapstructure:"ui" json:"ui"`
	Incidents     Incidents             `mapstructure:"incidents" json:"incidents"`
	Retention     Retention             `mapstructure:"retention" json:"retention"`
}

// Database says where PostgreSQL is.
type Database struct {
	// URL is a libpq/pgx connection string. It may hold a password: log RedactedURL, never URL.
	URL string `mapstructure:"url" json:"-"`
	// MaxConns caps the pgx pool; workers, the API and River share it.
	MaxConns int32 `mapstructure:"max_conns" json:"max_conns"`
}

// RedactedURL returns the URL with any password replaced, fit for logs.
func (d Database) RedactedURL() string {
	u, err := url.Parse(d.URL)
	if err != nil || u.Scheme == "" {
		// Keyword form ("host=... password=...") or garbage: say nothing rather than risk a secret.
		return "[unparsed connection string]"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// API is the HTTP/JSON server fleetctl talks to.
type API struct {
	Listen       string `mapstructure:"listen" json:"listen"`
	TLS          TLS    `mapstructure:"tls" json:"tls"`
	MaxBodyBytes int64  `mapstructure:"max_body_bytes" json:"max_body_bytes"`
	// ShutdownGrace is how long `fleetd serve` lets requests and jobs finish
	// after SIGTERM; then jobs are cancelled (their SSH sessions closed) and
	// the process exits a few seconds later whatever is still blocked.
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace" json:"shutdown_grace"`
}

// TLS is optional; both files or neither.
type TLS struct {
	CertFile string `mapstructure:"cert_file" json:"cert_file"`
	KeyFile  string `mapstructure:"key_file" json:"key_file"`
}

// Enabled reports whether the API should serve HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Log configures zap.
type Log struct {
	Level  string `mapstructure:"level" json:"level"`   // debug, info, warn, error
	Format string `mapstructure:"format" json:"format"` // json, console
}

// Region is one SSE cloud region's endpoints (docs/firepower.md §2). Host names only.
type Region struct {
	API      string `mapstructure:"api" json:"api"`
	EST      string `mapstructure:"est" json:"est"`
	MX       string `mapstructure:"mx" json:"mx"`
	DEX      string `mapstructure:"dex" json:"dex"`
	Eventing string `mapstructure:"eventing" json:"eventing"`
}

// Site is a group of devices sharing an SSE region, a time zone, a maintenance
// window and connection policy.
type Site struct {
	Region            string            `mapstructure:"region" json:"region"`
	Timezone          string            `mapstructure:"timezone" json:"timezone"`
	MaintenanceWindow MaintenanceWindow `mapstructure:"maintenance_window" json:"maintenance_window"`
	HostKeyPolicy     string            `mapstructure:"hostkey_policy" json:"hostkey_policy"` // strict | tofu
	MaxConcurrent     int               `mapstructure:"max_concurrent" json:"max_concurrent"` // 0 = only the global runner limit
	RebootTimeout     time.Duration     `mapstructure:"reboot_timeout" json:"reboot_timeout"`
	JumpHosts         []JumpHost        `mapstructure:"jump_hosts" json:"jump_hosts"`
	// LegacySSH also offers the site's devices the SHA-1 key exchanges, CBC
	// ciphers, SHA-1 MACs and ssh-rsa host keys old appliances may need
	// (a device tag legacy_ssh=true|false overrides it per device).
	LegacySSH bool `mapstructure:"legacy_ssh" json:"legacy_ssh"`
	// AllowedNetworks are the networks the site's devices may live in (CIDR,
	// e.g. 10.20.0.0/16). A device address outside them is refused at import
	// and, for host names, when the name is resolved at connect time: a
	// credential is never sent to an address the site does not own. Empty
	// means anywhere (fleetd serve warns).
	AllowedNetworks []netip.Prefix `mapstructure:"allowed_networks" json:"allowed_networks"`
	// FMCAPI is the site's use of its FMCs' REST API: the fmc.* checks of
	// diagnose and `fleetctl device sync --from FMC`.
	FMCAPI FMCAPI `mapstructure:"fmc_api" json:"fmc_api"`
}

// FMCAPI says how fleetd reaches a site's FMCs over their REST API
// (docs/firepower.md §5). The FMC's certificate is verified against CAFile
// when set, else pinned like a host key (recorded as pending on first
// contact, accepted with `fleetctl hostkey accept`; sites with
// hostkey_policy tofu pin it on first use). Never unverified.
type FMCAPI struct {
	Enabled bool `mapstructure:"enabled" json:"enabled"`
	// Credential is the API user (a credentials.<name>; its own user: an
	// API login logs the same user out of the UI). Default: the FMC's own
	// credential.
	Credential string `mapstructure:"credential" json:"credential,omitempty"`
	// Port of the REST API when a device has no api_address (default 443).
	Port int `mapstructure:"port" json:"port"`
	// CAFile is a PEM bundle the FMCs' certificates must chain to.
	CAFile string `mapstructure:"ca_file" json:"ca_file,omitempty"`
	// Domain is the FMC domain's name (default: the login's DOMAIN_UUID, Global).
	Domain string `mapstructure:"domain" json:"domain,omitempty"`
	// RateLimit is fleetd's requests a minute per FMC (default 110; FMCs
	// allow about 120).
	RateLimit int `mapstructure:"rate_limit" json:"rate_limit"`
	// Timeout bounds each REST request (default 30s).
	Timeout time.Duration `mapstructure:"timeout" json:"timeout"`
	// SyncInterval, when set, syncs the inventory from every FMC of the
	// site this often (a River periodic job on the leader), as `fleetctl
	// device sync --from FMC` does; SyncPrune also removes the devices an
	// FMC no longer lists. Default 0: only by hand.
	SyncInterval time.Duration `mapstructure:"sync_interval" json:"sync_interval"`
	SyncPrune    bool          `mapstructure:"sync_prune" json:"sync_prune"`
}

// FMC REST defaults (pkg/fmc has the same).
const (
	DefaultFMCAPIPort      = 443
	DefaultFMCAPIRateLimit = 110
	DefaultFMCAPITimeout   = 30 * time.Second
)

// AllowsAddr reports whether ip lies in one of the site's allowed networks
// (always true when the site has none). IPv4-mapped IPv6 addresses are
// compared as IPv4.
func (s Site) AllowsAddr(ip netip.Addr) bool {
	if len(s.AllowedNetworks) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, n := range s.AllowedNetworks {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// Location returns the site's time zone (UTC if unset; Validate rejects unknown zones).
func (s Site) Location() *time.Location {
	if s.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Host-key policies: strict waits for `fleetctl hostkey accept`; tofu pins the first key seen.
const (
	HostKeyStrict = "strict"
	HostKeyTOFU   = "tofu"
)

// MaintenanceWindow is when reboots may run, in the site's time zone.
// The zero value means "no window": in-window reboots are refused.
type MaintenanceWindow struct {
	Weekdays []string      `mapstructure:"weekdays" json:"weekdays"` // sun..sat or sunday..saturday; one or several
	Start    string        `mapstructure:"start" json:"start"`       // "HH:MM", 24-hour, local time
	Duration time.Duration `mapstructure:"duration" json:"duration"`
}

// Window is the window as pkg/remediate/window computes it (IsSet, Next).
func (w MaintenanceWindow) Window() window.Window { return window.Window(w) }

// JumpHost is an SSH bastion the runner goes through, in order.
type JumpHost struct {
	Address    string `mapstructure:"address" json:"address"`       // host or host:port
	Credential string `mapstructure:"credential" json:"credential"` // a credentials.<name>
	// HostKey is the bastion's pinned host-key fingerprint ("SHA256:..."):
	// jump hosts are not in the inventory, so their identity is pinned here.
	HostKey string `mapstructure:"host_key" json:"host_key"`
}

// Credential says where a device login's secrets are; it never holds them.
type Credential struct {
	Username         string `mapstructure:"username" json:"username"`
	PasswordEnv      string `mapstructure:"password_env" json:"password_env,omitempty"`
	PasswordFile     string `mapstructure:"password_file" json:"password_file,omitempty"`
	KeyFile          string `mapstructure:"key_file" json:"key_file,omitempty"`
	KeyPassphraseEnv string `mapstructure:"key_passphrase_env" json:"key_passphrase_env,omitempty"`
	SudoPasswordEnv  string `mapstructure:"sudo_password_env" json:"sudo_password_env,omitempty"` // default: the login password
	UseAgent         bool   `mapstructure:"use_agent" json:"use_agent,omitempty"`                 // SSH_AUTH_SOCK
	CertificateFile  string `mapstructure:"certificate_file" json:"certificate_file,omitempty"`   // OpenSSH user certificate for key_file/agent key
	// Sites are the sites whose devices may use this credential; a device of
	// another site naming it is refused at import and at connect time. Empty
	// means every site (fleetd serve warns).
	Sites []string `mapstructure:"sites" json:"sites,omitempty"`
}

// AllowsSite reports whether a device of site may use the credential.
func (c Credential) AllowsSite(site string) bool {
	return len(c.Sites) == 0 || slices.Contains(c.Sites, site)
}

// Methods lists where this credential's secrets come from (config key names),
// e.g. ["password_env", "key_file"]. Safe to store and show.
func (c Credential) Methods() []string {
	var m []string
	add := func(set bool, name string) {
		if set {
			m = append(m, name)
		}
	}
	add(c.PasswordEnv != "", "password_env")
	add(c.PasswordFile != "", "password_file")
	add(c.KeyFile != "", "key_file")
	add(c.KeyPassphraseEnv != "", "key_passphrase_env")
	add(c.SudoPasswordEnv != "", "sudo_password_env")
	add(c.UseAgent, "use_agent")
	add(c.CertificateFile != "", "certificate_file")
	return m
}

// Runner bounds the SSH fan-out.
type Runner struct {
	MaxConcurrent  int           `mapstructure:"max_concurrent" json:"max_concurrent"`
	StartRate      float64       `mapstructure:"start_rate" json:"start_rate"` // new SSH connections per second; 0 = unlimited
	ConnectTimeout time.Duration `mapstructure:"connect_timeout" json:"connect_timeout"`
	CommandTimeout time.Duration `mapstructure:"command_timeout" json:"command_timeout"`
	SessionTimeout time.Duration `mapstructure:"session_timeout" json:"session_timeout"`
	Retry          Retry         `mapstructure:"retry" json:"retry"`
}

// Retry applies to connection set-up only: a command is never re-sent.
type Retry struct {
	Attempts int           `mapstructure:"attempts" json:"attempts"` // total tries, >= 1
	Backoff  time.Duration `mapstructure:"backoff" json:"backoff"`   // wait before the 2nd try, doubled after
}

// Diagnose tunes the checks.
type Diagnose struct {
	CurlMaxTime time.Duration `mapstructure:"curl_max_time" json:"curl_max_time"` // curl --max-time per SSE endpoint
	LogWindow   time.Duration `mapstructure:"log_window" json:"log_window"`       // connector.log errors older than this are ignored
}

// Jobs tunes the durable job queue (River) that every fleetd process on the
// database shares.
type Jobs struct {
	// DiagnoseWorkers is how many device jobs this process works at once
	// (0: runner.max_concurrent ÷ DiagnoseBatch, rounded up). The runner's
	// limits still apply.
	DiagnoseWorkers int `mapstructure:"diagnose_workers" json:"diagnose_workers"`
	// DiagnoseBatch is how many of a run's devices one device job carries
	// (their sessions run at once); 1 is one job per device.
	DiagnoseBatch int `mapstructure:"diagnose_batch" json:"diagnose_batch"`
	// MaxAttempts bounds the attempts of a device job; only transient
	// failures (device unreachable) are retried.
	MaxAttempts int           `mapstructure:"max_attempts" json:"max_attempts"`
	RetryDelay  time.Duration `mapstructure:"retry_delay" json:"retry_delay"`
	// RescueAfter is how long a job may stay running before it is assumed
	// lost with its process and handed to another one (0: runner.session_timeout + 1m).
	RescueAfter time.Duration `mapstructure:"rescue_after" json:"rescue_after"`
	// ClientID names this process in the job queue; unique among running
	// replicas, stable across its restarts (default: host name + api.listen).
	ClientID string `mapstructure:"client_id" json:"client_id"`
	// HeartbeatInterval and ReplicaDeadAfter: every process writes a
	// heartbeat; the running device jobs of a replica silent for
	// ReplicaDeadAfter are handed to live workers (0: 5s and 30s).
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval" json:"heartbeat_interval"`
	ReplicaDeadAfter  time.Duration `mapstructure:"replica_dead_after" json:"replica_dead_after"`
}

// Remediation tunes requests and their execution.
type Remediation struct {
	ApprovalTTL      time.Duration `mapstructure:"approval_ttl" json:"approval_ttl"`
	BatchSize        int           `mapstructure:"batch_size" json:"batch_size"`
	FailureThreshold int           `mapstructure:"failure_threshold" json:"failure_threshold"` // failed devices before later batches are not started
}

// Schedule is a periodic diagnose sweep.
type Schedule struct {
	Name     string   `mapstructure:"name" json:"name"`
	Cron     string   `mapstructure:"cron" json:"cron"`         // 5 fields: minute hour day-of-month month day-of-week
	Timezone string   `mapstructure:"timezone" json:"timezone"` // IANA; default UTC
	Selector Selector `mapstructure:"selector" json:"selector"`
	// Enabled is the schedule's state at start (default true). A run-time
	// `fleetctl schedule disable|enable` wins until this value changes.
	Enabled *bool `mapstructure:"enabled" json:"enabled,omitempty"`
	// CreateRemediationRequests lets a finished sweep open restart-connector
	// requests for the devices whose diagnosis that cures; a person still
	// approves them. Default false.
	CreateRemediationRequests bool `mapstructure:"create_remediation_requests" json:"create_remediation_requests"`
}

// IsEnabled reports the configured state (unset means enabled).
func (s Schedule) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Selector picks devices: exactly one of All, Site, Tag.
type Selector struct {
	All  bool   `mapstructure:"all" json:"all,omitempty"`
	Site string `mapstructure:"site" json:"site,omitempty"`
	Tag  string `mapstructure:"tag" json:"tag,omitempty"` // k=v
}

// Notifications says where sweep results are sent.
type Notifications struct {
	Webhooks []Webhook `mapstructure:"webhooks" json:"webhooks"`
	// MaxAttempts bounds the deliveries of one event to one webhook.
	MaxAttempts int `mapstructure:"max_attempts" json:"max_attempts"`
	// Timeout bounds one delivery (HTTP request).
	Timeout time.Duration `mapstructure:"timeout" json:"timeout"`
	// Backoff is the wait before the first retry; it doubles after each
	// failure, up to MaxBackoff.
	Backoff    time.Duration `mapstructure:"backoff" json:"backoff"`
	MaxBackoff time.Duration `mapstructure:"max_backoff" json:"max_backoff"`
}

// Webhook payload formats and event names (pkg/notify).
var (
	WebhookFormats = []string{"json", "slack", "webex"}
	WebhookEvents  = []string{"sweep.completed", "approval.pending", "remediation.finished"}
)

// Metrics tunes the Prometheus metrics served at GET /metrics (viewer role).
type Metrics struct {
	// RefreshInterval is how often the database gauges (job queue depth,
	// approvals pending) are re-read.
	RefreshInterval time.Duration `mapstructure:"refresh_interval" json:"refresh_interval"`
}

// UI is the web console served at /ui/ on the API's listener.
type UI struct {
	// Enabled serves the console (default true).
	Enabled bool `mapstructure:"enabled" json:"enabled"`
	// PublicURL is where people reach fleetd (https://fleetd.example.net):
	// notification links point at the console's pages under it. Empty: no
	// links.
	PublicURL string `mapstructure:"public_url" json:"public_url"`
	// SessionIdle ends a console session not used for this long.
	SessionIdle time.Duration `mapstructure:"session_idle" json:"session_idle"`
	// SessionMaxAge ends a console session this long after sign-in.
	SessionMaxAge time.Duration `mapstructure:"session_max_age" json:"session_max_age"`
}

// Incidents are the thresholds of fleet-level incidents (pkg/incident): a
// group of devices (a site, an FMC's FTDs, a software version, a
// credential's users, a jump chain's devices) is one incident when at least
// MinDevices of them share the diagnosis and they are at least MinShare of
// the group.
type Incidents struct {
	MinDevices int     `mapstructure:"min_devices" json:"min_devices"`
	MinShare   float64 `mapstructure:"min_share" json:"min_share"`
}

// Retention bounds the history in the database (pkg/runs' periodic prune,
// hourly on the elected leader). 0 keeps forever.
type Retention struct {
	// Runs: finished runs older than this are deleted with their results,
	// transcripts and sweep reports (default 90d; at least 7d).
	Runs time.Duration `mapstructure:"runs" json:"runs"`
	// Transcripts: the transcripts of runs finished longer ago than this are
	// deleted, their results kept (default 14d).
	Transcripts time.Duration `mapstructure:"transcripts" json:"transcripts"`
}

// Webhook is an HTTP POST target. Chat webhooks embed a secret in the URL, so
// url_env lets the URL itself live in the environment.
type Webhook struct {
	Name   string   `mapstructure:"name" json:"name"`
	URL    string   `mapstructure:"url" json:"-"`
	URLEnv string   `mapstructure:"url_env" json:"url_env,omitempty"`
	Events []string `mapstructure:"events" json:"events"` // empty = all
	Format string   `mapstructure:"format" json:"format"` // json (default) | slack | webex
}

// DefaultRegions is the SSE region table of docs/firepower.md §2. Config may
// override an entry (all five endpoints) or add regions.
func DefaultRegions() map[string]Region {
	return map[string]Region{
		"us": {API: "api-sse.cisco.com", EST: "est.sco.cisco.com", MX: "mx01.sse.itd.cisco.com",
			DEX: "dex.sse.itd.cisco.com", Eventing: "eventing-ingest.sse.itd.cisco.com"},
		"eu": {API: "api.eu.sse.itd.cisco.com", EST: "est.sco.cisco.com", MX: "mx01.eu.sse.itd.cisco.com",
			DEX: "dex.eu.sse.itd.cisco.com", Eventing: "eventing-ingest.eu.sse.itd.cisco.com"},
		"apj": {API: "api.apj.sse.itd.cisco.com", EST: "est.sco.cisco.com", MX: "mx01.apj.sse.itd.cisco.com",
			DEX: "dex.apj.sse.itd.cisco.com", Eventing: "eventing-ingest.apj.sse.itd.cisco.com"},
	}
}

// Site defaults, applied to every site by Load for keys the file leaves out.
const (
	DefaultHostKeyPolicy = HostKeyStrict
	DefaultTimezone      = "UTC"
	DefaultRebootTimeout = 15 * time.Minute
)

// Default returns the configuration used for every key the file and
// environment leave unset.
func Default() Config {
	return Config{
		Database: Database{
			URL:      "postgres://postgres@127.0.0.1:5432/fleetd?sslmode=disable",
			MaxConns: 20,
		},
		API: API{
			Listen:        "127.0.0.1:8080",
			MaxBodyBytes:  8 << 20, // an inventory of 50,000 devices is ~4 MiB of CSV
			ShutdownGrace: 15 * time.Second,
		},
		Log:         Log{Level: "info", Format: "json"},
		Regions:     DefaultRegions(),
		Sites:       map[string]Site{},
		Credentials: map[string]Credential{},
		Runner: Runner{
			MaxConcurrent: 0, // automatic: runner.AutoMaxConcurrent

			StartRate:      500,
			ConnectTimeout: 10 * time.Second,
			CommandTimeout: 30 * time.Second,
			SessionTimeout: 2 * time.Minute,
			Retry:          Retry{Attempts: 2, Backoff: 2 * time.Second},
		},
		Diagnose: Diagnose{CurlMaxTime: 10 * time.Second, LogWindow: 15 * time.Minute},
		Jobs:     Jobs{MaxAttempts: 3, RetryDelay: 2 * time.Second, DiagnoseBatch: 8},
		Notifications: Notifications{MaxAttempts: 8, Timeout: 10 * time.Second, Backoff: 10 * time.Second,
			MaxBackoff: 30 * time.Minute},
		UI:        UI{Enabled: true, SessionIdle: 30 * time.Minute, SessionMaxAge: 12 * time.Hour},
		Metrics:   Metrics{RefreshInterval: 15 * time.Second},
		Incidents: Incidents{MinDevices: 3, MinShare: 0.5},
		Retention: Retention{Runs: 90 * 24 * time.Hour, Transcripts: 14 * 24 * time.Hour},
		Remediation: Remediation{
			ApprovalTTL:      24 * time.Hour,
			BatchSize:        10,
			FailureThreshold: 3,
		},
	}
}

func applySiteDefaults(s Site) Site {
	if s.Timezone == "" {
		s.Timezone = DefaultTimezone
	}
	if s.HostKeyPolicy == "" {
		s.HostKeyPolicy = DefaultHostKeyPolicy
	}
	if s.RebootTimeout == 0 {
		s.RebootTimeout = DefaultRebootTimeout
	}
	if s.FMCAPI.Port == 0 {
		s.FMCAPI.Port = DefaultFMCAPIPort
	}
	if s.FMCAPI.RateLimit == 0 {
		s.FMCAPI.RateLimit = DefaultFMCAPIRateLimit
	}
	if s.FMCAPI.Timeout == 0 {
		s.FMCAPI.Timeout = DefaultFMCAPITimeout
	}
	return s
}

// UnrestrictedSites lists the sites without allowed_networks and
// UnrestrictedCredentials the credentials without sites, sorted: fleetd
// serve warns about both, since either lets an operator point a credential
// at any address.
func (c Config) UnrestrictedSites() []string {
	var out []string
	for _, name := range c.SiteNames() {
		if len(c.Sites[name].AllowedNetworks) == 0 {
			out = append(out, name)
		}
	}
	return out
}

// UnrestrictedCredentials: see UnrestrictedSites.
func (c Config) UnrestrictedCredentials() []string {
	var out []string
	for _, name := range c.CredentialNames() {
		if len(c.Credentials[name].Sites) == 0 {
			out = append(out, name)
		}
	}
	return out
}

// SiteNames returns the configured site names, sorted.
func (c Config) SiteNames() []string { return sortedKeys(c.Sites) }

// CredentialNames returns the configured credential names, sorted.
func (c Config) CredentialNames() []string { return sortedKeys(c.Credentials) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
