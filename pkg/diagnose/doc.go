// Package diagnose owns the pure part of diagnosing the Firepower SSE connector: the check
// catalog, the device commands each check sends, the parsers that read the devices' output,
// check verdicts, diagnosis codes and the recommended remediation.
//
// It knows nothing of SSH, the database or the job queue. A caller hands RunChecks an Executor
// (the runner's session at the root prompt), the device's Env (site, region endpoints, clock)
// and optionally a subset of check ids; it gets one CheckResult per check and turns them into
// an Assessment (health, diagnosis codes most severe first, recommended action) with Assess:
//
//	env, err := diagnose.NewEnv(dev.Name, dev.Site, regionOf(dev.Site), cfg.Regions)
//	results := diagnose.RunChecks(ctx, session, env, checkIDs)
//	assessment := diagnose.Assess(results)
//
// Parsers are pure functions from terminal text to typed results (ParseCurl,
// ParseConnectorProperties, ParsePmtoolStatus, ParseEventHandlerSocket, ParseLsof,
// ParseConnectorLog, ParseContext). They accept raw PTY output: ANSI and BEL sequences, CRLF,
// the prompt and echoed command, and lines wrapped mid-word by the terminal (records are
// rejoined by how they begin, never by column; only a 40-column minimum terminal width is
// assumed). Each is tested against golden files in testdata/<parser>/ and fuzzed.
//
// Device commands are constants or built from hostnames validated by ValidHostname; nothing
// else is ever pasted into a command. pkg/remediate reuses the remediation commands
// (CmdDisableConnector, CmdEnableConnector, CmdConnectorStatus, CmdReboot) and ConnectorStatus.
//
// docs/checks.md is the operator's reference for the catalog.
package diagnose
