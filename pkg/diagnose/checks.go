package diagnose

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// catalog is the fixed list of checks, in run order: a check's prerequisites come before it.
var catalog = []Check{
	{
		ID:       CheckSSEConnectivity,
		Title:    "The management interface reaches the region's SSE endpoints (curl with the connector's CA)",
		commands: connectivityCommands,
		run:      runConnectivity,
	},
	{
		ID:       CheckConnectorProperties,
		Title:    "connector.properties points at the API host of the site's region",
		commands: fixed(CmdConnectorProperties),
		run:      runProperties,
	},
	{
		ID:       CheckConnectorProcess,
		Title:    "SSEConnector is enabled and running (pmtool)",
		commands: fixed(CmdProcessStatus),
		run:      runProcess,
	},
	{
		ID:       CheckEventHandlerSocket,
		Title:    "The connector is connected to EventHandler's ZeroMQ socket",
		Requires: []string{CheckConnectorProcess},
		commands: fixed(CmdEventHandlerSocket),
		run:      runEventHandlerSocket,
	},
	{
		ID:       CheckCloudSession,
		Title:    "The connector holds an established session to the cloud",
		Requires: []string{CheckConnectorProcess},
		commands: fixed(CmdCloudSession),
		run:      runCloudSession,
	},
	{
		ID:       CheckConnectorLog,
		Title:    "connector.log has no recent errors",
		commands: fixed(CmdConnectorLog),
		run:      runConnectorLog,
	},
	{
		ID:       CheckConnectorEnrollment,
		Title:    "The connector's local API reports the device enrolled in SSE",
		Requires: []string{CheckConnectorProcess},
		commands: fixed(CmdEnrollment),
		run:      runEnrollment,
	},
}

func fixed(cmds ...string) func(Env) ([]string, error) {
	return func(Env) ([]string, error) { return cmds, nil }
}

// --- sse.connectivity --------------------------------------------------------------------------

func connectivityCommands(env Env) ([]string, error) {
	var cmds []string
	for _, t := range env.Endpoints.ConnectivityTargets() {
		cmd, err := CurlCommand(t.Host, t.Path, env.CurlMaxTime)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

// EndpointResult is one endpoint's line in sse.connectivity's evidence.
type EndpointResult struct {
	Name       string      `json:"name"`
	Host       string      `json:"host"`
	URL        string      `json:"url"`
	Outcome    CurlOutcome `json:"outcome"` // a CurlOutcome or "not-attempted"
	HTTPStatus int         `json:"http_status,omitempty"`
	Reason     string      `json:"reason,omitempty"`
}

// NotAttempted marks endpoints sse.connectivity did not try after a timeout.
const NotAttempted CurlOutcome = "not-attempted"

func runConnectivity(ctx context.Context, r *checkRun) CheckResult {
	targets := r.env.Endpoints.ConnectivityTargets()
	endpoints := make([]EndpointResult, 0, len(targets))
	evidence := map[string]any{"max_time_s": r.env.CurlMaxTime.Seconds()}
	var failed []string
	timedOut := false
	for _, t := range targets {
		er := EndpointResult{Name: t.Name, Host: t.Host, URL: t.URL()}
		if timedOut {
			er.Outcome = NotAttempted
			endpoints = append(endpoints, er)
			continue
		}
		cmd, err := CurlCommand(t.Host, t.Path, r.env.CurlMaxTime)
		if err != nil {
			return errorResult("refusing to build a command: "+err.Error(), evidence)
		}
		out, errRes := r.cmd(ctx, cmd)
		if errRes != nil {
			evidence["endpoints"] = endpoints
			errRes.Evidence = evidence
			return *errRes
		}
		c := ParseCurl(out)
		er.Outcome, er.HTTPStatus, er.Reason = c.Outcome, c.HTTPStatus, truncate(c.Reason, 200)
		endpoints = append(endpoints, er)
		if !c.OK() {
			failed = append(failed, fmt.Sprintf("%s: %s", t.Host, describeCurl(c)))
		}
		// A blocked device would make every further curl wait the whole max time too.
		timedOut = c.Outcome == CurlTimeout
	}
	evidence["endpoints"] = endpoints
	if len(failed) == 0 {
		return result(VerdictPass, fmt.Sprintf("all %d SSE endpoints of region %s reachable", len(targets), regionName(r.env)), evidence)
	}
	summary := strings.Join(failed, "; ")
	if timedOut {
		if n := countOutcome(endpoints, NotAttempted); n > 0 {
			summary += fmt.Sprintf("; %d endpoint(s) not attempted after the timeout", n)
		}
	}
	return result(VerdictFail, summary, evidence, DiagEgressBlocked)
}

func describeCurl(c CurlResult) string {
	switch c.Outcome {
	case CurlTimeout:
		return "timed out (" + c.Reason + ")"
	case CurlIncomplete:
		return c.Reason
	default:
		return string(c.Outcome) + " (" + c.Reason + ")"
	}
}

func countOutcome(es []EndpointResult, o CurlOutcome) int {
	n := 0
	for _, e := range es {
		if e.Outcome == o {
			n++
		}
	}
	return n
}

func regionName(env Env) string {
	if env.Region != "" {
		return env.Region
	}
	return "(unnamed)"
}

// --- connector.properties ----------------------------------------------------------------------

func runProperties(ctx context.Context, r *checkRun) CheckResult {
	out, errRes := r.cmd(ctx, CmdConnectorProperties)
	if errRes != nil {
		return *errRes
	}
	p := ParseConnectorProperties(out)
	evidence := map[string]any{
		"connector_fqdn": p.ConnectorFQDN,
		"expected_fqdn":  r.env.Endpoints.API,
		"region":         r.env.Region,
	}
	if p.ConnectorPort != 0 {
		evidence["connector_port"] = p.ConnectorPort
	}
	switch {
	case p.Missing:
		evidence["error"] = p.Error
		return result(VerdictFail, "connector.properties cannot be read: "+p.Error, evidence)
	case p.ConnectorFQDN == "":
		return result(VerdictFail, "connector.properties has no connector_fqdn", evidence)
	}
	return judgeAPIHost(r.env, "connector_fqdn", p.ConnectorFQDN, evidence)
}

// judgeAPIHost compares the API host a device uses with its site's region.
func judgeAPIHost(env Env, what, host string, evidence map[string]any) CheckResult {
	if strings.EqualFold(host, env.Endpoints.API) {
		return result(VerdictPass, fmt.Sprintf("%s is %s, the API host of region %s", what, host, regionName(env)), evidence)
	}
	if other, ok := env.Regions.RegionOfAPIHost(host); ok {
		evidence["fqdn_region"] = other
		return result(VerdictFail, fmt.Sprintf("%s is %s, the API host of region %s, but site %s is in region %s (expected %s)",
			what, host, other, env.Site, regionName(env), env.Endpoints.API), evidence, DiagRegionMismatch)
	}
	return result(VerdictWarn, fmt.Sprintf("%s is %s, which is no known region's API host (expected %s)",
		what, truncate(host, 100), env.Endpoints.API), evidence)
}

// --- connector.process -------------------------------------------------------------------------

func runProcess(ctx context.Context, r *checkRun) CheckResult {
	out, errRes := r.cmd(ctx, CmdProcessStatus)
	if errRes != nil {
		return *errRes
	}
	st := ParsePmtoolStatus(out)
	evidence := map[string]any{}
	conn, haveConn := st.Service(ConnectorService)
	eh, haveEH := st.Service(EventHandlerService)
	if haveConn {
		evidence["sseconnector"] = conn
	}
	if haveEH {
		evidence["eventhandler"] = eh
	}
	switch {
	case !haveConn:
		return result(VerdictFail, "pmtool does not list SSEConnector (software older than 6.4, or not installed)", evidence, DiagConnectorStopped)
	case conn.UserDisabled():
		return result(VerdictFail, "SSEConnector is User Disabled", evidence, DiagConnectorStopped)
	case !conn.Running():
		return result(VerdictFail, fmt.Sprintf("SSEConnector is not running (pmtool: %q)", strings.TrimSpace(conn.Status+" "+pidString(conn.PID))), evidence, DiagConnectorStopped)
	case !haveEH || !eh.Running():
		// The socket check says what this means for the connector; EventHandler's own state is
		// reported so that an operator sees why.
		return result(VerdictWarn, fmt.Sprintf("SSEConnector running (pid %d), but EventHandler is not running", conn.PID), evidence)
	}
	return result(VerdictPass, fmt.Sprintf("SSEConnector running (pid %d), EventHandler running (pid %d)", conn.PID, eh.PID), evidence)
}

func pidString(pid int) string {
	if pid == 0 {
		return ""
	}
	return fmt.Sprint(pid)
}

// --- connector.eventhandler-socket -------------------------------------------------------------

func runEventHandlerSocket(ctx context.Context, r *checkRun) CheckResult {
	out, errRes := r.cmd(ctx, CmdEventHandlerSocket)
	if errRes != nil {
		return *errRes
	}
	s := ParseEventHandlerSocket(out)
	evidence := map[string]any{"listening": s.Listening(), "connected": s.Connected(), "sockets": s.Sockets}
	switch {
	case s.Connected() > 0 && s.Listening():
		return result(VerdictPass, fmt.Sprintf("EventHandler socket listening with %d connected stream(s)", s.Connected()), evidence)
	case s.Connected() > 0:
		return result(VerdictWarn, fmt.Sprintf("%d connected stream(s) on the EventHandler socket but no LISTENING line", s.Connected()), evidence)
	case s.Listening():
		return result(VerdictFail, "EventHandler listens on "+EventHandlerSocketPath+" but nothing is connected: the connector is not attached", evidence, DiagEventHandlerDisconnected)
	default:
		return result(VerdictFail, "EventHandler is not listening on "+EventHandlerSocketPath, evidence, DiagEventHandlerDisconnected)
	}
}

// --- connector.cloud-session -------------------------------------------------------------------

func runCloudSession(ctx context.Context, r *checkRun) CheckResult {
	out, errRes := r.cmd(ctx, CmdCloudSession)
	if errRes != nil {
		return *errRes
	}
	entries := ParseLsof(out).Process("connector")
	var established, synSent, listening []LsofEntry
	for _, e := range entries {
		switch {
		case e.State == "ESTABLISHED" && e.IsRemoteCloud():
			established = append(established, e)
		case e.State == "SYN_SENT":
			synSent = append(synSent, e)
		case e.State == "LISTEN":
			listening = append(listening, e)
		}
	}
	evidence := map[string]any{"sockets": entries, "listening": len(listening) > 0}
	if entries == nil {
		evidence["sockets"] = []LsofEntry{}
	}
	switch {
	case len(established) > 0:
		return result(VerdictPass, "cloud session established to "+established[0].Remote, evidence)
	case len(synSent) > 0:
		return result(VerdictFail, fmt.Sprintf("connection to %s stuck in SYN_SENT: nothing answers upstream", synSent[0].Remote), evidence, DiagEgressBlocked)
	case len(entries) == 0:
		return result(VerdictWarn, "the connector has no internet sockets", evidence)
	default:
		// Between reconnects, or not enrolled: other checks tell which.
		return result(VerdictWarn, "no established cloud session", evidence)
	}
}

// --- connector.log -----------------------------------------------------------------------------

func runConnectorLog(ctx context.Context, r *checkRun) CheckResult {
	out, errRes := r.cmd(ctx, CmdConnectorLog)
	if errRes != nil {
		return *errRes
	}
	l := ParseConnectorLog(out, r.env.Now, r.env.LogWindow)
	probs := l.RecentProblems()
	evidence := map[string]any{
		"window":            l.Window,
		"recent_errors":     len(l.Recent),
		"historical_errors": l.HistoricalErrors,
	}
	if len(probs) > 0 {
		evidence["recent_by_problem"] = probs
		last := l.Recent[len(l.Recent)-1]
		evidence["last_error"] = map[string]any{"time": last.Time, "msg": truncate(last.Msg, 300)}
	}
	if l.LastHistorical != nil {
		evidence["last_historical"] = map[string]any{"time": l.LastHistorical.Time, "msg": truncate(l.LastHistorical.Msg, 300)}
	}
	if l.UndatedErrors > 0 {
		evidence["undated_errors"] = l.UndatedErrors
	}
	if l.Missing {
		evidence["error"] = l.Error
		return result(VerdictWarn, "connector.log cannot be read: "+l.Error, evidence)
	}
	if len(l.Recent) == 0 {
		s := fmt.Sprintf("no errors in the last %s", r.env.LogWindow)
		if l.HistoricalErrors > 0 {
			s += fmt.Sprintf(" (%d older error(s) are history)", l.HistoricalErrors)
		}
		return result(VerdictPass, s, evidence)
	}

	// Log lines are corroboration, not live state: when the live check for the same condition
	// passed, or the connector is not running at all, recent errors are the past (for instance
	// from just before a restart) and must not keep a cured device diagnosed.
	var codes []Diagnosis
	var notes, superseded []string
	consider := func(p LogProblem, code Diagnosis, what string, liveOK bool, liveCheck string) {
		n := probs[p]
		if n == 0 {
			return
		}
		last, _ := l.LastRecent(p)
		note := fmt.Sprintf("%d× %s in the last %s (last %s)", n, what, r.env.LogWindow, last.Time.Format(time.RFC3339))
		switch {
		case r.verdictOf(CheckConnectorProcess) == VerdictFail:
			superseded = append(superseded, note+", but the connector is not running")
		case liveOK:
			superseded = append(superseded, note+", but "+liveCheck+" passes now")
		default:
			codes = append(codes, code)
			notes = append(notes, note)
		}
	}
	consider(LogEventHandlerSocket, DiagEventHandlerDisconnected, "ZeroMQ PUSH endpoint failures",
		r.verdictOf(CheckEventHandlerSocket) == VerdictPass, CheckEventHandlerSocket)
	consider(LogEgressTimeout, DiagEgressBlocked, "cloud dial timeouts",
		r.verdictOf(CheckCloudSession) == VerdictPass, CheckCloudSession)
	if len(superseded) > 0 {
		evidence["superseded"] = superseded
	}
	if len(codes) > 0 {
		return result(VerdictFail, strings.Join(notes, "; "), evidence, codes...)
	}
	others := len(l.Recent) - probs[LogEventHandlerSocket] - probs[LogEgressTimeout]
	parts := superseded
	if others > 0 {
		parts = append(parts, fmt.Sprintf("%d other error(s) in the last %s, last: %s", others, r.env.LogWindow, truncate(lastOther(l).Msg, 160)))
	}
	return result(VerdictWarn, strings.Join(parts, "; "), evidence)
}

func lastOther(l ConnectorLog) LogEntry {
	for i := len(l.Recent) - 1; i >= 0; i-- {
		if p := l.Recent[i].Problem; p != LogEventHandlerSocket && p != LogEgressTimeout {
			return l.Recent[i]
		}
	}
	return LogEntry{}
}

// --- connector.enrollment ----------------------------------------------------------------------

func runEnrollment(ctx context.Context, r *checkRun) CheckResult {
	out, errRes := r.cmd(ctx, CmdEnrollment)
	if errRes != nil {
		return *errRes
	}
	c := ParseContext(out)
	evidence := map[string]any{"enrolled": c.Enrolled}
	for k, v := range map[string]string{
		"state": c.State, "reason": c.Reason, "fqdn": c.FQDN, "client_name": c.ClientName,
		"guid": c.GUID, "curl_error": c.CurlError, "message": c.Message,
	} {
		if v != "" {
			evidence[k] = truncate(v, 200)
		}
	}
	if len(c.Missing) > 0 {
		evidence["missing"] = c.Missing
	}
	switch {
	case c.Refused:
		return result(VerdictFail, "the connector's local API refuses connections on :8989: the connector is not serving", evidence, DiagConnectorStopped)
	case c.CurlError != "" && !c.Answered:
		return result(VerdictError, "the connector's local API did not answer: curl "+c.CurlError, evidence)
	case !c.Answered:
		return result(VerdictError, "unrecognised answer from the connector's local API: "+c.ParseError, evidence)
	case c.NotFound:
		return result(VerdictFail, "the connector has no SSE context: the device never enrolled", evidence, DiagNotEnrolled)
	case !c.Enrolled:
		s := "the device is not enrolled in SSE"
		if c.State != "" {
			s += fmt.Sprintf(" (state %q", c.State)
			if c.Reason != "" {
				s += ", " + c.Reason
			}
			s += ")"
		}
		return result(VerdictFail, s, evidence, DiagNotEnrolled)
	case c.FQDN != "" && !ValidHostname(c.FQDN):
		return result(VerdictWarn, fmt.Sprintf("enrolled, but the exchange fqdn %q is not a hostname", truncate(c.FQDN, 100)), evidence)
	case c.FQDN != "":
		res := judgeAPIHost(r.env, "the enrolled exchange fqdn", c.FQDN, evidence)
		if res.Verdict == VerdictPass {
			res.Summary = "enrolled; " + res.Summary
		}
		return res
	default:
		return result(VerdictPass, "enrolled", evidence)
	}
}
