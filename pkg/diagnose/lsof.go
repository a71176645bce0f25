package diagnose

import (
	"regexp"
	"strconv"
	"strings"
)

// LsofEntry is one `lsof -i` line, e.g.
// "connector 13277 www 19u IPv4 26077679 0t0 TCP 192.168.1.200:56495->ec2-....amazonaws.com:https (ESTABLISHED)".
type LsofEntry struct {
	Command  string `json:"command"`
	PID      int    `json:"pid"`
	User     string `json:"user,omitempty"`
	FD       string `json:"fd,omitempty"`
	Family   string `json:"family,omitempty"`   // IPv4, IPv6
	Protocol string `json:"protocol,omitempty"` // TCP, UDP
	Local    string `json:"local,omitempty"`
	Remote   string `json:"remote,omitempty"`
	State    string `json:"state,omitempty"` // LISTEN, SYN_SENT, ESTABLISHED, ...
}

// Lsof is the parsed output of `lsof -i` (whole or grepped).
type Lsof struct {
	Entries []LsofEntry `json:"entries"`
}

// Process returns the entries whose command contains name (lsof truncates command names, so a
// prefix of the name is what it shows).
func (l Lsof) Process(name string) []LsofEntry {
	var out []LsofEntry
	for _, e := range l.Entries {
		if strings.Contains(strings.ToLower(e.Command), strings.ToLower(name)) {
			out = append(out, e)
		}
	}
	return out
}

var (
	// An entry begins "command pid user fd IPv4 ": a terminal never wraps that short a prefix,
	// and requiring the family keeps a wrapped fragment from passing as an entry.
	lsofStartRE = regexp.MustCompile(`^(?:COMMAND\s|\S+\s+\d+(?:\s+\S+){2,4}\s+IPv[46]\s)`)
	lsofStateRE = regexp.MustCompile(`^\(([A-Z_0-9]+)\)$`)
)

// ParseLsof parses `lsof -i | grep connector`. Fields are identified by their shape (the
// protocol word, the "(STATE)" word, "->" in the name), never by column.
func ParseLsof(text string) Lsof {
	res := Lsof{Entries: []LsofEntry{}}
	isStart := func(l string) bool { return lsofStartRE.MatchString(l) || messageRE.MatchString(l) }
	for _, rec := range joinWrapped(text, isStart) {
		if e, ok := parseLsofEntry(rec); ok {
			res.Entries = append(res.Entries, e)
		}
	}
	return res
}

func parseLsofEntry(rec string) (LsofEntry, bool) {
	var e LsofEntry
	f := strings.Fields(rec)
	if len(f) < 5 || f[0] == "COMMAND" {
		return e, false
	}
	pid, err := strconv.Atoi(f[1])
	if err != nil || pid <= 0 {
		return e, false
	}
	e.Command, e.PID, e.User, e.FD = f[0], pid, f[2], f[3]
	proto := -1
	for i := 4; i < len(f); i++ {
		switch {
		case strings.HasPrefix(f[i], "IPv") && e.Family == "":
			e.Family = f[i]
		case (f[i] == "TCP" || f[i] == "UDP") && proto < 0:
			e.Protocol, proto = f[i], i
		}
	}
	if proto < 0 {
		return e, false
	}
	var name []string
	for _, tok := range f[proto+1:] {
		if m := lsofStateRE.FindStringSubmatch(tok); m != nil {
			e.State = m[1]
			continue
		}
		name = append(name, tok)
	}
	addr := strings.Join(name, "")
	if local, remote, ok := strings.Cut(addr, "->"); ok {
		e.Local, e.Remote = local, remote
	} else {
		e.Local = addr
	}
	return e, true
}

// IsRemoteCloud reports whether an entry is a session to somewhere other than the device itself.
func (e LsofEntry) IsRemoteCloud() bool {
	if e.Remote == "" {
		return false
	}
	host := e.Remote
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.Trim(host, "[]")
	return host != "localhost" && host != "127.0.0.1" && host != "::1" && !strings.HasPrefix(host, "127.")
}
