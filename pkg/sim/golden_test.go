package sim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the simulator's output")

// goldenDevice is the device of a transcript: the seed's hostname, address
// and region, so docs/firepower.md's captures appear verbatim.
func goldenDevice(kind Kind, fault Fault) DeviceSpec {
	spec := DeviceSpec{Name: "golden-" + string(kind), Kind: kind, Site: "amer", Hostname: "firepower",
		MgmtIP: "192.168.1.200"}
	switch kind {
	case KindFTD:
		spec.Model, spec.Version = "1120", "6.4.0.9"
	case KindFMC7:
		spec.Model, spec.Version, spec.Hostname = "fmcv300", "7.4.2", "fmc"
	case KindFMC6:
		spec.Model, spec.Version, spec.Hostname = "fmcv", "6.6.5", "fmc"
	case KindFXOS:
		spec.Model, spec.Version = "4110", "6.6.5"
	}
	if fault != FaultHealthy {
		spec.Faults = []Fault{fault}
	}
	return spec
}

// diagnoseCommands are the exact commands the diagnose checks send
// (contracts-internal.md), for the us region.
var diagnoseCommands = []string{
	"curl -v https://api-sse.cisco.com/providers/sse/services/registration/api/v2/clients --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"curl -v https://est.sco.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"curl -v https://eventing-ingest.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"curl -v https://mx01.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	"cat /ngfw/etc/sf/connector.properties",
	"pmtool status | grep -E '^(SSEConnector|EventHandler) '",
	"netstat -anlp | grep EventHandler_SSEConnector.sock",
	"lsof -i | grep connector",
	"tail -n 200 /ngfw/var/log/connector/connector.log",
	"curl -s localhost:8989/v1/contexts/default",
}

var transcriptKinds = []Kind{KindFTD, KindFMC7, KindFMC6, KindFXOS}

var transcriptFaults = []Fault{FaultHealthy, FaultEventHandlerDisconnected, FaultEgressBlocked,
	FaultConnectorStopped, FaultNotEnrolled, FaultRegionMismatch}

func goldenPath(name string) string { return filepath.Join("testdata", name+".golden") }

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := goldenPath(name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./pkg/sim -run Golden -update")
	if string(want) != got {
		t.Fatalf("transcript differs from %s (refresh with -update if intended):\n%s", path, firstDiff(string(want), got))
	}
}

// firstDiff shows the first differing line with a little context, so a
// failing transcript does not flood the log.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d:\n- want: %q\n+ got:  %q", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

// diagnoseTranscript logs in, reaches root, runs every diagnose command,
// then pmtool status, and leaves level by level.
func diagnoseTranscript(t *testing.T, kind Kind, fault Fault) string {
	f := startFleet(t, FleetConfig{Devices: []DeviceSpec{goldenDevice(kind, fault)}})
	d := f.Devices()[0]
	tm := openTerm(t, dial(t, d), 400)
	toRoot(tm, kind)
	for _, c := range diagnoseCommands {
		tm.run(c, "# ")
	}
	tm.run("pmtool status", "# ")
	tm.run("exit", "$ ")
	switch kind {
	case KindFMC6:
		_, _ = tm.in.Write([]byte("exit\r"))
	case KindFXOS:
		tm.run("exit", "> ")
		tm.run("exit", "Firepower-module1> ")
		tm.run("exit", "firepower# ")
		_, _ = tm.in.Write([]byte("exit\r"))
	default:
		tm.run("exit", "> ")
		_, _ = tm.in.Write([]byte("exit\r"))
	}
	_, err := tm.waitEnd()
	require.NoError(t, err)
	return screen(tm.out.String())
}

func TestGoldenTranscripts(t *testing.T) {
	t.Parallel()
	for _, kind := range transcriptKinds {
		for _, fault := range transcriptFaults {
			name := fmt.Sprintf("%s-%s", kind, fault)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				checkGolden(t, name, diagnoseTranscript(t, kind, fault))
			})
		}
	}
}

// logTimestamp hides the time of logrus lines: samples match modulo time.
var logTimestamp = regexp.MustCompile(`time="[^"]*"`)

// TestGoldenSamplesVerbatim checks that the captures docs/firepower.md gives
// appear verbatim in the transcripts of the matching fault.
func TestGoldenSamplesVerbatim(t *testing.T) {
	t.Parallel()
	// The transcripts are made afresh (not read from testdata) so this
	// test does not depend on -update having run first.
	made := map[string]string{}
	read := func(name string) string {
		if s, ok := made[name]; ok {
			return s
		}
		kind, fault, _ := strings.Cut(name, "-")
		s := logTimestamp.ReplaceAllString(diagnoseTranscript(t, Kind(kind), Fault(fault)), `time="..."`)
		made[name] = s
		return s
	}
	cases := []struct {
		golden string
		sample string
	}{
		{"ftd-healthy", "registration_interval=180\nconnector_port=8989\nconnector_fqdn=api-sse.cisco.com\n"},
		{"ftd-eventhandler-disconnected", "root@firepower:~# netstat -anlp | grep EventHandler_SSEConnector.sock\n" +
			"unix 2 [ ACC ] STREAM LISTENING 3022791165 11204/EventHandler /ngfw/var/sf/run/EventHandler_SSEConnector.sock\nroot@firepower:~# "},
		{"ftd-healthy", "unix 2 [ ACC ] STREAM LISTENING 382276 7741/EventHandler /ngfw/var/sf/run/EventHandler_SSEConnector.sock\n" +
			"unix 3 [ ] STREAM CONNECTED 378537 7741/EventHandler /ngfw/var/sf/run/EventHandler_SSEConnector.sock\n"},
		{"ftd-egress-blocked", "connector 60815 www 10u IPv4 3022789647 0t0 TCP localhost:8989 (LISTEN)\n" +
			"connector 60815 www 12u IPv4 110237499 0t0 TCP firepower.cisco.com:53426->ec2-100-25-93-234.compute-1.amazonaws.com:https (SYN_SENT)\n"},
		{"ftd-healthy", "connector 13277 www 10u IPv4 26077573 0t0 TCP localhost:8989 (LISTEN)\n" +
			"connector 13277 www 19u IPv4 26077679 0t0 TCP 192.168.1.200:56495->ec2-35-172-147-246.compute-1.amazonaws.com:https (ESTABLISHED)\n"},
		{"ftd-egress-blocked", `time="..." level=error msg="[firepower.cisco.com][events.go:90 events:connectWebSocket] dial tcp 18.205.49.246:443: getsockopt: connection timed out"`},
		{"ftd-eventhandler-disconnected", `level=error msg="[firepower][events.go:108 events:(*Service).Start] failed to connect to ZeroMQ PUSH endpoint: could not dial to \"ipc:///ngfw/var/sf/run/EventHandler_SSEConnector.sock\": dial unix /ngfw/var/sf/run/EventHandler_SSEConnector.sock: connect: no such file or directory"`},
		{"ftd-healthy", "SSEConnector (system) - Running 20697\nRequired by: ngfwManager,ASAConfig,tomcat,SSEConnector,...\n" +
			"EventHandler (normal) - Running 17453\nPID File: /ngfw/var/sf/run/EventHandler.pid\n" +
			"Enable File: /ngfw/etc/sf/EventHandler.run\nadi (normal) - User Disabled\n"},
		{"ftd-connector-stopped", "SSEConnector (system) - User Disabled\n"},
		{"ftd-connector-stopped", "curl: (7) Failed to connect to localhost port 8989: Connection refused\n"},
		{"ftd-egress-blocked", "* Connection timed out after 10001 milliseconds\n* Closing connection 0\ncurl: (28) Connection timed out after 10001 milliseconds\n"},
		{"ftd-healthy", "* Connection #0 to host api-sse.cisco.com left intact\n"},
		{"ftd-healthy", "< HTTP/1.1 403 Forbidden\n"},
		{"ftd-healthy", "Cisco Firepower 1120 Threat Defense v6.4.0.9 (build 62)\n"},
		{"fmc7-healthy", "Cisco Secure Firewall Management Center for VMWare 300 v7.4.2 (build 172)\n"},
		{"fmc6-healthy", "admin@fmc:~$ "},
		{"fxos-healthy", "firepower# "},
		{"fxos-healthy", "Firepower-module1> "},
		{"fxos-healthy", "Connecting to ftd() console... enter exit to return to bootCLI\n"},
		{"ftd-not-enrolled", `"status":{"state":"Not Enrolled","reason":"no registration token"}`},
		{"ftd-region-mismatch", "connector_fqdn=api.eu.sse.itd.cisco.com\n"},
		{"ftd-healthy", "admin@firepower:~$ sudo su -\n\nWe trust you have received the usual lecture"},
	}
	for _, c := range cases {
		require.Contains(t, read(c.golden), c.sample, "golden %s", c.golden)
	}
	// The bad socket state has no CONNECTED line; the good one has.
	require.NotContains(t, read("ftd-eventhandler-disconnected"), "STREAM CONNECTED 378537 7741/EventHandler")
	require.False(t, strings.Contains(read("ftd-egress-blocked"), "left intact"))
}
