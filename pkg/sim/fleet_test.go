package sim

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestFleetMixIsExactAndDeterministic(t *testing.T) {
	t.Parallel()
	cfg := FleetConfig{Count: 200, Seed: 42, Sites: []string{"emea", "amer", "apjc"},
		Faults: "eventhandler-disconnected=10%,egress-blocked=5%", Kinds: "fmc7=5%,fmc6=3%,fxos=2%"}
	f1, err := NewFleet(cfg, zap.NewNop())
	require.NoError(t, err)
	f2, err := NewFleet(cfg, zap.NewNop())
	require.NoError(t, err)
	counts := f1.FaultCounts()
	require.Equal(t, 20, counts[FaultEventHandlerDisconnected])
	require.Equal(t, 10, counts[FaultEgressBlocked])
	require.Equal(t, 170, counts[FaultHealthy])
	kinds := map[Kind]int{}
	for i, d := range f1.Devices() {
		kinds[d.Kind()]++
		other := f2.Devices()[i]
		require.Equal(t, d.Name(), other.Name())
		require.Equal(t, d.Faults(), other.Faults())
		require.Equal(t, d.Version(), other.Version())
		require.Equal(t, d.Fingerprint(), other.Fingerprint(), "host keys derive from the seed")
		require.Equal(t, []string{"emea", "amer", "apjc"}[i%3], d.Site())
		if d.Region() != "us" {
			require.NotContains(t, d.Version(), "6.4", "the EU/APJ clouds need 6.5+")
		}
	}
	require.Equal(t, map[Kind]int{KindFTD: 180, KindFMC7: 10, KindFMC6: 6, KindFXOS: 4}, kinds)

	cfg.Seed = 43
	f3, err := NewFleet(cfg, zap.NewNop())
	require.NoError(t, err)
	require.NotEqual(t, f1.Devices()[0].Fingerprint(), f3.Devices()[0].Fingerprint())
}

func TestFleetConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  FleetConfig
		want string
	}{
		{FleetConfig{}, "no devices"},
		{FleetConfig{Count: 1, Listen: "10.0.0.1"}, "only listens on loopback"},
		{FleetConfig{Count: 1, Faults: "bogus=5%"}, "unknown fault"},
		{FleetConfig{Count: 1, Faults: "hang=70%,slow=40%"}, "more than 100%"},
		{FleetConfig{Count: 1, Kinds: "asa=5%"}, "unknown device kind"},
		{FleetConfig{Count: 3, Listen: "127.255.255.254"}, "run past"},
		{FleetConfig{Devices: []DeviceSpec{{Name: "a"}, {Name: "a"}}}, "duplicate"},
	} {
		_, err := NewFleet(c.cfg, nil)
		require.ErrorContains(t, err, c.want)
	}
}

func TestAddressesCountUpAndPortBase(t *testing.T) {
	t.Parallel()
	f := startFleet(t, FleetConfig{Count: 3, Listen: "127.77.250.254"})
	require.Equal(t, "127.77.250.254", f.Devices()[0].IP())
	require.Equal(t, "127.77.250.255", f.Devices()[1].IP())
	require.Equal(t, "127.77.251.0", f.Devices()[2].IP())
	for _, d := range f.Devices() {
		_ = dial(t, d)
	}
	f2, err := NewFleet(FleetConfig{Count: 3, Listen: "127.77.249.1", PortBase: 42100}, nil)
	require.NoError(t, err)
	require.Equal(t, "127.77.249.1:42102", f2.Devices()[2].Addr())
}

func TestInventoryAndFingerprints(t *testing.T) {
	t.Parallel()
	f := startFleet(t, FleetConfig{Count: 4, Sites: []string{"emea", "amer"}, Kinds: "fmc7=25%", Seed: 7})
	var b bytes.Buffer
	require.NoError(t, f.WriteInventoryCSV(&b, "lab"))
	rows, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"name", "kind", "site", "address", "credential", "tags", "managed_by", "api_address"}, rows[0])
	require.Len(t, rows, 5)
	var fmc string
	for _, r := range rows[1:] {
		d := f.Device(r[0])
		require.NotNil(t, d)
		require.Equal(t, d.Kind().InventoryKind(), r[1])
		require.Equal(t, d.Site(), r[2])
		require.Equal(t, d.Addr(), r[3], "ephemeral ports are written as host:port")
		require.Equal(t, "lab", r[4])
		require.Regexp(t, `^model=[^;]+;version=[0-9.]+;simkind=\w+;sim=1$`, r[5])
		if r[1] == "fmc" {
			fmc = r[0]
			require.Equal(t, d.APIAddr(), r[7], "an FMC's REST API off port 443 is written as api_address")
		} else {
			require.Empty(t, r[7])
		}
	}
	require.NotEmpty(t, fmc)
	for _, r := range rows[1:] {
		if r[1] == "ftd" && r[2] == f.Device(fmc).Site() {
			require.Equal(t, fmc, r[6], "FTDs are managed by their site's FMC")
		}
	}
	b.Reset()
	require.NoError(t, f.WriteFingerprints(&b))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var want []string
	for _, d := range f.Devices() {
		want = append(want, d.Name()+" "+d.Fingerprint())
		if d.Name() == fmc {
			// The FMC's REST certificate follows its host key.
			want = append(want, d.Name()+" "+d.APIFingerprint()+" tls")
		}
	}
	require.Equal(t, want, lines)
	for _, l := range lines {
		require.Regexp(t, regexp.MustCompile(`^\S+ SHA256:[A-Za-z0-9+/]{43}( tls)?$`), l)
	}
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	f := startFleet(t, FleetConfig{Devices: []DeviceSpec{{Name: "a"}, {Name: "b", Faults: []Fault{FaultEgressBlocked}}}})
	srv := httptest.NewServer(f.ControlHandler())
	t.Cleanup(srv.Close)
	do := func(method, path, body string, want int, into any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, "%s %s", method, path)
		if into != nil {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
		}
	}
	var list []DeviceInfo
	do("GET", "/devices", "", 200, &list)
	require.Len(t, list, 2)
	require.Equal(t, []Fault{}, list[0].Faults)
	require.Equal(t, []Fault{FaultEgressBlocked}, list[1].Faults)
	require.Equal(t, "up", list[1].State.Phase)
	do("GET", "/devices?fault=egress-blocked", "", 200, &list)
	require.Len(t, list, 1)

	do("PUT", "/devices/a/faults", `{"faults":["eventhandler-disconnected","slow"]}`, 200, nil)
	require.Equal(t, []Fault{FaultEventHandlerDisconnected, FaultSlow}, f.Device("a").Faults())
	do("DELETE", "/devices/a/faults/slow", "", 200, nil)
	require.Equal(t, []Fault{FaultEventHandlerDisconnected}, f.Device("a").Faults())
	do("PUT", "/devices/a/faults", `{"faults":["nonsense"]}`, 400, nil)
	do("DELETE", "/devices/b/faults", "", 200, nil)
	require.Empty(t, f.Device("b").Faults())
	do("GET", "/devices/nope", "", 404, nil)

	tm := openTerm(t, dial(t, f.Device("a")), 200)
	tm.waitFor("> ")
	tm.run("show version", "> ")
	var detail DeviceDetail
	do("GET", "/devices/a", "", 200, &detail)
	require.EqualValues(t, 1, detail.Counters.Logins)
	require.EqualValues(t, 1, detail.Counters.Commands)
	require.Len(t, detail.CommandLog, 1)
	require.Equal(t, "show version", detail.CommandLog[0].Line)
	require.Equal(t, f.Device("a").Fingerprint(), detail.Fingerprint)
}

func TestFaultSelectors(t *testing.T) {
	t.Parallel()
	cfg := FleetConfig{Count: 300, Seed: 7, Sites: []string{"emea", "amer", "apjc"}, Kinds: "fmc7=2%",
		Faults: "connector-stopped=5%,egress-blocked@site=emea,eventhandler-disconnected@version=6.4.0.9,not-enrolled@fmc=PLACEHOLDER"}
	// The FMC names depend on the kind mix: find one first.
	probe, err := NewFleet(FleetConfig{Count: 300, Seed: 7, Sites: cfg.Sites, Kinds: cfg.Kinds}, nil)
	require.NoError(t, err)
	fmc := ""
	for _, d := range probe.devices {
		if d.kind.InventoryKind() == "fmc" && d.site == "apjc" {
			fmc = d.name
			break
		}
	}
	require.NotEmpty(t, fmc)
	cfg.Faults = strings.Replace(cfg.Faults, "PLACEHOLDER", fmc, 1)
	f, err := NewFleet(cfg, nil)
	require.NoError(t, err)
	var egress, eh, enrol, stopped int
	for i, d := range f.devices {
		// The selectors do not change who the devices are.
		require.Equal(t, probe.devices[i].name, d.name)
		require.Equal(t, probe.devices[i].rel.version, d.rel.version)
		require.Equal(t, probe.devices[i].ManagedBy(), d.ManagedBy())

		switch {
		case d.site == "emea":
			require.Equal(t, []Fault{FaultEgressBlocked}, d.Faults(), d.name)
			egress++
		case d.rel.version == "6.4.0.9":
			require.Equal(t, []Fault{FaultEventHandlerDisconnected}, d.Faults(), d.name)
			eh++
		case d.ManagedBy() == fmc:
			require.Equal(t, []Fault{FaultNotEnrolled}, d.Faults(), d.name)
			enrol++
		default:
			require.NotContains(t, d.Faults(), FaultEgressBlocked, d.name)
			require.NotContains(t, d.Faults(), FaultNotEnrolled, d.name)
			if len(d.Faults()) > 0 {
				require.Equal(t, []Fault{FaultConnectorStopped}, d.Faults(), d.name)
				stopped++
			}
		}

	}
	require.Equal(t, 100, egress)
	require.Positive(t, eh)
	require.Positive(t, enrol)
	require.Positive(t, stopped)

	for _, bad := range []string{"egress-blocked@zone=emea", "nope@site=emea", "healthy@site=emea",
		"egress-blocked@version=9.9", "egress-blocked@site=", "egress-blocked@site=emea=150%"} {
		_, err := NewFleet(FleetConfig{Count: 3, Faults: bad}, nil)
		require.Error(t, err, bad)
	}
}

// The connector.log line format is logrus's (fmt's %q for both values).
func TestLogLineFormat(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 89, siteZone("amer"))
	l := logLine{at: at, level: "error", msg: `dial "ipc://x": ü	tab`}
	require.Equal(t, fmt.Sprintf("time=%q level=%s msg=%q", at.Format(time.RFC3339Nano), l.level, l.msg), l.String())
}
