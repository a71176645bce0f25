package diagnose

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// CurlOutcome classifies one `curl -v` connectivity test.
type CurlOutcome string

// Curl outcomes. Only CurlOK is a pass; CurlTimeout also stops sse.connectivity, because every
// further endpoint would cost another full timeout on a blocked device.
const (
	CurlOK         CurlOutcome = "ok"         // "left intact": the path works, whatever the HTTP status
	CurlTimeout    CurlOutcome = "timeout"    // connect or --max-time timeout
	CurlDNS        CurlOutcome = "dns"        // Could not resolve host
	CurlRefused    CurlOutcome = "refused"    // Connection refused
	CurlTLS        CurlOutcome = "tls"        // certificate or handshake failure (often a TLS-inspecting proxy)
	CurlError      CurlOutcome = "error"      // any other curl error (reset, empty reply, ...)
	CurlIncomplete CurlOutcome = "incomplete" // no error, but no "left intact" line either
)

// CurlResult is what a `curl -v` trace says about one endpoint.
type CurlResult struct {
	Host       string      `json:"host,omitempty"`
	Address    string      `json:"address,omitempty"` // the IP curl connected to
	Connected  bool        `json:"connected"`
	HTTPStatus int         `json:"http_status,omitempty"`
	LeftIntact bool        `json:"left_intact"`
	ExitCode   int         `json:"exit_code,omitempty"` // from "curl: (N) ..."
	Outcome    CurlOutcome `json:"outcome"`
	Reason     string      `json:"reason,omitempty"` // curl's own words for a failure
}

// OK reports a passing connectivity test.
func (r CurlResult) OK() bool { return r.Outcome == CurlOK }

var (
	curlStartRE      = regexp.MustCompile(`^(?:[*<>{}](?:\s|$)|curl: |More details here)`)
	curlErrorRE      = regexp.MustCompile(`curl: \((\d+)\)\s*(.*)$`)
	curlConnectedRE  = regexp.MustCompile(`Connected to (\S+) \(([^)]*)\) port \d+`)
	curlIntactRE     = regexp.MustCompile(`Connection #\d+ to host (\S+) left intact`)
	curlStatusRE     = regexp.MustCompile(`^<\s*HTTP/[\d.]+\s+(\d{3})`)
	curlResolveRE    = regexp.MustCompile(`Could not resolve (?:host|proxy): (\S+)`)
	curlFailedConnRE = regexp.MustCompile(`Failed to connect to (\S+) port`)
)

// tlsCurlExits are curl exit codes for TLS and certificate failures.
var tlsCurlExits = map[int]bool{35: true, 51: true, 53: true, 54: true, 58: true, 59: true, 60: true, 66: true, 77: true, 80: true, 82: true, 83: true, 90: true, 91: true}

// ParseCurl parses the output of `curl -v https://host ...` (verbose trace and body mixed, as a
// terminal shows them). A 403 or any other HTTP status followed by "left intact" is a pass: the
// network path works, which is all this test is about.
func ParseCurl(text string) CurlResult {
	var r CurlResult
	var info []string // curl's own lines ("* ..." and "curl: (N) ..."), where failures are told
	for _, rec := range joinWrapped(text, func(l string) bool { return curlStartRE.MatchString(l) }) {
		// Cheap substring tests first: a trace has dozens of records and few carry a fact.
		if strings.HasPrefix(rec, "<") {
			if m := curlStatusRE.FindStringSubmatch(rec); m != nil {
				r.HTTPStatus, _ = strconv.Atoi(m[1])
			}
		}
		// "left intact" and "curl: (N)" often follow a body that had no final newline, so they are
		// searched anywhere in a record.
		if strings.Contains(rec, "left intact") {
			if m := curlIntactRE.FindStringSubmatch(rec); m != nil {
				r.LeftIntact = true
				r.Host = m[1]
			}
		}
		if strings.Contains(rec, "curl: (") {
			if m := curlErrorRE.FindStringSubmatch(rec); m != nil {
				r.ExitCode, _ = strconv.Atoi(m[1])
				r.Reason = strings.TrimSpace(m[2])
				info = append(info, "curl: "+m[2])
			}
		}
		if strings.HasPrefix(rec, "*") {
			info = append(info, rec)
			if strings.Contains(rec, "Connected to ") {
				if m := curlConnectedRE.FindStringSubmatch(rec); m != nil {
					r.Connected = true
					r.Address = m[2]
					if r.Host == "" {
						r.Host = m[1]
					}
				}
			}
		}
		if r.Host == "" && (strings.Contains(rec, "Could not resolve") || strings.Contains(rec, "Failed to connect")) {
			if m := curlResolveRE.FindStringSubmatch(rec); m != nil {
				r.Host = m[1]
			} else if m := curlFailedConnRE.FindStringSubmatch(rec); m != nil {
				r.Host = m[1]
			}
		}
	}
	r.Outcome, r.Reason = classifyCurl(r, info)
	if r.Outcome != CurlOK && r.Reason == "" {
		// curl printed its code without a message: still say something an operator can search.
		r.Reason = fmt.Sprintf("curl exited with code %d", r.ExitCode)
	}
	return r
}

func classifyCurl(r CurlResult, info []string) (CurlOutcome, string) {
	// Lowered once: has runs up to eight times over the same lines.
	lows := make([]string, len(info))
	for i, l := range info {
		lows[i] = strings.ToLower(l)
	}
	has := func(subs ...string) string {
		for i, low := range lows {
			for _, s := range subs {
				if strings.Contains(low, s) {
					return strings.TrimSpace(strings.TrimLeft(info[i], "* "))
				}
			}
		}
		return ""
	}
	reason := func(found string) string {
		if r.Reason != "" {
			return r.Reason
		}
		return found
	}
	switch {
	case r.ExitCode == 28:
		return CurlTimeout, r.Reason
	case has("timed out") != "":
		return CurlTimeout, reason(has("timed out"))
	case r.ExitCode == 6 || has("could not resolve") != "":
		return CurlDNS, reason(has("could not resolve"))
	case has("connection refused") != "":
		return CurlRefused, reason(has("connection refused"))
	case tlsCurlExits[r.ExitCode]:
		return CurlTLS, r.Reason
	case has("ssl certificate problem", "certificate verify failed", "ssl connect error", "error setting certificate") != "":
		return CurlTLS, reason(has("ssl certificate problem", "certificate verify failed", "ssl connect error", "error setting certificate"))
	case r.ExitCode != 0:
		return CurlError, r.Reason
	case r.LeftIntact:
		return CurlOK, ""
	default:
		return CurlIncomplete, `no "left intact" line: the transfer did not complete`
	}
}
