package diagnose

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultRegions(t *testing.T) {
	t.Parallel()
	regions := DefaultRegions()
	require.NoError(t, regions.Validate())
	require.Equal(t, []string{"apj", "eu", "us"}, regions.Names())
	require.Equal(t, "api.eu.sse.itd.cisco.com", regions["eu"].API)
	for _, tc := range []struct{ host, region string }{
		{"api-sse.cisco.com", "us"}, {"API.EU.SSE.ITD.CISCO.COM", "eu"}, {"api.apj.sse.itd.cisco.com", "apj"},
	} {
		got, ok := regions.RegionOfAPIHost(tc.host)
		require.True(t, ok, tc.host)
		require.Equal(t, tc.region, got)
	}
	_, ok := regions.RegionOfAPIHost("est.sco.cisco.com")
	require.False(t, ok, "the shared EST host is nobody's API host")

	regions["eu"] = Endpoints{}
	require.NotEqual(t, Endpoints{}, DefaultRegions()["eu"], "every call returns a fresh table")
}

func TestRegionTableValidate(t *testing.T) {
	t.Parallel()
	valid := func() RegionTable { return DefaultRegions() }
	for _, tc := range []struct {
		name   string
		mutate func(RegionTable)
		errSub string
	}{
		{"empty", func(r RegionTable) { clear(r) }, "empty"},
		{"bad name", func(r RegionTable) { r["EU West"] = r["eu"]; delete(r, "eu") }, "name"},
		{"missing host", func(r RegionTable) { e := r["us"]; e.MX = ""; r["us"] = e }, `region "us": mx host is empty`},
		{"injection", func(r RegionTable) { e := r["us"]; e.Eventing = "x.com;reboot"; r["us"] = e }, "not a valid hostname"},
		{"shared API host", func(r RegionTable) { e := r["apj"]; e.API = "API-SSE.cisco.com"; r["apj"] = e }, "share the API host"},
		{"bad optional dex", func(r RegionTable) { e := r["eu"]; e.DEX = "-dex"; r["eu"] = e }, "dex"},
	} {
		r := valid()
		tc.mutate(r)
		err := r.Validate()
		require.Error(t, err, tc.name)
		require.Contains(t, err.Error(), tc.errSub, tc.name)
	}
	r := valid()
	e := r["eu"]
	e.DEX = ""
	r["eu"] = e
	r["gov"] = Endpoints{API: "api.gov.example", EST: "est.sco.cisco.com", MX: "mx.gov.example", Eventing: "ev.gov.example"}
	require.NoError(t, r.Validate(), "DEX is optional and new regions are allowed")
}

func TestValidHostname(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]bool{
		"api-sse.cisco.com": true, "localhost": true, "a1.b2": true, "xn--bcher-kva.example": true,
		"": false, "-a.com": false, "a-.com": false, "a..com": false, "a.com.": false, "a_b.com": false,
		"a b": false, "a;b": false, "a/b": false, "127.0.0.1:22": false,
	} {
		require.Equal(t, want, ValidHostname(h), h)
	}
}

func TestNewEnv(t *testing.T) {
	t.Parallel()
	env, err := NewEnv("ftd-ams-01", "emea", "eu", DefaultRegions())
	require.NoError(t, err)
	require.Equal(t, DefaultRegions()["eu"], env.Endpoints)
	_, err = NewEnv("ftd-x", "mars", "mars", DefaultRegions())
	require.ErrorContains(t, err, `region "mars" of site "mars"`)

	d := env.withDefaults()
	require.Equal(t, DefaultLogWindow, d.LogWindow)
	require.Equal(t, DefaultCurlMaxTime, d.CurlMaxTime)
	require.False(t, d.Now.IsZero())
	env.LogWindow = -time.Second
	require.Error(t, env.Validate())
}

func TestCommands(t *testing.T) {
	t.Parallel()
	cmd, err := CurlCommand("api-sse.cisco.com", APIRegistrationPath, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, "curl -v https://api-sse.cisco.com/providers/sse/services/registration/api/v2/clients --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10", cmd)
	cmd, err = CurlCommand("est.sco.cisco.com", "", 1500*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, "curl -v https://est.sco.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 2", cmd, "rounded up")
	cmd, _ = CurlCommand("est.sco.cisco.com", "", 0)
	require.Contains(t, cmd, "--max-time 1", "never without a bound")

	c, ok := Lookup(CheckSSEConnectivity)
	require.True(t, ok)
	cmds, err := c.Commands(Env{Endpoints: DefaultRegions()["us"]})
	require.NoError(t, err)
	require.Equal(t, []string{
		"curl -v https://api-sse.cisco.com/providers/sse/services/registration/api/v2/clients --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
		"curl -v https://est.sco.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
		"curl -v https://eventing-ingest.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
		"curl -v https://mx01.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10",
	}, cmds, "the seed's four tests, in the order of the internal contract")

	// The exact strings the simulator answers to (contracts-internal.md).
	for id, want := range map[string]string{
		CheckConnectorProperties: "cat /ngfw/etc/sf/connector.properties",
		CheckConnectorProcess:    "pmtool status | grep -E '^(SSEConnector|EventHandler) '",
		CheckEventHandlerSocket:  "netstat -anlp | grep EventHandler_SSEConnector.sock",
		CheckCloudSession:        "lsof -i | grep connector",
		CheckConnectorLog:        "tail -n 200 /ngfw/var/log/connector/connector.log",
		CheckConnectorEnrollment: "curl -s localhost:8989/v1/contexts/default",
	} {
		c, ok := Lookup(id)
		require.True(t, ok, id)
		cmds, err := c.Commands(Env{})
		require.NoError(t, err)
		require.Equal(t, []string{want}, cmds, id)
	}
	require.Equal(t, "pmtool status | grep -E '^SSEConnector '", CmdConnectorStatus)
	_, ok = Lookup("nope")
	require.False(t, ok)
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{
		"sse.connectivity", "connector.properties", "connector.process", "connector.eventhandler-socket",
		"connector.cloud-session", "connector.log", "connector.enrollment",
	}, CheckIDs())
	seen := map[string]bool{}
	for _, c := range Catalog() {
		require.NotEmpty(t, c.Title)
		for _, r := range c.Requires {
			require.True(t, seen[r], "%s requires %s, which must come first", c.ID, r)
		}
		seen[c.ID] = true
	}
	cat := Catalog()
	cat[0].ID = "mutated"
	require.Equal(t, CheckSSEConnectivity, Catalog()[0].ID, "Catalog returns a copy")
}
