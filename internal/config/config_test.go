package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const examplePath = "../../config/fleetd.example.yaml"

// minimal is a small valid file; tests append or replace lines.
const minimal = `
database:
  url: postgres://postgres@127.0.0.1:5432/fleetd
sites:
  emea:
    region: eu
    timezone: Europe/Amsterdam
    maintenance_window:
      weekdays: sun
      start: 02:00
      duration: 2h
credentials:
  lab:
    username: admin
    password_env: FLEETD_LAB_PASSWORD
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fleetd.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestLoadExample(t *testing.T) {
	t.Parallel()
	cfg, err := Load(examplePath)
	require.NoError(t, err)

	require.Equal(t, []string{"amer", "apjc", "emea"}, cfg.SiteNames())
	require.Equal(t, []string{"lab"}, cfg.CredentialNames())
	emea := cfg.Sites["emea"]
	require.Equal(t, "eu", emea.Region)
	require.Equal(t, "Europe/Amsterdam", emea.Timezone)
	require.Equal(t, MaintenanceWindow{Weekdays: []string{"sun"}, Start: "02:00", Duration: 2 * time.Hour}, emea.MaintenanceWindow)
	require.Equal(t, HostKeyStrict, emea.HostKeyPolicy)
	require.Equal(t, 15*time.Minute, emea.RebootTimeout)
	require.Equal(t, "us", cfg.Sites["amer"].Region)
	require.Equal(t, "apj", cfg.Sites["apjc"].Region)
	require.Equal(t, Credential{Username: "admin", PasswordEnv: "FLEETD_LAB_PASSWORD", Sites: []string{}}, cfg.Credentials["lab"])
	require.Equal(t, DefaultRegions(), cfg.Regions)
	require.Equal(t, "0 3 * * *", cfg.Schedules[0].Cron)
	require.True(t, cfg.Schedules[0].Selector.All)

	r, err := cfg.Region("emea")
	require.NoError(t, err)
	require.Equal(t, "api.eu.sse.itd.cisco.com", r.API)

	// The example documents every default: loading it must give Default()'s values
	// for the sections it does not customise.
	def := Default()
	require.Equal(t, def.Runner, cfg.Runner)
	require.Equal(t, def.Diagnose, cfg.Diagnose)
	require.Equal(t, def.Remediation, cfg.Remediation)
	require.Equal(t, def.API, cfg.API)
	require.Equal(t, def.Log, cfg.Log)
	require.Equal(t, def.Database, cfg.Database)
}

// Every fixed key must appear in the example: it is the documentation.
func TestExampleDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(examplePath)
	require.NoError(t, err)
	keys := fixedKeys(reflect.TypeOf(Config{}), "")
	// Keys under named entries and list items.
	for _, k := range fixedKeys(reflect.TypeOf(Site{}), "") {
		keys = append(keys, "sites.emea."+k)
	}
	for _, k := range fixedKeys(reflect.TypeOf(Credential{}), "") {
		keys = append(keys, "credentials.lab."+k)
	}
	require.Greater(t, len(keys), 30)
	for _, key := range keys {
		leaf := key[strings.LastIndex(key, ".")+1:]
		require.Contains(t, string(body), leaf+":", "example does not document %s", key)
	}
}

func TestLoadMinimalAppliesDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load(writeConfig(t, minimal))
	require.NoError(t, err)
	require.Equal(t, Default().Runner, cfg.Runner)
	require.Equal(t, "02:00", cfg.Sites["emea"].MaintenanceWindow.Start, "unquoted 02:00 must stay a string")
	require.Equal(t, []string{"sun"}, cfg.Sites["emea"].MaintenanceWindow.Weekdays, "a single weekday is a one-element list")
	require.Equal(t, HostKeyStrict, cfg.Sites["emea"].HostKeyPolicy)
	require.Equal(t, DefaultRebootTimeout, cfg.Sites["emea"].RebootTimeout)
	require.False(t, cfg.Sites["emea"].LegacySSH, "legacy SSH algorithms are opt-in")

	cfg, err = Load(writeConfig(t, strings.Replace(minimal, "region: eu", "region: eu\n    legacy_ssh: true", 1)))
	require.NoError(t, err)
	require.True(t, cfg.Sites["emea"].LegacySSH)
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string
	}{
		{
			name: "unknown region",
			body: strings.Replace(minimal, "region: eu", "region: europe", 1),
			want: []string{`sites.emea.region: unknown region "europe" (known: apj, eu, us)`},
		},
		{
			name: "unknown key in a site",
			body: strings.Replace(minimal, "region: eu", "region: eu\n    regoin: eu", 1),
			want: []string{"sites.emea.regoin: unknown key (known at sites.emea: allowed_networks, fmc_api, hostkey_policy, jump_hosts, legacy_ssh, maintenance_window"},
		},
		{
			name: "unknown top-level key",
			body: minimal + "sitez: {}\n",
			want: []string{"sitez: unknown key (known at top level:"},
		},
		{
			name: "unitless duration",
			body: minimal + "runner:\n  connect_timeout: 10\n",
			want: []string{`runner.connect_timeout: duration 10 has no unit`},
		},
		{
			name: "empty unknown section",
			body: minimal + "notifcations: {}\n",
			want: []string{"notifcations: unknown key"},
		},
		{
			name: "upper-case site name",
			body: strings.Replace(minimal, "  emea:", "  EMEA:", 1),
			want: []string{"sites.EMEA: names must be lower-case"},
		},
		{
			name: "not YAML",
			body: "sites: [\n",
			want: []string{"yaml: line"},
		},
		{
			name: "wrong type",
			body: minimal + "runner:\n  max_concurrent: lots\n",
			want: []string{"runner.max_concurrent: cannot parse value as 'int'"},
		},
		{
			name: "legacy_ssh is a boolean",
			body: strings.Replace(minimal, "region: eu", "region: eu\n    legacy_ssh: sometimes", 1),
			want: []string{"sites.emea.legacy_ssh: cannot parse value as 'bool'"},
		},
		{
			name: "negative device batch",
			body: minimal + "jobs:\n  diagnose_batch: -2\n",
			want: []string{"jobs.diagnose_batch: must be at least 1 (devices per device job; 0 = the default), got -2"},
		},
		{
			name: "wrong type inside a named entry",
			body: strings.Replace(minimal, "region: eu", "region: eu\n    max_concurrent: many", 1),
			want: []string{"sites.emea.max_concurrent: cannot parse value as 'int'"},
		},
		{
			name: "several problems at once",
			body: strings.NewReplacer(
				"timezone: Europe/Amsterdam", "timezone: Europe/Amsterdm",
				"start: 02:00", "start: 25:00",
				"password_env: FLEETD_LAB_PASSWORD", "use_agent: false",
			).Replace(minimal) + "log:\n  format: xml\n",
			want: []string{
				`sites.emea.timezone: unknown time zone "Europe/Amsterdm"`,
				`sites.emea.maintenance_window.start: want HH:MM (24-hour), got "25:00"`,
				"credentials.lab: no secret source",
				`log.format: unknown format "xml"`,
			},
		},
		{
			name: "schedule selector",
			body: minimal + "schedules:\n  - name: nightly\n    cron: '0 3 * *'\n    selector: {site: emae}\n",
			want: []string{
				`schedules[0].cron: want 5 fields`,
				`schedules[0].selector.site: unknown site "emae" (known: emea)`,
			},
		},
		{
			name: "jump host credential",
			body: strings.Replace(minimal, "region: eu", "region: eu\n    jump_hosts:\n      - {address: 'bastion:0', credential: nope}", 1),
			want: []string{
				`sites.emea.jump_hosts[0].address: bad port "0"`,
				`sites.emea.jump_hosts[0].credential: unknown credential "nope" (known: lab)`,
			},
		},
		{
			name: "tls half set",
			body: minimal + "api:\n  listen: 0.0.0.0:8443\n  tls:\n    cert_file: /x.pem\n",
			want: []string{"api.tls: cert_file and key_file must be set together"},
		},
		{
			name: "schedule that never fires, webhooks",
			body: minimal + "schedules:\n  - name: feb30\n    cron: '0 0 30 2 *'\n    selector: {all: true}\n" +
				"notifications:\n  backoff: 1m\n  max_backoff: 10s\n  webhooks:\n" +
				"    - {name: noc, url: 'http://127.0.0.1:9/x', format: teams, events: [sweep.done]}\n" +
				"    - {name: noc, url: 'http://127.0.0.1:9/y'}\n",
			want: []string{
				`schedules[0].cron: "0 0 30 2 *" never fires`,
				`notifications.webhooks[0].format: unknown format "teams" (known: json, slack, webex)`,
				`notifications.webhooks[0].events[0]: unknown event "sweep.done"`,
				`notifications.webhooks[1].name: "noc" already used by notifications.webhooks[0]`,
				`notifications.max_backoff: 10s is shorter than notifications.backoff 1m0s`,
			},
		},
		{
			name: "console",
			body: minimal + "ui:\n  public_url: 'fleetd.example.net/x?y=1'\n  session_idle: 2h\n  session_max_age: 1h\n",
			want: []string{
				`ui.session_max_age: 1h0m0s is shorter than ui.session_idle 2h0m0s`,
				`ui.public_url: want an absolute http(s) URL without query, e.g. https://fleetd.example.net, got "fleetd.example.net/x?y=1"`,
			},
		},
		{
			name: "bad allowed network, unknown credential site",
			body: strings.Replace(minimal, "region: eu", "region: eu\n    allowed_networks: [10.20.0.0/16, 10.20.0.7/16, 10.30.0.0]", 1) +
				"    sites: [emea, asia]\n",
			want: []string{
				`sites.emea.allowed_networks[2]: not a CIDR network such as 10.20.0.0/16 or 2001:db8::/32: "10.30.0.0"`,
			},
		},
		{
			name: "network with host bits, credential site unknown",
			body: strings.Replace(minimal, "region: eu", "region: eu\n    allowed_networks: [10.20.0.7/16]", 1) +
				"    sites: [emea, asia, emea]\n",
			want: []string{
				`sites.emea.allowed_networks[0]: 10.20.0.7/16 has host bits set (did you mean 10.20.0.0/16?)`,
				`credentials.lab.sites[1]: unknown site "asia" (known: emea)`,
				`credentials.lab.sites[2]: site "emea" listed twice`,
			},
		},
		{
			name: "unknown key inside a list item",
			body: minimal + "schedules:\n  - name: nightly\n    cron: '0 3 * * *'\n    selector: {all: true}\n    every: 1d\n",
			want: []string{"schedules[0].every: unknown key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeConfig(t, tt.body))
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadDatabaseURLErrorHidesValue(t *testing.T) {
	t.Parallel()
	_, err := Load(writeConfig(t, strings.Replace(minimal, "postgres://postgres@127.0.0.1:5432/fleetd", "s3cr3tpass-not-a-url", 1)))
	require.ErrorContains(t, err, "database.url: not a PostgreSQL connection string")
	require.NotContains(t, err.Error(), "s3cr3tpass")
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorContains(t, err, "nope.yaml")
}

func TestLoadRegionsExtendAndReplace(t *testing.T) {
	t.Parallel()
	body := strings.Replace(minimal, "region: eu", "region: mars", 1) + `
regions:
  mars:
    api: api.mars.example
    est: est.mars.example
    mx: mx01.mars.example
    dex: dex.mars.example
    eventing: eventing-ingest.mars.example
  us:
    api: api.us2.example
    est: est.us2.example
    mx: mx.us2.example
    dex: dex.us2.example
    eventing: ev.us2.example
`
	cfg, err := Load(writeConfig(t, body))
	require.NoError(t, err)
	require.Equal(t, DefaultRegions()["eu"], cfg.Regions["eu"], "built-in regions not named in the file stay")
	require.Equal(t, "api.us2.example", cfg.Regions["us"].API)
	r, err := cfg.Region("emea")
	require.NoError(t, err)
	require.Equal(t, "eventing-ingest.mars.example", r.Eventing)

	// Replacing a region replaces it whole: a partial entry is an error naming the missing key.
	_, err = Load(writeConfig(t, minimal+"regions:\n  eu:\n    api: api.eu2.example\n"))
	require.ErrorContains(t, err, "regions.eu.eventing: required")
}

// Not parallel: t.Setenv.
func TestLoadEnvironmentOverrides(t *testing.T) {
	t.Setenv("FLEETD_DATABASE_URL", "postgres://app:pw@db.internal:5432/fleetd")
	t.Setenv("FLEETD_API_LISTEN", "127.0.0.1:9999")         // api: not in the file
	t.Setenv("FLEETD_RUNNER_MAX_CONCURRENT", "42")          // int from a string
	t.Setenv("FLEETD_RUNNER_CONNECT_TIMEOUT", "3s")         // duration from a string
	t.Setenv("FLEETD_SITES_EMEA_HOSTKEY_POLICY", "tofu")    // not in the file: ignored
	t.Setenv("FLEETD_SITES_EMEA_TIMEZONE", "Europe/Berlin") // in the file: overrides
	cfg, err := Load(writeConfig(t, minimal))
	require.NoError(t, err)
	require.Equal(t, "postgres://app:pw@db.internal:5432/fleetd", cfg.Database.URL)
	require.Equal(t, "127.0.0.1:9999", cfg.API.Listen)
	require.Equal(t, 42, cfg.Runner.MaxConcurrent)
	require.Equal(t, 3*time.Second, cfg.Runner.ConnectTimeout)
	require.Equal(t, "Europe/Berlin", cfg.Sites["emea"].Timezone)
	require.Equal(t, HostKeyStrict, cfg.Sites["emea"].HostKeyPolicy)

	t.Setenv("FLEETD_RUNNER_MAX_CONCURRENT", "-1")
	_, err = Load(writeConfig(t, minimal))
	require.ErrorContains(t, err, "runner.max_concurrent: must be 0 (sized from memory) or at least 1, got -1")
}

// Not parallel: mutates DefaultPaths, which only Load("") reads.
func TestLoadDefaultPaths(t *testing.T) {
	old := DefaultPaths
	t.Cleanup(func() { DefaultPaths = old })
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	DefaultPaths = []string{missing, writeConfig(t, minimal)}
	cfg, err := Load("")
	require.NoError(t, err)
	require.Equal(t, []string{"emea"}, cfg.SiteNames())

	DefaultPaths = []string{missing}
	_, err = Load("")
	require.EqualError(t, err, "no config file found (looked in "+missing+"); pass --config FILE")
}

func TestValidateDefaultIsValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, Default().Validate())
}

func TestRedactedURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/fleetd":      "postgres://app:redacted@db:5432/fleetd",
		"postgres://app@db/fleetd?password=s3cret":  "postgres://app@db/fleetd?password=redacted",
		"host=db user=app password=s3cret dbname=x": "[unparsed connection string]",
		"postgres://postgres@127.0.0.1:5432/fleetd": "postgres://postgres@127.0.0.1:5432/fleetd",
	} {
		got := Database{URL: in}.RedactedURL()
		require.Equal(t, want, got)
		require.NotContains(t, got, "s3cret")
	}
}

func TestResolveCredential(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("FilePass1\n"), 0o600))
	keyFile := filepath.Join(dir, "id")
	require.NoError(t, os.WriteFile(keyFile, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600))
	notKey := filepath.Join(dir, "notkey")
	require.NoError(t, os.WriteFile(notKey, []byte("TopSecretContent"), 0o600))

	cfg := Default()
	cfg.Credentials = map[string]Credential{
		"lab":      {Username: "admin", PasswordEnv: "LAB_PW"},
		"file":     {Username: "admin", PasswordFile: pwFile, SudoPasswordEnv: "SUDO_PW"},
		"key":      {Username: "svc", KeyFile: keyFile, SudoPasswordEnv: "SUDO_PW"},
		"unset":    {Username: "admin", PasswordEnv: "UNSET_PW"},
		"empty":    {Username: "admin", PasswordEnv: "EMPTY_PW"},
		"nofile":   {Username: "admin", PasswordFile: filepath.Join(dir, "missing")},
		"notakey":  {Username: "svc", KeyFile: notKey, SudoPasswordEnv: "SUDO_PW"},
		"needsudo": {Username: "svc", KeyFile: keyFile, SudoPasswordEnv: "UNSET_SUDO"},
	}
	require.NoError(t, cfg.Validate())
	env := map[string]string{"LAB_PW": "Admin123", "SUDO_PW": "SudoPass9", "EMPTY_PW": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	lab, err := cfg.resolveCredential("lab", lookup, os.ReadFile)
	require.NoError(t, err)
	require.Equal(t, "admin", lab.Username)
	require.Equal(t, "Admin123", lab.Password.Reveal())
	require.Equal(t, "Admin123", lab.SudoPassword.Reveal(), "sudo password defaults to the login password")

	f, err := cfg.resolveCredential("file", lookup, os.ReadFile)
	require.NoError(t, err)
	require.Equal(t, "FilePass1", f.Password.Reveal(), "trailing newline stripped")
	require.Equal(t, "SudoPass9", f.SudoPassword.Reveal())

	k, err := cfg.resolveCredential("key", lookup, os.ReadFile)
	require.NoError(t, err)
	require.False(t, k.Password.IsSet())
	require.Contains(t, k.PrivateKey.Reveal(), "OPENSSH PRIVATE KEY")

	for name, want := range map[string]string{
		"unset":    `credential "unset": environment variable UNSET_PW (password_env) is not set`,
		"empty":    `credential "empty": environment variable EMPTY_PW (password_env) is empty`,
		"nofile":   `credential "nofile": password_file ` + filepath.Join(dir, "missing") + `: no such file or directory`,
		"notakey":  `credential "notakey": key_file ` + notKey + ` is not a PEM private key`,
		"needsudo": `credential "needsudo": environment variable UNSET_SUDO (sudo_password_env) is not set`,
		"nosuch":   `credential "nosuch": unknown credential`,
	} {
		_, err := cfg.resolveCredential(name, lookup, os.ReadFile)
		require.EqualError(t, err, want)
		for _, secret := range []string{"Admin123", "SudoPass9", "FilePass1", "TopSecretContent"} {
			require.NotContains(t, err.Error(), secret)
		}
	}
}

func TestLoadAllowedNetworksAndCredentialSites(t *testing.T) {
	t.Parallel()
	body := strings.Replace(minimal, "region: eu", "region: eu\n    allowed_networks: [10.20.0.0/16, \"2001:db8::/32\"]", 1) +
		"    sites: [emea]\n"
	cfg, err := Load(writeConfig(t, body))
	require.NoError(t, err)
	emea := cfg.Sites["emea"]
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}, emea.AllowedNetworks)
	require.True(t, emea.AllowsAddr(netip.MustParseAddr("10.20.3.4")))
	require.True(t, emea.AllowsAddr(netip.MustParseAddr("::ffff:10.20.3.4")), "IPv4-mapped compares as IPv4")
	require.False(t, emea.AllowsAddr(netip.MustParseAddr("10.21.0.1")))
	require.False(t, emea.AllowsAddr(netip.MustParseAddr("127.0.0.1")))
	require.True(t, Site{}.AllowsAddr(netip.MustParseAddr("192.0.2.1")), "no networks: anywhere (today's behaviour)")
	require.True(t, cfg.Credentials["lab"].AllowsSite("emea"))
	require.False(t, cfg.Credentials["lab"].AllowsSite("amer"))
	require.True(t, Credential{}.AllowsSite("amer"), "no sites: any site")
	require.Empty(t, cfg.UnrestrictedSites())
	require.Empty(t, cfg.UnrestrictedCredentials())

	cfg, err = Load(writeConfig(t, minimal))
	require.NoError(t, err)
	require.Equal(t, []string{"emea"}, cfg.UnrestrictedSites())
	require.Equal(t, []string{"lab"}, cfg.UnrestrictedCredentials())
}

// A secret with a line break would be typed as two lines, the second one run
// by the root shell sudo opened: refused when the credential is resolved,
// naming the credential and never the secret.
func TestResolveCredentialRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	crFile := filepath.Join(dir, "pw-cr")
	require.NoError(t, os.WriteFile(crFile, []byte("Pass\rid -a\n"), 0o600))
	keyFile := filepath.Join(dir, "id")
	require.NoError(t, os.WriteFile(keyFile, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600))
	cfg := Default()
	cfg.Credentials = map[string]Credential{
		"nl":     {Username: "admin", PasswordEnv: "NL_PW"},
		"nul":    {Username: "admin", PasswordEnv: "NUL_PW"},
		"del":    {Username: "admin", PasswordEnv: "DEL_PW"},
		"cr":     {Username: "admin", PasswordFile: crFile},
		"sudo":   {Username: "admin", PasswordEnv: "OK_PW", SudoPasswordEnv: "NL_PW"},
		"phrase": {Username: "svc", KeyFile: keyFile, KeyPassphraseEnv: "TAB_PW", SudoPasswordEnv: "OK_PW"},
		"pem":    {Username: "svc", KeyFile: keyFile, SudoPasswordEnv: "OK_PW"},
	}
	require.NoError(t, cfg.Validate())
	env := map[string]string{
		"NL_PW": "Secret1\nrm -rf /", "NUL_PW": "Secret2\x00x", "DEL_PW": "Secret3\x7f", "TAB_PW": "Secret4\tx", "OK_PW": "Fine-Pass_5",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for name, want := range map[string]string{
		"nl":     `credential "nl": password_env (environment variable NL_PW) contains a control character`,
		"nul":    `credential "nul": password_env (environment variable NUL_PW) contains a control character`,
		"del":    `credential "del": password_env (environment variable DEL_PW) contains a control character`,
		"cr":     `credential "cr": password_file (` + crFile + `) contains a control character`,
		"sudo":   `credential "sudo": sudo_password_env (environment variable NL_PW) contains a control character`,
		"phrase": `credential "phrase": key_passphrase_env (environment variable TAB_PW) contains a control character`,
	} {
		_, err := cfg.resolveCredential(name, lookup, os.ReadFile)
		require.ErrorContains(t, err, want, name)
		for _, secret := range []string{"Secret1", "rm -rf", "Secret2", "Secret3", "Secret4", "Pass", "id -a", "Fine-Pass_5"} {
			require.NotContains(t, err.Error(), secret, name)
		}
	}
	pem, err := cfg.resolveCredential("pem", lookup, os.ReadFile)
	require.NoError(t, err, "a PEM key holds newlines and is never typed")
	require.Contains(t, pem.PrivateKey.Reveal(), "\n")
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	rc := ResolvedCredential{Name: "lab", Username: "admin", Password: "Admin123", SudoPassword: "Admin123", PrivateKey: "PEMDATA"}
	outputs := []string{
		fmt.Sprintf("%v %+v %s %q %x %#v", rc, rc, rc.Password, rc.Password, rc.Password, rc),
		fmt.Sprint(rc.Password),
	}
	b, err := json.Marshal(rc)
	require.NoError(t, err)
	outputs = append(outputs, string(b))

	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("connecting", zap.Any("cred", rc), zap.Stringer("pw", rc.Password))
	enc, err := json.Marshal(logs.All()[0].ContextMap())
	require.NoError(t, err)
	outputs = append(outputs, string(enc))

	for _, out := range outputs {
		require.NotContains(t, out, "Admin123")
		require.NotContains(t, out, "PEMDATA")
		require.Contains(t, out, "redacted")
	}
	require.Contains(t, string(b), `"Username":"admin"`)
}
