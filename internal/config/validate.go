package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate/window"
	"github.com/fleetd/fleetd/pkg/sweep/cron"
)

var (
	// Entry names become viper keys (dots split keys) and appear in device
	// commands' context, so they are a small safe set.
	entryNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	usernameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tagPartRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	cronFieldRE = regexp.MustCompile(`^[0-9A-Za-z*,/?-]+$`)
)

// problems collects every validation error so that one run shows them all.
type problems []string

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, key+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	sort.Strings(p)
	return &ValidationError{Problems: p}
}

// ValidationError lists every problem found, each starting with the key.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid config: " + e.Problems[0]
	}
	return fmt.Sprintf("invalid config (%d problems):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Validate checks the whole configuration and reports every problem, each
// naming its key (e.g. `sites.emea.region: unknown region "europe" (known: apj, eu, us)`).
func (c Config) Validate() error {
	var p problems

	if strings.TrimSpace(c.Database.URL) == "" {
		p.add("database.url", "required")
	} else if !validDatabaseURL(c.Database.URL) {
		// The value may hold a password: never echo it.
		p.add("database.url", "not a PostgreSQL connection string (want postgres://user@host:port/db or \"host=... dbname=...\")")
	}
	if c.Database.MaxConns < 1 {
		p.add("database.max_conns", "must be at least 1, got %d", c.Database.MaxConns)
	}

	if err := checkListen(c.API.Listen); err != nil {
		p.add("api.listen", "%v", err)
	}
	if (c.API.TLS.CertFile == "") != (c.API.TLS.KeyFile == "") {
		p.add("api.tls", "cert_file and key_file must be set together")
	}
	if c.API.MaxBodyBytes < 1024 {
		p.add("api.max_body_bytes", "must be at least 1024, got %d", c.API.MaxBodyBytes)
	}
	positive(&p, "api.shutdown_grace", c.API.ShutdownGrace)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "unknown level %q (known: debug, info, warn, error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		p.add("log.format", "unknown format %q (known: console, json)", c.Log.Format)
	}

	if len(c.Regions) == 0 {
		p.add("regions", "at least one region is required")
	}
	for _, name := range sortedKeys(c.Regions) {
		r, key := c.Regions[name], "regions."+name
		if !entryNameRE.MatchString(name) {
			p.add(key, "bad region name %q (lower-case letters, digits, - and _)", name)
		}
		for _, f := range []struct{ k, v string }{{"api", r.API}, {"est", r.EST}, {"mx", r.MX}, {"dex", r.DEX}, {"eventing", r.Eventing}} {
			if f.v == "" {
				p.add(key+"."+f.k, "required")
			} else if !inventory.IsHostname(f.v) {
				p.add(key+"."+f.k, "not a host name: %q", f.v)
			}
		}
	}

	for _, name := range sortedKeys(c.Sites) {
		c.validateSite(&p, name, c.Sites[name])
	}
	for _, name := range sortedKeys(c.JumpChains) {
		key := "jump_chains." + name
		switch {
		case name == inventory.JumpNone || !validTagValue(name):
			p.add(key, "bad chain name %q (letters, digits, '.', '_', '-'; not %q)", name, inventory.JumpNone)
		case len(c.JumpChains[name]) == 0:
			p.add(key, "a chain needs at least one jump host")
		}
		c.validateJumpHosts(&p, key, c.JumpChains[name])
	}
	for _, name := range sortedKeys(c.Credentials) {
		validateCredential(&p, name, c.Credentials[name])
		c.validateCredentialSites(&p, name, c.Credentials[name])
	}

	if c.Jobs.DiagnoseWorkers < 0 {
		p.add("jobs.diagnose_workers", "must not be negative, got %d", c.Jobs.DiagnoseWorkers)
	}
	if c.Jobs.DiagnoseBatch < 0 {
		p.add("jobs.diagnose_batch", "must be at least 1 (devices per device job; 0 = the default), got %d", c.Jobs.DiagnoseBatch)
	}
	if c.Jobs.MaxAttempts < 1 {
		p.add("jobs.max_attempts", "must be at least 1, got %d", c.Jobs.MaxAttempts)
	}
	if c.Jobs.HeartbeatInterval < 0 || c.Jobs.ReplicaDeadAfter < 0 {
		p.add("jobs", "heartbeat_interval and replica_dead_after must not be negative")
	} else if c.Jobs.ReplicaDeadAfter != 0 {
		beat := cmp.Or(c.Jobs.HeartbeatInterval, 5*time.Second)
		if c.Jobs.ReplicaDeadAfter < 3*beat {
			p.add("jobs.replica_dead_after", "%v is shorter than three heartbeats (jobs.heartbeat_interval %v): a live replica would be taken for dead",
				c.Jobs.ReplicaDeadAfter, beat)
		}
	}
	if c.Jobs.RetryDelay < 0 || c.Jobs.RescueAfter < 0 {
		p.add("jobs", "retry_delay and rescue_after must not be negative")
	}
	if c.Jobs.RescueAfter != 0 && c.Jobs.RescueAfter <= c.Runner.SessionTimeout {
		p.add("jobs.rescue_after", "%v must be longer than runner.session_timeout %v, or a slow device's job would be run twice",
			c.Jobs.RescueAfter, c.Runner.SessionTimeout)
	}
	r := c.Runner
	if r.MaxConcurrent < 0 {
		p.add("runner.max_concurrent", "must be 0 (sized from memory) or at least 1, got %d", r.MaxConcurrent)
	}
	if r.StartRate < 0 {
		p.add("runner.start_rate", "must not be negative, got %v", r.StartRate)
	}
	positive(&p, "runner.connect_timeout", r.ConnectTimeout)
	positive(&p, "runner.command_timeout", r.CommandTimeout)
	positive(&p, "runner.session_timeout", r.SessionTimeout)
	if r.SessionTimeout > 0 && r.CommandTimeout > r.SessionTimeout {
		p.add("runner.command_timeout", "%v is longer than runner.session_timeout %v", r.CommandTimeout, r.SessionTimeout)
	}
	if r.Retry.Attempts < 1 {
		p.add("runner.retry.attempts", "must be at least 1, got %d", r.Retry.Attempts)
	}
	if r.Retry.Backoff < 0 {
		p.add("runner.retry.backoff", "must not be negative, got %v", r.Retry.Backoff)
	}

	// curl_max_time is pasted into a device command as whole seconds.
	if c.Diagnose.CurlMaxTime < time.Second || c.Diagnose.CurlMaxTime > 5*time.Minute || c.Diagnose.CurlMaxTime%time.Second != 0 {
		p.add("diagnose.curl_max_time", "must be whole seconds between 1s and 5m, got %v", c.Diagnose.CurlMaxTime)
	}
	positive(&p, "diagnose.log_window", c.Diagnose.LogWindow)

	positive(&p, "remediation.approval_ttl", c.Remediation.ApprovalTTL)
	if c.Remediation.BatchSize < 1 {
		p.add("remediation.batch_size", "must be at least 1, got %d", c.Remediation.BatchSize)
	}
	if c.Remediation.FailureThreshold < 0 {
		p.add("remediation.failure_threshold", "must not be negative, got %d", c.Remediation.FailureThreshold)
	}

	seen := map[string]int{}
	for i, s := range c.Schedules {
		key := fmt.Sprintf("schedules[%d]", i)
		if !entryNameRE.MatchString(s.Name) {
			p.add(key+".name", "bad or missing name %q (lower-case letters, digits, - and _)", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			p.add(key+".name", "%q already used by schedules[%d]", s.Name, j)
		} else {
			seen[s.Name] = i
		}
		if err := checkCron(s.Cron); err != nil {
			p.add(key+".cron", "%v", err)
		} else if _, err := cron.Parse(s.Cron, ""); err != nil {
			p.add(key+".cron", "%v", err)
		}
		if s.Timezone != "" {
			if _, err := time.LoadLocation(s.Timezone); err != nil {
				p.add(key+".timezone", "unknown time zone %q", s.Timezone)
			}
		}
		c.validateSelector(&p, key+".selector", s.Selector)
	}

	seenHook := map[string]int{}
	for i, w := range c.Notifications.Webhooks {
		key := fmt.Sprintf("notifications.webhooks[%d]", i)
		if !entryNameRE.MatchString(w.Name) {
			p.add(key+".name", "bad or missing name %q", w.Name)
		}
		switch {
		case w.URL != "" && w.URLEnv != "":
			p.add(key, "set url or url_env, not both")
		case w.URL == "" && w.URLEnv == "":
			p.add(key, "url or url_env is required")
		case w.URL != "":
			if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				// Webhook URLs often carry a token: do not echo.
				p.add(key+".url", "not an http(s) URL")
			}
		default:
			if !envNameRE.MatchString(w.URLEnv) {
				p.add(key+".url_env", "not an environment variable name: %q", w.URLEnv)
			}
		}
		for j, ev := range w.Events {
			if !slices.Contains(WebhookEvents, ev) {
				p.add(fmt.Sprintf("%s.events[%d]", key, j), "unknown event %q (known: %s)", ev, strings.Join(WebhookEvents, ", "))
			}
		}
		if w.Format != "" && !slices.Contains(WebhookFormats, w.Format) {
			p.add(key+".format", "unknown format %q (known: %s)", w.Format, strings.Join(WebhookFormats, ", "))
		}
		if w.Name != "" {
			if j, dup := seenHook[w.Name]; dup {
				p.add(key+".name", "%q already used by notifications.webhooks[%d]", w.Name, j)
			} else {
				seenHook[w.Name] = i
			}
		}
	}
	if n := c.Notifications; n.MaxAttempts < 1 {
		p.add("notifications.max_attempts", "must be at least 1, got %d", n.MaxAttempts)
	}
	positive(&p, "notifications.timeout", c.Notifications.Timeout)
	positive(&p, "notifications.backoff", c.Notifications.Backoff)
	if c.Notifications.MaxBackoff < c.Notifications.Backoff {
		p.add("notifications.max_backoff", "%v is shorter than notifications.backoff %v", c.Notifications.MaxBackoff, c.Notifications.Backoff)
	}
	positive(&p, "metrics.refresh_interval", c.Metrics.RefreshInterval)
	positive(&p, "ui.session_idle", c.UI.SessionIdle)
	positive(&p, "ui.session_max_age", c.UI.SessionMaxAge)
	if c.UI.SessionMaxAge < c.UI.SessionIdle {
		p.add("ui.session_max_age", "%v is shorter than ui.session_idle %v", c.UI.SessionMaxAge, c.UI.SessionIdle)
	}
	if u := c.UI.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" ||
			pu.RawQuery != "" || pu.Fragment != "" || pu.User != nil {
			p.add("ui.public_url", "want an absolute http(s) URL without query, e.g. https://fleetd.example.net, got %q", u)
		}
	}
	if c.Incidents.MinDevices < 2 {
		p.add("incidents.min_devices", "must be at least 2 (one device is a device problem), got %d", c.Incidents.MinDevices)
	}
	if s := c.Incidents.MinShare; !(s > 0 && s <= 1) {
		p.add("incidents.min_share", "must be a share in (0, 1], got %g", s)
	}
	if r := c.Retention.Runs; r < 0 || r > 0 && r < 7*24*time.Hour {
		p.add("retention.runs", "must be 0 (keep forever) or at least 7d (a finished sweep's report is written within a week), got %v", r)
	}
	if r := c.Retention.Transcripts; r < 0 || r > 0 && r < time.Hour {
		p.add("retention.transcripts", "must be 0 (keep while the run is kept) or at least 1h, got %v", r)
	}

	return p.err()
}

func (c Config) validateSite(p *problems, name string, s Site) {
	key := "sites." + name
	if !entryNameRE.MatchString(name) {
		p.add(key, "bad site name %q (lower-case letters, digits, - and _, at most 63)", name)
	}
	if s.Region == "" {
		p.add(key+".region", "required (known: %s)", strings.Join(sortedKeys(c.Regions), ", "))
	} else if _, ok := c.Regions[s.Region]; !ok {
		p.add(key+".region", "unknown region %q (known: %s)", s.Region, strings.Join(sortedKeys(c.Regions), ", "))
	}
	if s.Timezone == "" {
		p.add(key+".timezone", "required (an IANA zone such as Europe/Amsterdam)")
	} else if _, err := time.LoadLocation(s.Timezone); err != nil {
		p.add(key+".timezone", "unknown time zone %q (want an IANA zone such as Europe/Amsterdam)", s.Timezone)
	}
	validateWindow(p, key+".maintenance_window", s.MaintenanceWindow)
	switch s.HostKeyPolicy {
	case HostKeyStrict, HostKeyTOFU:
	default:
		p.add(key+".hostkey_policy", "unknown policy %q (known: strict, tofu)", s.HostKeyPolicy)
	}
	if s.MaxConcurrent < 0 {
		p.add(key+".max_concurrent", "must not be negative, got %d", s.MaxConcurrent)
	}
	positive(p, key+".reboot_timeout", s.RebootTimeout)
	c.validateJumpHosts(p, key+".jump_hosts", s.JumpHosts)
	validateNetworks(p, key+".allowed_networks", s.AllowedNetworks)
	c.validateFMCAPI(p, key+".fmc_api", name, s.FMCAPI)
}

func (c Config) validateFMCAPI(p *problems, key, site string, a FMCAPI) {
	if a.Credential != "" {
		if cr, ok := c.Credentials[a.Credential]; !ok {
			p.add(key+".credential", "unknown credential %q (known: %s)", a.Credential, strings.Join(c.CredentialNames(), ", "))
		} else if !cr.AllowsSite(site) {
			p.add(key+".credential", "credential %q may not be used by site %q (credentials.%s.sites: %s)", a.Credential, site,
				a.Credential, strings.Join(cr.Sites, ", "))
		}
	}
	// Zero is the default (a config built in code has no defaults applied).
	if a.Port < 0 || a.Port > 65535 {
		p.add(key+".port", "want 1-65535, got %d", a.Port)
	}
	if a.RateLimit < 0 {
		p.add(key+".rate_limit", "want requests a minute, at least 1, got %d", a.RateLimit)
	}
	if a.SyncInterval < 0 || (a.SyncInterval > 0 && a.SyncInterval < time.Minute) {
		p.add(key+".sync_interval", "want 0 (off) or at least 1m, got %s", a.SyncInterval)
	}
	if a.Timeout < 0 {
		p.add(key+".timeout", "must be a positive duration such as \"30s\", got %s", a.Timeout)
	}
	if a.CAFile != "" {
		if _, err := os.Stat(a.CAFile); err != nil {
			p.add(key+".ca_file", "%v", err)
		}
	}
}

// validateNetworks wants canonical networks: "10.20.0.7/16" is most likely a
// typo for a host or for another network, and guessing would widen or narrow
// where credentials may go.
func validateNetworks(p *problems, key string, nets []netip.Prefix) {
	for i, n := range nets {
		nk := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case !n.IsValid():
			p.add(nk, "not a CIDR network such as 10.20.0.0/16")
		case n != n.Masked():
			p.add(nk, "%s has host bits set (did you mean %s?)", n, n.Masked())
		}
	}
}

func (c Config) validateCredentialSites(p *problems, name string, cr Credential) {
	seen := map[string]bool{}
	for i, s := range cr.Sites {
		sk := fmt.Sprintf("credentials.%s.sites[%d]", name, i)
		switch {
		case seen[s]:
			p.add(sk, "site %q listed twice", s)
		case !c.hasSite(s):
			p.add(sk, "unknown site %q (known: %s)", s, strings.Join(c.SiteNames(), ", "))
		}
		seen[s] = true
	}
}

func (c Config) hasSite(name string) bool {
	_, ok := c.Sites[name]
	return ok
}

func (c Config) validateJumpHosts(p *problems, key string, hops []JumpHost) {
	for i, j := range hops {
		jk := fmt.Sprintf("%s[%d]", key, i)
		if err := inventory.CheckAddress(j.Address); err != nil {
			p.add(jk+".address", "%v", err)
		}
		if !strings.HasPrefix(j.HostKey, "SHA256:") || len(j.HostKey) < 20 {
			p.add(jk+".host_key", "required: the jump host's key fingerprint, SHA256:... (ssh-keyscan HOST | ssh-keygen -lf -)")
		}
		if j.Credential == "" {
			p.add(jk+".credential", "required")
		} else if _, ok := c.Credentials[j.Credential]; !ok {
			p.add(jk+".credential", "unknown credential %q (known: %s)", j.Credential, strings.Join(c.CredentialNames(), ", "))
		}
	}
}

func validateWindow(p *problems, key string, w MaintenanceWindow) {
	if len(w.Weekdays) == 0 && w.Start == "" && w.Duration == 0 {
		return // no window
	}
	if len(w.Weekdays) == 0 {
		p.add(key+".weekdays", "required when a window is set (e.g. [sun])")
	}
	for i, d := range w.Weekdays {
		if _, ok := window.ParseWeekday(d); !ok {
			p.add(fmt.Sprintf("%s.weekdays[%d]", key, i), "unknown weekday %q (sun, mon, ... or sunday, monday, ...)", d)
		}
	}
	if !window.ValidStart(w.Start) {
		p.add(key+".start", "want HH:MM (24-hour), got %q", w.Start)
	}
	if w.Duration <= 0 || w.Duration > 24*time.Hour {
		p.add(key+".duration", "must be between 1m and 24h, got %v", w.Duration)
	}
}

func validateCredential(p *problems, name string, c Credential) {
	key := "credentials." + name
	if !entryNameRE.MatchString(name) {
		p.add(key, "bad credential name %q (lower-case letters, digits, - and _)", name)
	}
	if c.Username == "" {
		p.add(key+".username", "required")
	} else if !usernameRE.MatchString(c.Username) {
		p.add(key+".username", "bad user name %q (letters, digits, ., _ and -)", c.Username)
	}
	if c.PasswordEnv == "" && c.PasswordFile == "" && c.KeyFile == "" && !c.UseAgent {
		p.add(key, "no secret source: set password_env, password_file, key_file or use_agent")
	}
	if c.PasswordEnv != "" && c.PasswordFile != "" {
		p.add(key, "set password_env or password_file, not both")
	}
	for _, e := range []struct{ k, v string }{{"password_env", c.PasswordEnv}, {"key_passphrase_env", c.KeyPassphraseEnv}, {"sudo_password_env", c.SudoPasswordEnv}} {
		if e.v != "" && !envNameRE.MatchString(e.v) {
			p.add(key+"."+e.k, "not an environment variable name: %q", e.v)
		}
	}
	if c.KeyPassphraseEnv != "" && c.KeyFile == "" {
		p.add(key+".key_passphrase_env", "needs key_file")
	}
	if c.CertificateFile != "" && c.KeyFile == "" && !c.UseAgent {
		p.add(key+".certificate_file", "needs key_file or use_agent (the certificate's private key)")
	}
	if c.SudoPasswordEnv == "" && c.PasswordEnv == "" && c.PasswordFile == "" && (c.KeyFile != "" || c.UseAgent) {
		// Key-only logins still need sudo's password for the root level.
		p.add(key+".sudo_password_env", "required when the login has no password (sudo asks for one)")
	}
}

func (c Config) validateSelector(p *problems, key string, s Selector) {
	n := 0
	if s.All {
		n++
	}
	if s.Site != "" {
		n++
		if _, ok := c.Sites[s.Site]; !ok {
			p.add(key+".site", "unknown site %q (known: %s)", s.Site, strings.Join(c.SiteNames(), ", "))
		}
	}
	if s.Tag != "" {
		n++
		k, v, ok := strings.Cut(s.Tag, "=")
		if !ok || !tagPartRE.MatchString(k) || !tagPartRE.MatchString(v) {
			p.add(key+".tag", "want key=value of letters, digits, ., _ and -, got %q", s.Tag)
		}
	}
	if n != 1 {
		p.add(key, "set exactly one of all, site, tag")
	}
}

func positive(p *problems, key string, d time.Duration) {
	if d <= 0 {
		p.add(key, "must be a positive duration such as \"30s\", got %v", d)
	}
}

func validDatabaseURL(s string) bool {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		_, err := url.Parse(s)
		return err == nil
	}
	// libpq keyword/value form.
	return strings.Contains(s, "=")
}

func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port (e.g. 127.0.0.1:8080), got %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	if host != "" && net.ParseIP(host) == nil && !inventory.IsHostname(host) {
		return fmt.Errorf("bad host %q", host)
	}
	return nil
}

func checkCron(s string) error {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return errors.New("required (5 fields: minute hour day-of-month month day-of-week)")
	}
	if len(fields) != 5 {
		return fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week), got %d in %q", len(fields), s)
	}
	for _, f := range fields {
		if !cronFieldRE.MatchString(f) {
			return fmt.Errorf("bad field %q in %q", f, s)
		}
	}
	return nil
}

// Region returns the SSE region of a site.
func (c Config) Region(site string) (Region, error) {
	s, ok := c.Sites[site]
	if !ok {
		return Region{}, fmt.Errorf("unknown site %q", site)
	}
	r, ok := c.Regions[s.Region]
	if !ok {
		return Region{}, fmt.Errorf("site %q: unknown region %q", site, s.Region)
	}
	return r, nil
}

var tagValueRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,63}$`)

// validTagValue: chain names are used as inventory tag values (jump=NAME).
func validTagValue(s string) bool { return tagValueRE.MatchString(s) }
