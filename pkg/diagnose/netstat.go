package diagnose

import (
	"regexp"
	"strconv"
	"strings"
)

// EventHandlerSocketPath is the ZeroMQ socket EventHandler listens on and the connector connects to.
const EventHandlerSocketPath = "/ngfw/var/sf/run/EventHandler_SSEConnector.sock"

// UnixSocket is one `netstat -anlp` line for a unix-domain socket.
type UnixSocket struct {
	RefCnt  int    `json:"refcnt"`
	Flags   string `json:"flags,omitempty"` // inside the brackets, e.g. "ACC"
	Type    string `json:"type"`            // STREAM, DGRAM, SEQPACKET
	State   string `json:"state,omitempty"` // LISTENING, CONNECTED, ... (empty for unconnected datagram sockets)
	Inode   uint64 `json:"inode"`
	PID     int    `json:"pid,omitempty"`
	Program string `json:"program,omitempty"`
	Path    string `json:"path,omitempty"`
}

// EventHandlerSocket is the netstat view of EventHandler's SSEConnector socket.
type EventHandlerSocket struct {
	Sockets []UnixSocket `json:"sockets"`
}

// Listening reports whether EventHandler listens on its SSEConnector socket.
func (e EventHandlerSocket) Listening() bool { return e.count("LISTENING") > 0 }

// Connected counts connected streams on the socket: at least one means the connector is attached.
func (e EventHandlerSocket) Connected() int { return e.count("CONNECTED") }

func (e EventHandlerSocket) count(state string) int {
	n := 0
	for _, s := range e.Sockets {
		if s.State == state && strings.Contains(s.Path, "EventHandler_SSEConnector.sock") {
			n++
		}
	}
	return n
}

var (
	netstatStartRE = regexp.MustCompile(`^(?:unix|tcp6?|udp6?|raw6?|Proto|Active)\s`)
	netstatStates  = map[string]bool{
		"LISTENING": true, "CONNECTED": true, "CONNECTING": true, "DISCONNECTING": true,
		"FREE": true, "UNKNOWN": true,
	}
	netstatPIDRE = regexp.MustCompile(`^(\d+)/(.+)$`)
)

// ParseEventHandlerSocket parses `netstat -anlp | grep EventHandler_SSEConnector.sock` (or the
// whole unix-socket table). Fields are found by their shape, not their column, so it copes with
// lines joined after a terminal wrap and with netstat builds that pad differently.
func ParseEventHandlerSocket(text string) EventHandlerSocket {
	res := EventHandlerSocket{Sockets: []UnixSocket{}}
	isStart := func(l string) bool { return netstatStartRE.MatchString(l) || messageRE.MatchString(l) }
	for _, rec := range joinWrapped(text, isStart) {
		if s, ok := parseUnixSocket(rec); ok {
			res.Sockets = append(res.Sockets, s)
		}
	}
	return res
}

// parseUnixSocket reads "unix 3 [ ] STREAM CONNECTED 378537 7741/EventHandler /path".
func parseUnixSocket(rec string) (UnixSocket, bool) {
	var s UnixSocket
	rest, ok := strings.CutPrefix(strings.TrimSpace(rec), "unix")
	if !ok {
		return s, false
	}
	// The flags sit between brackets and may contain spaces ("[ ACC ]", "[ ]").
	open, closeIdx := strings.IndexByte(rest, '['), strings.IndexByte(rest, ']')
	if open < 0 || closeIdx < open {
		return s, false
	}
	refcnt, err := strconv.Atoi(strings.TrimSpace(rest[:open]))
	if err != nil {
		return s, false
	}
	s.RefCnt = refcnt
	s.Flags = strings.Join(strings.Fields(rest[open+1:closeIdx]), " ")
	fields := strings.Fields(rest[closeIdx+1:])
	if len(fields) == 0 {
		return s, false
	}
	s.Type, fields = fields[0], fields[1:]
	if len(fields) > 0 && netstatStates[fields[0]] {
		s.State, fields = fields[0], fields[1:]
	}
	if len(fields) == 0 {
		return s, false
	}
	inode, err := strconv.ParseUint(fields[0], 10, 64)
	if err != nil {
		return s, false
	}
	s.Inode, fields = inode, fields[1:]
	if len(fields) > 0 {
		if m := netstatPIDRE.FindStringSubmatch(fields[0]); m != nil {
			if pid, err := strconv.Atoi(m[1]); err == nil && pid > 0 {
				s.PID, s.Program = pid, m[2]
			}
			fields = fields[1:]
		} else if fields[0] == "-" {
			fields = fields[1:]
		}
	}
	s.Path = strings.Join(fields, " ")
	return s, true
}
