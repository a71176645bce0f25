package diagnose

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LogProblem classifies a connector.log error by what it says about the device.
type LogProblem string

// Log problems. Only the first two are evidence for a diagnosis; the rest are reported.
const (
	LogEventHandlerSocket LogProblem = "eventhandler-socket" // failed to connect to ZeroMQ PUSH endpoint ... no such file or directory
	LogEgressTimeout      LogProblem = "egress-timeout"      // dial tcp <ip>:443: ... connection timed out
	LogDNS                LogProblem = "dns"                 // dial tcp: lookup <host>: no such host
	LogTLS                LogProblem = "tls"                 // x509: certificate signed by unknown authority
	LogRefused            LogProblem = "refused"             // connection refused
	LogOther              LogProblem = "other"               // any other error-level line
)

// LogEntry is one logrus text line of connector.log.
type LogEntry struct {
	Time    time.Time  `json:"time"` // zero when the line carries no parseable time
	Level   string     `json:"level"`
	Msg     string     `json:"msg"`
	Problem LogProblem `json:"problem,omitempty"` // set on error entries only
}

// ConnectorLog is the tail of connector.log judged at a point in time: only errors within the
// window count, older ones are history.
type ConnectorLog struct {
	Missing bool      `json:"missing,omitempty"` // the file could not be read
	Error   string    `json:"error,omitempty"`
	Now     time.Time `json:"now"`
	Window  string    `json:"window"`
	Entries int       `json:"entries"` // logrus lines read
	Newest  time.Time `json:"newest,omitzero"`
	// Recent are the error entries inside the window, oldest first.
	Recent []LogEntry `json:"recent"`
	// HistoricalErrors counts errors older than the window; LastHistorical is the newest of them.
	HistoricalErrors int       `json:"historical_errors"`
	LastHistorical   *LogEntry `json:"last_historical,omitempty"`
	// UndatedErrors counts error lines without a parseable time: they cannot be placed in the
	// window, so they never count as recent.
	UndatedErrors int `json:"undated_errors"`
	Unparsed      int `json:"unparsed"` // lines that are not logrus text
}

// RecentProblems counts the recent errors by problem.
func (l ConnectorLog) RecentProblems() map[LogProblem]int {
	m := map[LogProblem]int{}
	for _, e := range l.Recent {
		m[e.Problem]++
	}
	return m
}

// LastRecent returns the newest recent entry with the given problem.
func (l ConnectorLog) LastRecent(p LogProblem) (LogEntry, bool) {
	for i := len(l.Recent) - 1; i >= 0; i-- {
		if l.Recent[i].Problem == p {
			return l.Recent[i], true
		}
	}
	return LogEntry{}, false
}

var (
	logHasTimeRE = regexp.MustCompile(`(?m)^(?:\x1b\[[0-9;]*m|\x07)*time=`)
	// logrus text: key=value or key="quoted \"value\"".
	logFieldRE = regexp.MustCompile(`([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)`)
)

// ParseConnectorLog parses the tail of connector.log (logrus text format). An error counts as
// recent when its time is within window before now; times after now count too, since the
// device's clock may run ahead of fleetd's.
func ParseConnectorLog(text string, now time.Time, window time.Duration) ConnectorLog {
	l := ConnectorLog{Now: now, Window: window.String(), Recent: []LogEntry{}}
	cutoff := now.Add(-window)
	// Records begin with time=; only a log written without timestamps begins them with level=
	// (otherwise a wrap just before "level=" would split a record).
	first := "time="
	if !logHasTimeRE.MatchString(text) {
		first = "level="
	}
	isStart := func(s string) bool { return strings.HasPrefix(s, first) || strings.HasPrefix(s, "tail: ") }
	for _, rec := range joinWrapped(text, isStart) {
		if strings.HasPrefix(rec, "tail: ") {
			l.Missing = true
			l.Error = truncate(rec, 200)
			continue
		}
		if strings.TrimSpace(rec) == "" {
			continue
		}
		e, ok := parseLogrus(rec)
		if !ok {
			l.Unparsed++
			continue
		}
		l.Entries++
		if e.Time.After(l.Newest) {
			l.Newest = e.Time
		}
		e.Problem = classifyLog(e)
		switch {
		case e.Problem == "":
			// Not an error.
		case e.Time.IsZero():
			l.UndatedErrors++
		case e.Time.Before(cutoff):
			l.HistoricalErrors++
			if l.LastHistorical == nil || !e.Time.Before(l.LastHistorical.Time) {
				last := e
				l.LastHistorical = &last
			}
		default:
			l.Recent = append(l.Recent, e)
		}
	}
	return l
}

func parseLogrus(rec string) (LogEntry, bool) {
	var e LogEntry
	seen := false
	for _, m := range logFieldRE.FindAllStringSubmatch(rec, -1) {
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			} else {
				v = strings.Trim(v, `"`)
			}
		}
		switch m[1] {
		case "time":
			seen = true
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				e.Time = t
			}
		case "level":
			seen = true
			e.Level = strings.ToLower(v)
		case "msg":
			if e.Msg == "" {
				e.Msg = v
			}
		}
	}
	return e, seen && e.Level != ""
}

// classifyLog returns the problem an entry reports, or "" when it is not a problem. Warnings
// count when they match a known problem (some dial failures are logged as warnings); info and
// debug lines never do, since they also report successes ("connected to ZeroMQ PUSH endpoint").
func classifyLog(e LogEntry) LogProblem {
	switch e.Level {
	case "error", "fatal", "panic", "warning", "warn":
	default:
		return ""
	}
	msg := strings.ToLower(e.Msg)
	switch {
	case strings.Contains(msg, "zeromq") || strings.Contains(msg, "eventhandler_sseconnector.sock"):
		return LogEventHandlerSocket
	case strings.Contains(msg, "dial tcp") && (strings.Contains(msg, "timed out") || strings.Contains(msg, "i/o timeout")):
		return LogEgressTimeout
	case strings.Contains(msg, "no such host") || strings.Contains(msg, "server misbehaving"):
		return LogDNS
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") && strings.Contains(msg, "handshake"):
		return LogTLS
	case strings.Contains(msg, "connection refused"):
		return LogRefused
	case e.Level == "warning" || e.Level == "warn":
		return ""
	}
	return LogOther
}
