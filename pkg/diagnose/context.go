package diagnose

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// ConnectorContext is what the connector's local API says about its SSE context
// (`curl -s localhost:8989/v1/contexts/default`). The JSON shape is not documented, so it is
// read leniently: unknown fields are ignored and expected ones that are absent are listed in
// Missing.
type ConnectorContext struct {
	// Answered: the API returned JSON. Refused: nothing listens on the port (connector down).
	Answered bool `json:"answered"`
	Refused  bool `json:"refused,omitempty"`
	// CurlError is curl's message when the request itself failed.
	CurlError string `json:"curl_error,omitempty"`
	// NotFound: the API answered that the default context does not exist (never enrolled).
	NotFound bool   `json:"not_found,omitempty"`
	Code     int    `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`

	ClientName      string `json:"client_name,omitempty"`
	GUID            string `json:"guid,omitempty"`
	Version         string `json:"version,omitempty"`
	Type            string `json:"type,omitempty"`
	IP              string `json:"ip,omitempty"`
	FQDN            string `json:"fqdn,omitempty"`
	RefreshInterval int    `json:"refresh_interval,omitempty"`
	State           string `json:"state,omitempty"`  // e.g. "Enrolled", "Not Enrolled"
	Reason          string `json:"reason,omitempty"` // why not enrolled, when the API says

	Enrolled   bool     `json:"enrolled"`
	Missing    []string `json:"missing,omitempty"`
	ParseError string   `json:"parse_error,omitempty"` // output that is neither JSON nor a curl error
}

var (
	contextCurlErrRE   = regexp.MustCompile(`^curl: \((\d+)\)\s*(.*)$`)
	contextJSONStartRE = regexp.MustCompile(`^\s*[{}\["]`)
)

// ParseContext parses the local API's answer.
func ParseContext(text string) ConnectorContext {
	var c ConnectorContext
	var body strings.Builder
	isStart := func(l string) bool { return strings.HasPrefix(l, "curl: ") || contextJSONStartRE.MatchString(l) }
	for _, rec := range joinWrapped(text, isStart) {
		if m := contextCurlErrRE.FindStringSubmatch(rec); m != nil {
			c.CurlError = strings.TrimSpace("(" + m[1] + ") " + m[2])
			if m[1] == "7" || strings.Contains(strings.ToLower(m[2]), "connection refused") {
				c.Refused = true
			}
			continue
		}
		// JSON does not care about the whitespace lost here, and a wrapped string is restored
		// by joining without a separator.
		body.WriteString(rec)
	}
	raw := body.String()
	start, end := strings.IndexByte(raw, '{'), strings.LastIndexByte(raw, '}')
	if start < 0 || end < start {
		if c.CurlError == "" {
			if strings.TrimSpace(raw) == "" {
				c.ParseError = "no output"
			} else {
				c.ParseError = "no JSON object in output: " + truncate(strings.TrimSpace(raw), 120)
			}
		}
		return c
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw[start : end+1])))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		c.ParseError = "invalid JSON: " + truncate(err.Error(), 120)
		return c
	}
	c.Answered = true
	c.fill(doc)
	return c
}

func (c *ConnectorContext) fill(doc map[string]any) {
	c.Code = int(jsonInt(lookup(doc, "code")))
	c.Message = jsonString(lookup(doc, "message"))
	client := lookup(doc, "clientInfo")
	if client == nil {
		client = lookup(doc, "client_info")
	}
	c.ClientName = jsonString(lookup(client, "name"))
	c.GUID = jsonString(lookup(client, "guid"))
	c.Version = jsonString(lookup(client, "version"))
	c.Type = jsonString(lookup(client, "type"))
	c.IP = jsonString(lookup(client, "ip"))
	exchange := lookup(lookup(doc, "settings"), "exchange")
	c.FQDN = jsonString(lookup(exchange, "fqdn"))
	c.RefreshInterval = int(jsonInt(lookup(lookup(exchange, "registration"), "refreshInterval")))

	switch st := lookup(doc, "status").(type) {
	case map[string]any:
		c.State = jsonString(firstOf(st, "state", "status", "enrollmentStatus", "enrolmentStatus"))
		c.Reason = jsonString(lookup(st, "reason"))
	case string:
		c.State = st
	}
	if c.State == "" {
		c.State = jsonString(firstOf(doc, "state", "enrollmentStatus", "enrolmentStatus", "enrollment_status", "registrationStatus"))
	}
	if c.Reason == "" {
		c.Reason = jsonString(lookup(doc, "reason"))
	}

	c.NotFound = c.Code == 404 || (c.State == "" && strings.Contains(strings.ToLower(c.Message), "not found"))
	c.Enrolled = !c.NotFound && isEnrolledState(c.State)
	if c.NotFound {
		return
	}
	for _, f := range []struct{ path, value string }{
		{"clientInfo.name", c.ClientName},
		{"clientInfo.guid", c.GUID},
		{"settings.exchange.fqdn", c.FQDN},
		{"status.state", c.State},
	} {
		if f.value == "" {
			c.Missing = append(c.Missing, f.path)
		}
	}
}

// isEnrolledState accepts "Enrolled" and spellings of it, and rejects the negations that also
// contain the word ("Not Enrolled", "UNENROLLED", "NotEnrolled" after a wrap ate the space).
func isEnrolledState(state string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(state) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if !strings.Contains(s, "enrolled") && !strings.Contains(s, "registered") {
		return false
	}
	for _, neg := range []string{"not", "un", "de", "fail", "pending"} {
		if strings.HasPrefix(s, neg) || strings.Contains(s, neg+"enrolled") || strings.Contains(s, neg+"registered") {
			return false
		}
	}
	return true
}

// lookup reads a key case-insensitively from a JSON object (nil for anything else).
func lookup(v any, key string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if x, ok := m[key]; ok {
		return x
	}
	// Several spellings of one key: take the smallest, so that the result is deterministic.
	best, found := "", false
	for k := range m {
		if strings.EqualFold(k, key) && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return nil
	}
	return m[best]
}

func firstOf(v any, keys ...string) any {
	for _, k := range keys {
		if x := lookup(v, k); x != nil {
			return x
		}
	}
	return nil
}

func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func jsonInt(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil && f >= -1e15 && f <= 1e15 {
			return int64(f)
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n
		}
	}
	return 0
}
