// Package runner owns the way fleetd reaches devices: the SSH transport
// (dial, interruptible handshake, keepalives, jump-host chains, the algorithm
// list Firepower 6.x still needs), authentication from a resolved credential,
// the host-key policy (checked before any secret is sent), the Firepower
// session driver (a PTY shell driven as an explicit clish → expert → root state
// machine, or SSH exec where the device accepts it), redacted and size-capped
// transcripts, and the bounded fan-out (global and per-site concurrency, start
// rate, retries of transient dial errors only) that turns every device into
// exactly one classified Result.
//
// It knows nothing about checks, parsers or the database: diagnose and
// remediate pass a function that runs commands on a *Session, and the
// inventory package implements HostKeyStore on PostgreSQL.
package runner
