package diagnose

import (
	"regexp"
	"strconv"
	"strings"
)

// PmtoolService is one service line of `pmtool status`, e.g.
// "SSEConnector (system) - Running 20697" or "adi (normal) - User Disabled".
type PmtoolService struct {
	Name   string `json:"name"`
	Type   string `json:"type"`   // the bracketed word: system, normal, ...
	Status string `json:"status"` // Running, User Disabled, Waiting, ...
	PID    int    `json:"pid,omitempty"`
}

// Running: pmtool says Running and gives a PID (a Running line without a PID is a process that
// is not there).
func (s PmtoolService) Running() bool { return strings.EqualFold(s.Status, "Running") && s.PID > 0 }

// UserDisabled: an operator (or a restart in progress) disabled the service.
func (s PmtoolService) UserDisabled() bool { return strings.EqualFold(s.Status, "User Disabled") }

// PmtoolStatus is the parsed output of `pmtool status` (whole or grepped).
type PmtoolStatus struct {
	Services []PmtoolService `json:"services"`
}

// Service finds a service by name, case-insensitively (pmtool treats ids that way).
func (p PmtoolStatus) Service(name string) (PmtoolService, bool) {
	for _, s := range p.Services {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return PmtoolService{}, false
}

var (
	// A service record begins "Name (" and a detail record "Some Words:"; both are short enough
	// never to be cut by a terminal wrap.
	pmtoolServiceStartRE = regexp.MustCompile(`^\S+\s+\(`)
	pmtoolDetailStartRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z ]{0,30}:`)
	pmtoolServiceRE      = regexp.MustCompile(`^(\S+)\s+\(([^()]*)\)\s+-\s*(.*?)(?:\s+(\d+))?\s*$`)
)

// ParsePmtoolStatus parses `pmtool status`. Detail lines ("Required by: ...", "PID File: ...")
// are skipped even though they mention service names.
func ParsePmtoolStatus(text string) PmtoolStatus {
	st := PmtoolStatus{Services: []PmtoolService{}}
	isStart := func(l string) bool {
		return pmtoolServiceStartRE.MatchString(l) || pmtoolDetailStartRE.MatchString(l)
	}
	for _, rec := range joinWrapped(text, isStart) {
		svc, ok := ParsePmtoolLine(rec)
		if ok {
			st.Services = append(st.Services, svc)
		}
	}
	return st
}

// ParsePmtoolLine parses one service line; ok is false for detail and other lines.
func ParsePmtoolLine(line string) (PmtoolService, bool) {
	m := pmtoolServiceRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil || strings.HasSuffix(m[1], ":") {
		return PmtoolService{}, false
	}
	svc := PmtoolService{Name: m[1], Type: strings.TrimSpace(m[2]), Status: strings.TrimSpace(m[3])}
	if m[4] != "" {
		pid, err := strconv.Atoi(m[4])
		if err != nil || pid <= 0 {
			// Not a PID after all (overflow, zero): keep it as part of the status.
			svc.Status = strings.TrimSpace(svc.Status + " " + m[4])
		} else {
			svc.PID = pid
		}
	}
	return svc, true
}

// ConnectorStatus reads SSEConnector's state from the output of CmdConnectorStatus (or any
// pmtool status output); ok is false when no SSEConnector line is present. Remediation polls it
// until UserDisabled() after a disable and Running() after an enable.
func ConnectorStatus(output string) (svc PmtoolService, ok bool) {
	return ParsePmtoolStatus(output).Service(ConnectorService)
}
