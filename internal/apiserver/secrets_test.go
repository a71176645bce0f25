package apiserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
)

// An operator adding evil-capture at an address outside emea's networks, or
// with a credential emea may not use, gets 400 naming the problem.
func TestAddDeviceOutsideTheSiteNetworksIsRefused(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	emea := cfg.Sites["emea"]
	emea.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	cfg.Sites["emea"] = emea
	lab := cfg.Credentials["lab"]
	lab.Sites = []string{"emea"}
	cfg.Credentials["lab"] = lab
	e := newTestEnvConfig(t, cfg)
	op := e.client(t, auth.RoleOperator)
	ctx := context.Background()

	_, err := op.AddDevice(ctx, api.NewDevice{Name: "evil-capture", Kind: "ftd", Site: "emea", Address: "127.0.0.1:2222", Credential: "lab"})
	ae := apiErr(t, err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Equal(t, api.CodeValidation, ae.Code)
	require.Equal(t, []api.ErrorDetail{{Field: "address", Message: "127.0.0.1 is outside site emea's allowed_networks (10.1.0.0/16)"}}, ae.Details)

	_, err = op.AddDevice(ctx, api.NewDevice{Name: "evil-amer", Kind: "ftd", Site: "amer", Address: "127.0.0.1", Credential: "lab"})
	ae = apiErr(t, err)
	require.Equal(t, []api.ErrorDetail{{Field: "credential", Message: `credential "lab" may not be used by site "amer" (credentials.lab.sites: emea)`}}, ae.Details)

	_, err = op.ImportDevices(ctx, api.ImportRequest{Filename: "evil.csv",
		Content: "name,kind,site,address,credential\nftd-ok,ftd,emea,10.1.0.5,lab\nevil-capture,ftd,emea,192.0.2.66,lab\n"})
	ae = apiErr(t, err)
	require.Equal(t, []api.ErrorDetail{{Line: 3, Field: "address", Message: "192.0.2.66 is outside site emea's allowed_networks (10.1.0.0/16)"}}, ae.Details)
	devs, err := op.ListDevices(ctx, api.DeviceFilter{})
	require.NoError(t, err)
	require.Empty(t, devs, "all or nothing")

	_, err = op.AddDevice(ctx, api.NewDevice{Name: "ftd-ok", Kind: "ftd", Site: "emea", Address: "10.1.0.5", Credential: "lab"})
	require.NoError(t, err)
}

// 1,000 bad rows answer the first 100 problems and the total, not megabytes.
func TestImportOfManyBadRowsListsTheFirstHundred(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var sb strings.Builder
	sb.WriteString("name,kind,site,address,credential\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "ftd-%04d,asa,mars,10.0.0.1,lab\n", i)
	}
	body, err := json.Marshal(api.ImportRequest{Filename: "bad.csv", Content: sb.String()})
	require.NoError(t, err)
	resp, raw := e.raw(t, "POST", "/v1/devices/import", e.tokens[auth.RoleOperator], "application/json", string(body))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Less(t, len(raw), 32<<10, "a bounded answer")
	var env struct {
		Error struct {
			Message string            `json:"message"`
			Details []api.ErrorDetail `json:"details"`
			Total   int               `json:"total"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &env))
	require.Equal(t, 2000, env.Error.Total, "two problems per row")
	require.Len(t, env.Error.Details, inventory.MaxProblems)
	require.Equal(t, 2, env.Error.Details[0].Line)
	require.Equal(t, "bad.csv: 2000 problems (the first 100 listed); nothing was written", env.Error.Message)
}

func TestListDevicesOfAnUnknownSiteIs400(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	_, err := e.client(t, auth.RoleViewer).ListDevices(context.Background(), api.DeviceFilter{Site: "mars"})
	ae := apiErr(t, err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Equal(t, `unknown site "mars" (known: amer, apjc, emea)`, ae.Message)
	devs, err := e.client(t, auth.RoleViewer).ListDevices(context.Background(), api.DeviceFilter{Site: "apjc"})
	require.NoError(t, err)
	require.Empty(t, devs, "a known site without devices is still an empty list")

	// The other site filters answer the same way.
	_, err = e.client(t, auth.RoleViewer).Status(context.Background(), api.StatusFilter{Site: "mars"})
	ae = apiErr(t, err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Equal(t, `unknown site "mars" (known: amer, apjc, emea)`, ae.Message)
	_, err = e.client(t, auth.RoleViewer).ListHostKeys(context.Background(), api.HostKeyFilter{Site: "mars"})
	ae = apiErr(t, err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Equal(t, `unknown site "mars" (known: amer, apjc, emea)`, ae.Message)
	sts, err := e.client(t, auth.RoleViewer).Status(context.Background(), api.StatusFilter{Site: "apjc"})
	require.NoError(t, err)
	require.Empty(t, sts)
}

// Moving a device to a hostile box by import and accepting its key: 403 for
// an operator, 403 for the approver who moved it, allowed for another
// approver (here the admin). Both refusals are in the audit trail.
func TestHostKeyAcceptAfterAddressChangeNeedsAnotherApprover(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	e.addDevice(t, "ftd-ams-01", "emea")
	e.pendingHostKey(t, "ftd-ams-01")
	op, appr, admin := e.client(t, auth.RoleOperator), e.client(t, auth.RoleApprover), e.client(t, auth.RoleAdmin)
	_, err := op.AcceptHostKeys(ctx, api.AcceptHostKeysRequest{Devices: []string{"ftd-ams-01"}})
	require.NoError(t, err, "a first key stays operator business")

	_, err = appr.ImportDevices(ctx, api.ImportRequest{Filename: "move.csv", Content: "name,kind,site,address,credential\nftd-ams-01,ftd,emea,127.0.0.66,lab\n"})
	require.NoError(t, err)
	hostile := e.pendingHostKeyMismatch(t, "ftd-ams-01")

	for _, c := range []struct {
		client *api.Client
		want   string
	}{
		{op, "needs an approver or admin token"},
		{appr, "the identity that set the address may not accept its key; another approver must"},
	} {
		_, err = c.client.AcceptHostKeys(ctx, api.AcceptHostKeysRequest{Devices: []string{"ftd-ams-01"}})
		ae := apiErr(t, err)
		require.Equal(t, http.StatusForbidden, ae.Status)
		require.Equal(t, api.CodeForbidden, ae.Code)
		require.Equal(t, "1 host key not accepted (two-person rule); nothing was accepted", ae.Message)
		require.Equal(t, "ftd-ams-01", ae.Details[0].Field)
		require.Contains(t, ae.Details[0].Message, c.want)
		require.Contains(t, ae.Details[0].Message, "it replaces the pinned key SHA256:")
		require.Contains(t, ae.Details[0].Message, "address set by t-approver")
	}
	res, err := admin.AcceptHostKeys(ctx, api.AcceptHostKeysRequest{Devices: []string{"ftd-ams-01"}})
	require.NoError(t, err)
	require.Equal(t, hostile, res.Accepted[0].Fingerprint)

	events, err := admin.ListAudit(ctx, api.AuditFilter{Action: "hostkey.accept_refused"})
	require.NoError(t, err)
	require.Len(t, events, 2)
}

// pendingHostKeyMismatch makes a device with a pinned key present another
// one, which is recorded as a mismatch; it returns the new key's fingerprint.
func (e *testEnv) pendingHostKeyMismatch(t *testing.T, device string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	err = e.inv.CheckHostKey(context.Background(), device, "127.0.0.66:22", key, inventory.PolicyStrict)
	require.ErrorIs(t, err, inventory.ErrHostKeyMismatch)
	return ssh.FingerprintSHA256(key)
}

// GET /v1/sites shows each site's allowed_networks, so an operator can see
// why an address is refused before trying it.
func TestSitesShowAllowedNetworks(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	emea := cfg.Sites["emea"]
	emea.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("127.1.0.0/16")}
	emea.LegacySSH = true
	cfg.Sites["emea"] = emea
	e := newTestEnvConfig(t, cfg)
	sites, err := e.client(t, auth.RoleViewer).Sites(context.Background())
	require.NoError(t, err)
	got := map[string]api.Site{}
	for _, s := range sites {
		got[s.Name] = s
	}
	require.Equal(t, []string{"10.1.0.0/16", "127.1.0.0/16"}, got["emea"].AllowedNetworks)
	require.True(t, got["emea"].LegacySSH)
	require.Equal(t, []string{}, got["amer"].AllowedNetworks, "no restriction is an empty list, not null")
	require.False(t, got["amer"].LegacySSH)
}
