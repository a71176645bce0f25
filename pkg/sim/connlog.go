package sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The connector log is not stored: it is rendered from a few remembered
// events and fault intervals when someone reads it, which keeps an idle
// device small.

type eventKind uint8

const (
	evStart       eventKind = iota // connector started (pmtool)
	evStop                         // connector stopped
	evBoot                         // device booted, connector started
	evEHConnected                  // reconnected to EventHandler
	evEnrolled                     // registered with SSE
	evStartNoEH                    // connector started, EventHandler still unreachable (eventhandler-stuck)
)

type logEvent struct {
	at   time.Time
	kind eventKind
}

type intervalKind uint8

const (
	ivEgress intervalKind = iota
	ivEventHandler
	ivNotEnrolled
	numIntervalKinds
)

// faultInterval is a span during which the connector wrote one error line a
// minute.
type faultInterval struct {
	kind     intervalKind
	from, to time.Time // to is zero while open
}

const (
	maxEvents     = 32
	maxIntervals  = 16
	logFileLines  = 1000 // connector.log is rotated: cat shows at most this
	errorInterval = time.Minute
)

func (d *Device) addEvent(at time.Time, k eventKind) {
	if len(d.events) >= maxEvents {
		copy(d.events, d.events[1:])
		d.events = d.events[:maxEvents-1]
	}
	d.events = append(d.events, logEvent{at: at, kind: k})
}

// syncIntervals opens or closes the periodic-error intervals to match the
// current state; called with d.mu held after every state change.
func (d *Device) syncIntervals(now time.Time) {
	want := [numIntervalKinds]bool{
		ivEgress:       d.connEnabled && d.flags.has(FaultEgressBlocked),
		ivEventHandler: d.connEnabled && d.ehBroken,
		ivNotEnrolled:  d.connEnabled && !d.enrolled,
	}
	var open [numIntervalKinds]bool
	for i := range d.intervals {
		iv := &d.intervals[i]
		if !iv.to.IsZero() {
			continue
		}
		if want[iv.kind] {
			open[iv.kind] = true
		} else {
			iv.to = now
		}
	}
	for k := intervalKind(0); k < numIntervalKinds; k++ {
		if want[k] && !open[k] {
			d.openInterval(k, now)
		}
	}
}

func (d *Device) openInterval(k intervalKind, from time.Time) {
	if len(d.intervals) >= maxIntervals {
		copy(d.intervals, d.intervals[1:])
		d.intervals = d.intervals[:maxIntervals-1]
	}
	d.intervals = append(d.intervals, faultInterval{kind: k, from: from})
}

type logLine struct {
	at    time.Time
	level string
	msg   string
	seq   int // keeps lines with equal times in the order they were made
}

func (l logLine) String() string { return string(l.appendTo(nil, strconv.Quote(l.msg))) }

// appendTo appends the line as logrus's text format writes it, given its
// message already quoted (%q: the timestamp needs no escaping).
func (l logLine) appendTo(b []byte, quotedMsg string) []byte {
	b = append(b, `time="`...)
	b = l.at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `" level=`...)
	b = append(b, l.level...)
	b = append(b, " msg="...)
	return append(b, quotedMsg...)
}

// connectorLog renders connector.log: its lines, oldest first, each
// ended by a newline.
func (d *Device) connectorLog() string {
	now := d.now()
	d.mu.Lock()
	events := append([]logEvent(nil), d.events...)
	intervals := append([]faultInterval(nil), d.intervals...)
	bootedAt := d.bootedAt
	d.mu.Unlock()

	host := d.hostname
	fqdn := d.fqdn()
	reg := Regions[d.region]
	evIP := sseHosts[reg.Eventing].ip
	ver := connectorVersion(d.rel)
	var lines []logLine
	add := func(at time.Time, level, msg string) {
		if at.After(now) {
			return
		}
		lines = append(lines, logLine{at: at.In(d.zone()), level: level, msg: msg, seq: len(lines)})
	}
	jitter := func(at time.Time, n int) time.Time {
		// Sub-second noise so timestamps look like a real process wrote them.
		return at.Add(time.Duration((int64(n)*7919+int64(d.index)*104729)%999_999_937) * time.Nanosecond)
	}
	startLines := func(at time.Time, n int, ehOK bool) {
		add(jitter(at, n), "info", fmt.Sprintf("[%s][main.go:64 main.main] SSE Connector %s starting", host, ver))
		if ehOK {
			add(jitter(at, n+1), "info", fmt.Sprintf("[%s][events.go:71 events:(*Service).Start] connected to ZeroMQ PUSH endpoint ipc://%s", host, ehSocket))
		}
	}
	// History from the last boot: the start, then old errors from weeks ago
	// that a parser must not count (they are outside any recent window).
	startLines(bootedAt, 1, true)
	add(jitter(bootedAt.Add(37*time.Minute), 3), "error", fmt.Sprintf("[%s][events.go:90 events:connectWebSocket] dial tcp %s:443: getsockopt: connection timed out", fqdn, evIP))
	add(jitter(bootedAt.Add(39*time.Minute), 4), "info", fmt.Sprintf("[%s][events.go:136 events:connectWebSocket] websocket connected to wss://%s", host, reg.Eventing))
	for i, e := range events {
		switch e.kind {
		case evStart, evBoot:
			startLines(e.at, 10+i*3, true)
		case evStartNoEH:
			startLines(e.at, 10+i*3, false)
		case evStop:
			add(jitter(e.at, 11+i*3), "info", fmt.Sprintf("[%s][main.go:112 main.main] received signal terminated, shutting down", host))
		case evEHConnected:
			add(jitter(e.at, 12+i*3), "info", fmt.Sprintf("[%s][events.go:71 events:(*Service).Start] connected to ZeroMQ PUSH endpoint ipc://%s", host, ehSocket))
		case evEnrolled:
			add(jitter(e.at, 13+i*3), "info", fmt.Sprintf("[%s][register.go:88 register:(*Client).Register] device registered, context default enrolled", host))
		}
	}
	oldest := now.Add(-logFileLines * errorInterval)
	for _, iv := range intervals {
		to := iv.to
		if to.IsZero() || to.After(now) {
			to = now
		}
		from := iv.from
		if from.Before(oldest) {
			// Keep the minute grid of the interval while skipping what
			// rotated away.
			from = from.Add(oldest.Sub(from).Truncate(errorInterval))
		}
		var msg, level string
		switch iv.kind {
		case ivEgress:
			level, msg = "error", fmt.Sprintf("[%s][events.go:90 events:connectWebSocket] dial tcp %s:443: getsockopt: connection timed out", fqdn, evIP)
		case ivEventHandler:
			level, msg = "error", fmt.Sprintf("[%s][events.go:108 events:(*Service).Start] failed to connect to ZeroMQ PUSH endpoint: could not dial to \"ipc://%s\": dial unix %s: connect: no such file or directory", host, ehSocket, ehSocket)
		case ivNotEnrolled:
			level, msg = "info", fmt.Sprintf("[%s][register.go:61 register:(*Client).Register] no registration token from the FMC yet, will retry in 180s", host)
		}
		for t, n := from, 0; !t.After(to); t, n = t.Add(errorInterval), n+1 {
			add(jitter(t, n+int(iv.kind)*100003), level, msg)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if lines[i].at.Equal(lines[j].at) {
			return lines[i].seq < lines[j].seq
		}
		return lines[i].at.Before(lines[j].at)
	})
	if len(lines) > logFileLines {
		lines = lines[len(lines)-logFileLines:]
	}
	// As logLine.String, with each message quoted once (the error lines of
	// an interval repeat one message) and written into one buffer: quoting
	// every line, then joining them, was most of the log's rendering, which
	// every tail of it does (issue 15).
	// A strings.Builder: no copy of the whole log (some 200 KB) at the end.
	var lastMsg, lastQuoted string
	var sb strings.Builder
	sb.Grow(len(lines) * 256)
	var line []byte
	for i, l := range lines {
		if l.msg != lastMsg || i == 0 {
			lastMsg, lastQuoted = l.msg, strconv.Quote(l.msg)
		}
		line = append(l.appendTo(line[:0], lastQuoted), '\n')
		sb.Write(line)
	}
	return sb.String()
}

const ehSocket = "/ngfw/var/sf/run/EventHandler_SSEConnector.sock"

func (d *Device) fqdn() string {
	if d.domain == "" {
		return d.hostname
	}
	return d.hostname + "." + d.domain
}

func connectorVersion(r *release) string {
	v := strings.SplitN(r.version, ".", 3)
	return fmt.Sprintf("1.%s.%s", v[0], v[1])
}
