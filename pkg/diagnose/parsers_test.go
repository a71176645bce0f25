package diagnose

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*.golden.json from the parsers' output")

// goldenNow is the time connector.log golden cases are judged at: six minutes after the seed's
// error line.
var goldenNow = time.Date(2020, 4, 13, 14, 40, 0, 0, time.FixedZone("CDT", -5*3600))

// goldenParsers maps a testdata directory to the parser its cases feed.
var goldenParsers = map[string]func(string) any{
	"curl":         func(s string) any { return ParseCurl(s) },
	"properties":   func(s string) any { return ParseConnectorProperties(s) },
	"pmtool":       func(s string) any { return ParsePmtoolStatus(s) },
	"netstat":      func(s string) any { return ParseEventHandlerSocket(s) },
	"lsof":         func(s string) any { return ParseLsof(s) },
	"connectorlog": func(s string) any { return ParseConnectorLog(s, goldenNow, DefaultLogWindow) },
	"context":      func(s string) any { return ParseContext(s) },
}

func goldenInputs(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no cases in testdata/%s", dir)
	sort.Strings(files)
	return files
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return string(b) + "\n"
}

// TestGolden compares every parser's output on its captured inputs with the reviewed golden file.
func TestGolden(t *testing.T) {
	t.Parallel()
	for dir, parse := range goldenParsers {
		for _, in := range goldenInputs(t, dir) {
			t.Run(dir+"/"+filepath.Base(in), func(t *testing.T) {
				t.Parallel()
				got := marshal(t, parse(readFile(t, in)))
				golden := strings.TrimSuffix(in, ".txt") + ".golden.json"
				if *update {
					require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				}
				require.Equal(t, readFile(t, golden), got, "refresh with: go test ./pkg/diagnose -update")
			})
		}
	}
}

// wrapAt breaks every line longer than width into width-sized pieces, mid-word, as a terminal
// copy-paste does. A CRLF line end stays a line end (a carriage return takes no column).
func wrapAt(text string, width int) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line, cr := strings.CutSuffix(line, "\r")
		end := ""
		if cr {
			end = "\r"
		}
		for len(line) > width {
			out = append(out, line[:width]+end)
			line = line[width:]
		}
		out = append(out, line+end)
	}
	return strings.Join(out, "\n")
}

// decorate adds what a raw PTY capture carries: CRLF line ends, BEL and colour sequences.
func decorate(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "\x1b[0m" + l + "\x07"
		}
	}
	return strings.Join(lines, "\r\n")
}

// TestParsersIgnoreTerminalArtifacts: wrapping at any realistic terminal width, CRLF line ends and
// escape sequences never change what a parser reads from a case.
func TestParsersIgnoreTerminalArtifacts(t *testing.T) {
	t.Parallel()
	for dir, parse := range goldenParsers {
		for _, in := range goldenInputs(t, dir) {
			t.Run(dir+"/"+filepath.Base(in), func(t *testing.T) {
				t.Parallel()
				text := readFile(t, in)
				want := marshal(t, parse(text))
				require.Equal(t, want, marshal(t, parse(decorate(text))), "CRLF/ANSI/BEL")
				for width := 40; width <= 132; width++ {
					wrapped := wrapAt(text, width)
					require.Equal(t, want, marshal(t, parse(wrapped)), "wrapped at %d columns:\n%s", width, wrapped)
					require.Equal(t, want, marshal(t, parse(decorate(wrapped))), "wrapped at %d columns, decorated", width)
				}
			})
		}
	}
}

// TestParserFacts pins down, independently of the golden files, what each captured case must mean.
func TestParserFacts(t *testing.T) {
	t.Parallel()
	in := func(dir, name string) string { return readFile(t, filepath.Join("testdata", dir, name+".txt")) }

	t.Run("curl", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name    string
			outcome CurlOutcome
			status  int
			host    string
		}{
			{"api_403_ok", CurlOK, 403, "api-sse.cisco.com"},
			{"est_ok_body_no_newline", CurlOK, 200, "est.sco.cisco.com"},
			{"sim_healthy_eu", CurlOK, 404, "eventing-ingest.eu.sse.itd.cisco.com"},
			{"wrapped_crlf_prompt", CurlOK, 403, "eventing-ingest.apj.sse.itd.cisco.com"},
			{"ansi_bel", CurlOK, 403, "api-sse.cisco.com"},
			{"timeout_connect", CurlTimeout, 0, ""},
			{"timeout_operation", CurlTimeout, 0, "eventing-ingest.sse.itd.cisco.com"},
			{"timeout_kernel", CurlTimeout, 0, "mx01.sse.itd.cisco.com"},
			{"sim_timeout", CurlTimeout, 0, ""},
			{"resolve", CurlDNS, 0, "api-sse.cisco.com"},
			{"refused", CurlRefused, 0, "est.sco.cisco.com"},
			{"ssl_cert", CurlTLS, 0, "api-sse.cisco.com"},
			{"proxy_reset", CurlTLS, 0, "api-sse.cisco.com"},
			{"no_left_intact", CurlIncomplete, 403, "api-sse.cisco.com"},
			{"empty", CurlIncomplete, 0, ""},
		} {
			r := ParseCurl(in("curl", tc.name))
			require.Equal(t, tc.outcome, r.Outcome, tc.name)
			require.Equal(t, tc.status, r.HTTPStatus, tc.name)
			require.Equal(t, tc.host, r.Host, tc.name)
			require.Equal(t, tc.outcome == CurlOK, r.OK(), tc.name)
		}
		require.Equal(t, "SSL certificate problem: unable to get local issuer certificate", ParseCurl(in("curl", "ssl_cert")).Reason)
		require.Equal(t, 28, ParseCurl(in("curl", "timeout_connect")).ExitCode)
		// Found by FuzzParseCurl: an error code without a message still gets a reason.
		bare := ParseCurl("curl: (35)")
		require.Equal(t, CurlTLS, bare.Outcome)
		require.Equal(t, "curl exited with code 35", bare.Reason)
	})

	t.Run("properties", func(t *testing.T) {
		t.Parallel()
		p := ParseConnectorProperties(in("properties", "seed"))
		require.Equal(t, "api-sse.cisco.com", p.ConnectorFQDN)
		require.Equal(t, 8989, p.ConnectorPort)
		require.Equal(t, 180, p.RegistrationInterval)
		require.Equal(t, "api.eu.sse.itd.cisco.com", ParseConnectorProperties(in("properties", "eu_crlf_prompt")).ConnectorFQDN)
		c := ParseConnectorProperties(in("properties", "comments_spaces"))
		require.Equal(t, "api-sse.cisco.com", c.ConnectorFQDN, "the last duplicate wins")
		require.Equal(t, 180, c.RegistrationInterval)
		require.Equal(t, []string{"this line is not a property"}, c.Invalid)
		require.Equal(t, "eventing-ingest.apj.sse.itd.cisco.com.lab.example.net", ParseConnectorProperties(in("properties", "wrapped")).ConnectorFQDN)
		m := ParseConnectorProperties(in("properties", "missing"))
		require.True(t, m.Missing)
		require.Empty(t, m.Values)
	})

	t.Run("pmtool", func(t *testing.T) {
		t.Parallel()
		full := ParsePmtoolStatus(in("pmtool", "seed_full"))
		require.Len(t, full.Services, 3, "detail lines are not services")
		conn, ok := full.Service("sseconnector")
		require.True(t, ok)
		require.Equal(t, PmtoolService{Name: "SSEConnector", Type: "system", Status: "Running", PID: 20697}, conn)
		require.True(t, conn.Running())
		adi, _ := full.Service("adi")
		require.True(t, adi.UserDisabled())
		require.False(t, adi.Running())

		dis, ok := ConnectorStatus(in("pmtool", "user_disabled"))
		require.True(t, ok)
		require.True(t, dis.UserDisabled())
		nopid, _ := ConnectorStatus(in("pmtool", "running_no_pid"))
		require.Equal(t, "Running", nopid.Status)
		require.False(t, nopid.Running(), "Running without a PID is not running")
		v := ParsePmtoolStatus(in("pmtool", "type_variants"))
		require.Len(t, v.Services, 4)
		require.Equal(t, "critical-3", v.Services[2].Type)
		require.Equal(t, "Stopped", v.Services[3].Status)
		w := ParsePmtoolStatus(in("pmtool", "wrapped"))
		require.Len(t, w.Services, 3, "the wrapped Required by: line is not a service")
		long, ok := w.Service("Cisco_Secure_Firewall_Long_Service_Name1")
		require.True(t, ok, "a service line wrapped after its name is joined")
		require.Equal(t, 4242, long.PID)
		_, ok = ConnectorStatus("")
		require.False(t, ok)
		waiting, ok := ConnectorStatus(in("pmtool", "sim_full_waiting"))
		require.True(t, ok)
		require.Equal(t, "Waiting", waiting.Status)
		require.False(t, waiting.Running())
		require.Len(t, ParsePmtoolStatus(in("pmtool", "sim_full_waiting")).Services, 6)
		require.Len(t, ParsePmtoolStatus(in("pmtool", "echo_no_prompt")).Services, 2, "an echoed command is not a service")
	})

	t.Run("netstat", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name      string
			listening bool
			connected int
		}{
			{"seed_bad", true, 0},
			{"wrapped_bad_80", true, 0},
			{"seed_good", true, 1},
			{"wrapped_good_64", true, 1},
			{"padded_columns", true, 2},
			{"full_table", true, 0},
			{"sim_full_table", true, 1},
			{"empty", false, 0},
		} {
			s := ParseEventHandlerSocket(in("netstat", tc.name))
			require.Equal(t, tc.listening, s.Listening(), tc.name)
			require.Equal(t, tc.connected, s.Connected(), tc.name)
		}
		bad := ParseEventHandlerSocket(in("netstat", "wrapped_bad_80"))
		require.Equal(t, []UnixSocket{{RefCnt: 2, Flags: "ACC", Type: "STREAM", State: "LISTENING", Inode: 3022791165,
			PID: 11204, Program: "EventHandler", Path: EventHandlerSocketPath}}, bad.Sockets)
		require.Len(t, ParseEventHandlerSocket(in("netstat", "full_table")).Sockets, 4)
	})

	t.Run("lsof", func(t *testing.T) {
		t.Parallel()
		bad := ParseLsof(in("lsof", "wrapped_bad_80"))
		require.Len(t, bad.Entries, 2)
		require.Equal(t, LsofEntry{Command: "connector", PID: 60815, User: "www", FD: "12u", Family: "IPv4", Protocol: "TCP",
			Local: "firepower.cisco.com:53426", Remote: "ec2-100-25-93-234.compute-1.amazonaws.com:https", State: "SYN_SENT"}, bad.Entries[1])
		good := ParseLsof(in("lsof", "wrapped_good_48"))
		require.Equal(t, "ESTABLISHED", good.Entries[1].State)
		require.Equal(t, "192.168.1.200:56495", good.Entries[1].Local)
		require.True(t, good.Entries[1].IsRemoteCloud())
		require.False(t, good.Entries[0].IsRemoteCloud())
		h := ParseLsof(in("lsof", "header_ipv6_padded"))
		require.Len(t, h.Entries, 4, "the header is not an entry")
		require.Equal(t, "[::1]:8989", h.Entries[1].Local)
		require.Len(t, ParseLsof(in("lsof", "lsof_warning")).Process("connector"), 2)
		sim := ParseLsof(in("lsof", "sim_full_egress"))
		require.Len(t, sim.Entries, 5, "the header is not an entry")
		conn := sim.Process("connector")
		require.Len(t, conn, 2, "only the connector's sockets")
		require.Equal(t, "SYN_SENT", conn[1].State)
	})

	t.Run("connectorlog", func(t *testing.T) {
		t.Parallel()
		parse := func(name string) ConnectorLog {
			return ParseConnectorLog(in("connectorlog", name), goldenNow, DefaultLogWindow)
		}
		require.Equal(t, map[LogProblem]int{LogEgressTimeout: 1}, parse("seed_timeout_recent").RecentProblems())
		require.Equal(t, map[LogProblem]int{LogEventHandlerSocket: 2}, parse("zeromq_recent").RecentProblems())
		w := parse("wrapped_80")
		require.Equal(t, map[LogProblem]int{LogEventHandlerSocket: 2, LogEgressTimeout: 1}, w.RecentProblems())
		require.Equal(t, 4, w.Entries)
		old := parse("old_errors_only")
		require.Empty(t, old.Recent, "errors older than the window are history, info lines are not errors")
		require.Equal(t, 3, old.HistoricalErrors)
		require.Equal(t, "2020-04-13T14:24:59-05:00", old.LastHistorical.Time.Format(time.RFC3339))
		ph := parse("seed_zeromq_placeholder")
		require.Empty(t, ph.Recent)
		require.Equal(t, 1, ph.UndatedErrors)
		mixed := parse("mixed_levels")
		require.Equal(t, map[LogProblem]int{LogTLS: 1, LogDNS: 1, LogOther: 1, LogEgressTimeout: 1}, mixed.RecentProblems(),
			"a plain warning is not a problem; a future time counts as recent")
		require.Equal(t, map[LogProblem]int{LogEgressTimeout: 2}, parse("sim_format").RecentProblems())
		require.True(t, parse("missing").Missing)
		nl := parse("non_logrus")
		require.Equal(t, 1, nl.Entries)
		require.Positive(t, nl.Unparsed)
	})

	t.Run("context", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name              string
			enrolled, refused bool
			notFound          bool
			state, fqdn       string
		}{
			{"sim_enrolled", true, false, false, "Enrolled", "api.eu.sse.itd.cisco.com"},
			{"wrapped_enrolled_72_crlf", true, false, false, "Enrolled", "api.eu.sse.itd.cisco.com"},
			{"pretty_printed", true, false, false, "ENROLLED", "api.apj.sse.itd.cisco.com"},
			{"status_string", true, false, false, "Enrolled", "api-sse.cisco.com"},
			{"sim_not_enrolled", false, false, false, "Not Enrolled", "api-sse.cisco.com"},
			{"wrapped_80", false, false, false, "Not Enrolled", "api-sse.cisco.com"},
			{"enrollment_status_top", false, false, false, "UNENROLLED", ""},
			{"not_found_404", false, false, true, "", ""},
			{"refused", false, true, false, "", ""},
			{"timeout", false, false, false, "", ""},
			{"garbage", false, false, false, "", ""},
			{"truncated_json", false, false, false, "", ""},
			{"empty", false, false, false, "", ""},
		} {
			c := ParseContext(in("context", tc.name))
			require.Equal(t, tc.enrolled, c.Enrolled, tc.name)
			require.Equal(t, tc.refused, c.Refused, tc.name)
			require.Equal(t, tc.notFound, c.NotFound, tc.name)
			require.Equal(t, tc.state, c.State, tc.name)
			require.Equal(t, tc.fqdn, c.FQDN, tc.name)
		}
		require.Equal(t, "no registration token", ParseContext(in("context", "sim_not_enrolled")).Reason)
		pp := ParseContext(in("context", "pretty_printed"))
		require.Equal(t, 180, pp.RefreshInterval, "a number given as a string is read")
		require.Empty(t, pp.Missing)
		require.Equal(t, []string{"clientInfo.name", "clientInfo.guid", "settings.exchange.fqdn"}, ParseContext(in("context", "missing_fields")).Missing)
		require.NotEmpty(t, ParseContext(in("context", "garbage")).ParseError)
	})
}

func TestIsEnrolledState(t *testing.T) {
	t.Parallel()
	for state, want := range map[string]bool{
		"Enrolled": true, "ENROLLED": true, "enrolled": true, "Registered": true,
		"Not Enrolled": false, "NotEnrolled": false, "not-enrolled": false, "UNENROLLED": false,
		"Enrollment Failed": false, "Pending enrollment": false, "": false, "Disabled": false,
	} {
		require.Equal(t, want, isEnrolledState(state), state)
	}
}
