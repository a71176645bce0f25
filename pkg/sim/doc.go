// Package sim is the Firepower device simulator: a fleet of FMCs and FTDs
// served over SSH from one process, behaving as docs/firepower.md says
// (prompts, banners, command outputs, errors, faults and their cures).
// cmd/ftdsim is a thin main over it; other packages' tests use it in-process.
//
// # Entry points
//
// NewFleet builds a Fleet from a FleetConfig (how many devices, on which
// loopback addresses and ports, which sites, which mix of kinds and faults,
// a time scale for latencies, a seed); Start listens (it returns once every
// device accepts connections) and Close or the context's end stops it. Each
// Device says its name, kind, site, address, host key and fingerprint, takes
// faults at run time (SetFault, RemoveFault, ClearFaults), reboots, and
// reports Counters (connections, logins, passwords received, commands,
// connector restarts, reboots, ...) and its recent CommandLog: tests assert
// on those, not on timing. The fleet writes the inventory CSV, fingerprints
// and known_hosts a lab needs, and ControlHandler serves the control API
// that cmd/ftdsim exposes.
//
// FleetConfig.Devices pins devices exactly (name, kind, site, hostname,
// model, version, faults); Count generates more after them, named
// "<NamePrefix><ftd|fmc>-<site>-<00001>" by position, with sites given
// round-robin and the Faults/Kinds mixes applied to exact shares chosen by
// Seed. Port 0 = an ephemeral port per device (tests); cmd/ftdsim uses 22.
// TimeScale 0 means 1 (real latencies): tests should set it small.
// Clock (default time.Now) is the devices' wall clock; tests inject
// FixedClock for stable transcripts.
//
// # What a session sees
//
// Credentials: FleetConfig.Username/Password (admin/Admin123), by password,
// keyboard-interactive ("Password: ") or AuthorizedKeys. Host keys are
// ed25519, derived from Seed and the device name.
//
//	ftd, fmc7: ">" --expert--> admin@host:~$ --sudo su - (lecture once, "Password: ")--> root@host:~#
//	fmc6:      lands in admin@host:~$
//	fxos:      host# --connect module 1 console--> Firepower-module1> --connect ftd--> ">"
//	           (connect ftd also works from host#; exit goes back one level)
//	Exec:      every device lands in bash; exec requests run as root.
//
// Exec requests on clish devices are refused as a real FTD does: stderr
// `Syntax error on line stdin:1 "<cmd>": Unknown command`, exit status 255.
// FMC 6.x accepts exec as admin (sudo then says "no tty present").
//
// At the root prompt every command of docs/spec/contracts-internal.md works,
// including the pipes into grep / grep -E; also cat/more/less/head/tail,
// netstat -anlp, lsof -i, ps, pmtool status|disablebyid|enablebyid|
// restartbyid, reboot, shutdown -r [now|+N], cd/pwd/ls, echo $?, sh -c,
// timeout, stty cols N / -echo, PS1=..., ; && || and 2>&1, >/dev/null.
// Clish: show version|clock|managers, expert, reboot (YES/NO), exit/logout,
// abbreviations ("sh ver"; "ex" is ambiguous), "Syntax error: ..." with a
// BEL. Unknown bash commands: "-bash: x: command not found" (127).
//
// On a PTY, output lines longer than the PTY width (pty-req / window-change
// / stty cols) are hard-wrapped with CRLF, as the seed's captures show:
// a client that wants unbroken lines asks for a wide PTY (e.g. 512 columns).
// The curl -v trace contains a line "> " (end of request headers) exactly
// as real curl prints it; prompt matching must anchor at the end of the
// output.
//
// # Faults
//
// The connector faults (egress-blocked, eventhandler-disconnected,
// connector-stopped, not-enrolled, region-mismatch) change what the
// commands print (see docs/spec/contracts-internal.md). eventhandler-disconnected,
// connector-stopped and not-enrolled are device state: Faults() reports
// them from that state, so a cure (pmtool disable+enable or restartbyid,
// enable, reboot) removes them. eventhandler-stuck shows exactly what
// eventhandler-disconnected shows (Faults() lists it under its own name),
// but a connector restart leaves it (the restart is still counted); only a
// reboot cures it: the tech note's escalation path. Transport faults: auth-failure (every
// credential rejected, attempts counted), hostkey-changed (another key is
// presented; HostKey() stays the pinned one), hang (TCP accepted, no SSH
// banner ever; Connections still counts), slow (SlowLatency per command),
// drop (connection closed when the DropAfter-th command arrives on it),
// flapping (listener closed for FlapDown every FlapUp+FlapDown).
//
// Reboot (clish reboot + YES, root reboot or shutdown -r, Device.Reboot,
// POST /devices/{name}/reboot): sessions drop, connections are refused for
// RebootDowntime×TimeScale, then the device is back with a fresh connector;
// egress-blocked, region-mismatch, auth-failure, hostkey-changed and
// flapping remain, the others are gone.
//
// Counters: Commands counts every non-empty line typed at a prompt or a
// YES/NO question and every exec request; passwords typed at "Password:"
// are not commands (PasswordsReceived counts them, with login passwords and
// keyboard-interactive answers). ConnectorRestarts counts enable-after-
// disable and restartbyid; ConnectorDisables and ConnectorEnables count
// every pmtool disablebyid / enablebyid SSEConnector received.
//
// Ctrl-C reaches a command that waits for a line as SIGINT reaches a
// process blocked in read: at sudo's Password: prompt sudo ends the line,
// reports the wrong guesses so far ("sudo: 1 incorrect password attempt")
// and exits 1 back to the shell prompt.
package sim
