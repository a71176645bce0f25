// Package config owns fleetd's typed configuration: the structs, their
// defaults, validation, and loading them with viper from a YAML file plus
// FLEETD_* environment variables. Only this package and cmd/ use viper; every
// other package receives the validated structs.
//
// API (stable; later issues add sections, never rename):
//
//	Load(path string) (Config, error)     // "" = ./config/fleetd.yaml, then /etc/fleetd/fleetd.yaml;
//	                                      // unknown keys, bad types and invalid values are errors naming the key
//	Default() Config                      // every default, including the built-in SSE region table
//	(Config) Validate() error             // every problem at once, one per line: "sites.emea.region: unknown region ..."
//	(Config) SiteNames() []string         // sorted
//	(Config) CredentialNames() []string   // sorted
//	(Config) Region(site string) (Region, error)
//	(Config) ResolveCredential(name string) (ResolvedCredential, error)
//	                                      // reads password_env / password_file / key_file ... now; errors name the
//	                                      // variable or file, never the secret
//	(Database) RedactedURL() string       // database.url with any password replaced, for logs
//	(Site) Location() *time.Location
//	(MaintenanceWindow) Window() window.Window   // pkg/remediate/window: IsSet, Next(after, loc)
//	Secret                                // string type whose String/JSON/YAML forms are "[redacted]"; Reveal() gives the value
//	ResolvedCredential{Name, Username; Password, SudoPassword, PrivateKey, KeyPassphrase Secret; Certificate []byte; UseAgent bool}
//	ErrUnknownCredential                  // ResolveCredential of a name not in credentials
//	*ValidationError{Problems []string}   // from Validate/Load: every problem, each "key: message"
//	DefaultRegions() map[string]Region; EnvPrefix = "FLEETD"; DefaultPaths
//	HostKeyStrict, HostKeyTOFU = "strict", "tofu"
//	(Credential) Methods() []string       // which secret sources are set (safe to store/show)
//	(TLS) Enabled() bool
//
// Sections: database{url,max_conns} api{listen,tls{cert_file,key_file},max_body_bytes}
// log{level,format} regions.<name>{api,est,mx,dex,eventing} sites.<name>{region,timezone,
// maintenance_window{weekdays,start,duration},hostkey_policy,max_concurrent,reboot_timeout,
// jump_hosts[{address,credential}]} credentials.<name>{username,password_env,password_file,
// key_file,key_passphrase_env,sudo_password_env,use_agent,certificate_file} runner{max_concurrent,
// start_rate,connect_timeout,command_timeout,session_timeout,retry{attempts,backoff}}
// diagnose{curl_max_time,log_window} remediation{approval_ttl,batch_size,failure_threshold}
// schedules[{name,cron,timezone,selector{all,site,tag}}] notifications{webhooks[{name,url,url_env,events}]}.
// docs/config.md documents each key and its default.
//
// Environment: every fixed key can be set as FLEETD_<KEY with dots as underscores>,
// e.g. FLEETD_DATABASE_URL, FLEETD_API_LISTEN, FLEETD_RUNNER_MAX_CONCURRENT. Keys
// under a named entry (sites.emea.region) can be overridden from the environment
// (FLEETD_SITES_EMEA_REGION) only when the file already has that key.
//
// Viper lower-cases map keys, so site, region and credential names are lower-case.
package config
