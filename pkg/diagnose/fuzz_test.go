package diagnose

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The fuzz targets start from every golden input and check, beyond "no panic", the invariants
// the checks rely on. Run one with e.g. `go test ./pkg/diagnose -run '^$' -fuzz FuzzParsePmtoolStatus -fuzztime 30s`.

func seedFuzz(f *testing.F, dir string) {
	for _, in := range goldenInputs(f, dir) {
		text := readFile(f, in)
		f.Add(text)
		f.Add(wrapAt(text, 41))
	}
}

func mustMarshal(t *testing.T, v any) {
	t.Helper()
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf("result does not marshal: %v", err)
	}
}

func FuzzParseCurl(f *testing.F) {
	seedFuzz(f, "curl")
	f.Fuzz(func(t *testing.T, text string) {
		r := ParseCurl(text)
		mustMarshal(t, r)
		switch r.Outcome {
		case CurlOK, CurlTimeout, CurlDNS, CurlRefused, CurlTLS, CurlError, CurlIncomplete:
		default:
			t.Fatalf("unknown outcome %q", r.Outcome)
		}
		if r.OK() && (!r.LeftIntact || r.ExitCode != 0) {
			t.Fatalf("ok without a clean 'left intact': %+v", r)
		}
		if r.ExitCode == 28 && r.Outcome != CurlTimeout {
			t.Fatalf("curl exit 28 is a timeout: %+v", r)
		}
		if !r.OK() && r.Reason == "" {
			t.Fatalf("a failure must say why: %+v", r)
		}
	})
}

func FuzzParseConnectorProperties(f *testing.F) {
	seedFuzz(f, "properties")
	f.Fuzz(func(t *testing.T, text string) {
		p := ParseConnectorProperties(text)
		mustMarshal(t, p)
		for k := range p.Values {
			if k == "" || strings.ContainsAny(k, "= \t\r\n") {
				t.Fatalf("bad key %q", k)
			}
		}
		if p.ConnectorFQDN != p.Values["connector_fqdn"] {
			t.Fatalf("connector_fqdn %q differs from values %q", p.ConnectorFQDN, p.Values["connector_fqdn"])
		}
		if p.ConnectorPort < 0 && p.Values["connector_port"] == "" {
			t.Fatalf("port without value")
		}
	})
}

func FuzzParsePmtoolStatus(f *testing.F) {
	seedFuzz(f, "pmtool")
	f.Fuzz(func(t *testing.T, text string) {
		st := ParsePmtoolStatus(text)
		mustMarshal(t, st)
		for _, s := range st.Services {
			if s.Name == "" || strings.IndexFunc(s.Name, unicode.IsSpace) >= 0 || strings.HasSuffix(s.Name, ":") {
				t.Fatalf("bad service name %q", s.Name)
			}
			if s.PID < 0 || (s.Running() && s.PID == 0) {
				t.Fatalf("bad pid: %+v", s)
			}
			if s.Running() && s.UserDisabled() {
				t.Fatalf("running and disabled: %+v", s)
			}
		}
		if c, ok := ConnectorStatus(text); ok && !strings.EqualFold(c.Name, ConnectorService) {
			t.Fatalf("ConnectorStatus returned %q", c.Name)
		}
	})
}

func FuzzParseEventHandlerSocket(f *testing.F) {
	seedFuzz(f, "netstat")
	f.Fuzz(func(t *testing.T, text string) {
		s := ParseEventHandlerSocket(text)
		mustMarshal(t, s)
		if s.Connected() > len(s.Sockets) || s.Connected() < 0 {
			t.Fatalf("connected %d of %d sockets", s.Connected(), len(s.Sockets))
		}
		for _, u := range s.Sockets {
			if u.Type == "" || u.PID < 0 || (u.PID > 0) != (u.Program != "") {
				t.Fatalf("bad socket %+v", u)
			}
			if u.State != "" && !netstatStates[u.State] {
				t.Fatalf("unknown state %q", u.State)
			}
		}
	})
}

func FuzzParseLsof(f *testing.F) {
	seedFuzz(f, "lsof")
	f.Fuzz(func(t *testing.T, text string) {
		l := ParseLsof(text)
		mustMarshal(t, l)
		for _, e := range l.Entries {
			if e.Command == "" || e.PID <= 0 || (e.Protocol != "TCP" && e.Protocol != "UDP") {
				t.Fatalf("bad entry %+v", e)
			}
			if strings.Contains(e.Local, "->") {
				t.Fatalf("local address kept the arrow: %+v", e)
			}
		}
	})
}

func FuzzParseConnectorLog(f *testing.F) {
	seedFuzz(f, "connectorlog")
	f.Fuzz(func(t *testing.T, text string) {
		l := ParseConnectorLog(text, goldenNow, DefaultLogWindow)
		mustMarshal(t, l)
		cutoff := goldenNow.Add(-DefaultLogWindow)
		for _, e := range l.Recent {
			if e.Time.IsZero() || e.Time.Before(cutoff) || e.Problem == "" {
				t.Fatalf("entry outside the window or not a problem counted as recent: %+v", e)
			}
		}
		if l.LastHistorical != nil && !l.LastHistorical.Time.Before(cutoff) {
			t.Fatalf("history inside the window: %+v", l.LastHistorical)
		}
		if (l.HistoricalErrors > 0) != (l.LastHistorical != nil) {
			t.Fatalf("historical count %d vs last %v", l.HistoricalErrors, l.LastHistorical)
		}
		if len(l.Recent)+l.HistoricalErrors+l.UndatedErrors > l.Entries {
			t.Fatalf("more errors than entries: %+v", l)
		}
		n := 0
		for _, c := range l.RecentProblems() {
			n += c
		}
		if n != len(l.Recent) {
			t.Fatalf("problem counts %d != recent %d", n, len(l.Recent))
		}
	})
}

func FuzzParseContext(f *testing.F) {
	seedFuzz(f, "context")
	f.Fuzz(func(t *testing.T, text string) {
		c := ParseContext(text)
		mustMarshal(t, c)
		if c.Enrolled && (!c.Answered || c.NotFound || c.State == "") {
			t.Fatalf("enrolled without an answer saying so: %+v", c)
		}
		if c.Refused && c.CurlError == "" {
			t.Fatalf("refused without curl's message: %+v", c)
		}
		if !c.Answered && c.CurlError == "" && c.ParseError == "" {
			t.Fatalf("no answer and no reason: %+v", c)
		}
	})
}

// FuzzRunChecks feeds one arbitrary output to every command: whatever a device prints, each
// requested check yields exactly one result, codes only come with failures (or a timeout
// error), and Assess agrees with the verdicts.
func FuzzRunChecks(f *testing.F) {
	for _, dir := range []string{"pmtool", "netstat", "lsof", "context"} {
		for _, in := range goldenInputs(f, dir) {
			f.Add(readFile(f, in))
		}
	}
	f.Add(readFile(f, filepath.Join("testdata", "curl", "timeout_connect.txt")))
	env := Env{Device: "fuzz", Site: "emea", Region: "eu", Endpoints: DefaultRegions()["eu"], Now: goldenNow, CurlMaxTime: time.Second}
	f.Fuzz(func(t *testing.T, out string) {
		exec := ExecutorFunc(func(context.Context, string) (string, error) { return out, nil })
		results := RunChecks(context.Background(), exec, env, nil)
		if len(results) != len(catalog) {
			t.Fatalf("%d results for %d checks", len(results), len(catalog))
		}
		failed := false
		for i, r := range results {
			mustMarshal(t, r)
			if r.ID != catalog[i].ID || r.Summary == "" {
				t.Fatalf("result %d: %+v", i, r)
			}
			if len(r.Diagnoses) > 0 && r.Verdict != VerdictFail {
				t.Fatalf("%s: codes %v on verdict %s", r.ID, r.Diagnoses, r.Verdict)
			}
			failed = failed || r.Verdict == VerdictFail
		}
		a := Assess(results)
		if failed != (a.Health == HealthUnhealthy) {
			t.Fatalf("health %s with failed=%v", a.Health, failed)
		}
		if len(a.Diagnoses) > 0 && a.Health == HealthUnhealthy && a.Recommended == RecommendNone {
			t.Fatalf("diagnoses %v without a recommendation", a.Diagnoses)
		}
	})
}
