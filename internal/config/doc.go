// Package config owns fleetd's configuration file: its typed structs, their
// defaults, validation, and loading them with viper from a YAML file plus
// FLEETD_* environment variables. Only this package uses viper; everything
// else receives validated structs, so that a bad key stops fleetd at start
// with a message naming it rather than surfacing later in a worker.
//
// Load finds the file (the path given, else DefaultPaths), decodes it
// strictly (unknown keys and wrong types are errors naming the key) and
// returns Validate's verdict: every problem at once, one "key: message" per
// line, as a *ValidationError. Default is every default, including the
// built-in SSE region table (DefaultRegions, docs/firepower.md §2).
// docs/config.md documents each key and its default.
//
// Secrets are never in the file, only where to find them: ResolveCredential
// reads a credential's password, key or passphrase when a device is
// contacted (so rotating one needs no restart), names the variable or file
// in its errors and never the value, refuses values with control
// characters (they would type a second line into a root shell), and
// returns them as Secret, which prints as "[redacted]" through fmt, JSON,
// YAML and zap. Database.RedactedURL is the database URL fit for a log.
//
// Environment: every fixed key can be set as FLEETD_<KEY with dots as
// underscores>, e.g. FLEETD_DATABASE_URL. Keys under a named entry
// (sites.emea.region) can be overridden from the environment
// (FLEETD_SITES_EMEA_REGION) only when the file already has that key: a
// site or credential cannot be created from the environment. Viper
// lower-cases map keys, so site, region and credential names are lower-case.
package config
