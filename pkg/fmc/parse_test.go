package fmc

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The golden files are the answers of docs/firepower.md §5, as captured.
func readPage(t *testing.T, name string) page {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	var p page
	require.NoError(t, json.Unmarshal(b, &p))
	return p
}

func TestParseCloudEventsConfig(t *testing.T) {
	t.Parallel()
	cfgs, err := decodeItems[CloudEventsConfig](readPage(t, "cloudeventsconfigs.json").Items)
	require.NoError(t, err)
	require.Equal(t, []CloudEventsConfig{{ID: "5ab2a5b8-1111-4bd1-9c4e-8f4b1c2d3e4f", Type: "CloudEventsConfig",
		SendIntrusionEvents: false, SendFileEvents: true, SendConnectionEvents: false, SendAllConnectionEvents: true}}, cfgs)
}

func TestParseCloudRegions(t *testing.T) {
	t.Parallel()
	rs, err := decodeItems[CloudRegion](readPage(t, "cloudregions.json").Items)
	require.NoError(t, err)
	require.Len(t, rs, 3)
	require.True(t, rs[0].Current)
	require.Equal(t, "api-sse.cisco.com", rs[0].APIHost())
	require.Equal(t, "api.eu.sse.itd.cisco.com", rs[1].APIHost())
	require.Equal(t, "api.apj.sse.itd.cisco.com", rs[2].APIHost())
	require.Equal(t, "", CloudRegion{Name: "no host"}.APIHost())
}

func TestParseSmartLicense(t *testing.T) {
	t.Parallel()
	ls, err := decodeItems[SmartLicense](readPage(t, "smartlicenses.json").Items)
	require.NoError(t, err)
	require.Equal(t, []SmartLicense{{Type: "SmartLicense", RegStatus: RegEvaluation,
		Metadata: SmartLicenseMetadata{AuthStatus: "EVALUATION", EvalUsed: true, EvalExpiresInDays: 77}}}, ls)
}

func TestParseDeviceRecords(t *testing.T) {
	t.Parallel()
	p := readPage(t, "devicerecords-page1.json")
	require.Equal(t, Paging{Offset: 0, Limit: 2, Count: 3, Pages: 2, Next: []string{
		"https://fmc.example/api/fmc_config/v1/domain/e276abec-e0f2-11e3-8169-6d9ed49b625f/devices/devicerecords?offset=2&limit=2&expanded=true"}}, p.Paging)
	ds, err := decodeItems[DeviceRecord](p.Items)
	require.NoError(t, err)
	require.Equal(t, DeviceRecord{ID: "0b3c6e1a-7a6f-11ea-9d3c-cd8b0f6c1a01", Type: "Device", Name: "ftd-ams-01",
		HostName: "10.17.11.155", Model: "Cisco Firepower Threat Defense for VMWare", SWVersion: "6.5.0",
		HealthStatus: "green", FTDMode: "ROUTED", IsConnected: true,
		Metadata: DeviceMetadata{DeviceSerialNumber: "9A1B2C3D4E5"}}, ds[0])
	require.False(t, ds[1].IsConnected)
	require.Equal(t, "6.4.0.9", ds[1].SWVersion)
}

func TestPickDomain(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/domains-header.txt")
	require.NoError(t, err)
	ds, err := ParseDomains(string(b))
	require.NoError(t, err)
	require.Len(t, ds, 2)
	got, err := PickDomain("", "e276abec-e0f2-11e3-8169-6d9ed49b625f", ds)
	require.NoError(t, err)
	require.Equal(t, "e276abec-e0f2-11e3-8169-6d9ed49b625f", got)
	got, err = PickDomain("emea", "e276abec-e0f2-11e3-8169-6d9ed49b625f", ds)
	require.NoError(t, err)
	require.Equal(t, "a1b2c3d4-0000-4000-8000-000000000001", got)
	_, err = PickDomain("apjc", "x", ds)
	require.ErrorContains(t, err, `no domain "apjc" on the FMC (known: Global, Global/EMEA)`)
	_, err = PickDomain("", "", nil)
	require.ErrorContains(t, err, "DOMAIN_UUID")
	_, err = ParseDomains("not json")
	require.Error(t, err)
}

func TestNextLinkStaysOnTheFMC(t *testing.T) {
	t.Parallel()
	c := &Client{host: "fmc.example:443"}
	got, err := c.sameHost("https://fmc.example/api/x?offset=2&limit=2")
	require.NoError(t, err)
	require.Equal(t, "/api/x?offset=2&limit=2", got)
	got, err = c.sameHost("/api/x?offset=4")
	require.NoError(t, err)
	require.Equal(t, "/api/x?offset=4", got)
	_, err = c.sameHost("https://evil.example/api/x?offset=2")
	require.ErrorContains(t, err, "points away")
	_, err = c.sameHost("http://fmc.example:443/api/x")
	require.ErrorContains(t, err, "points away")
}
