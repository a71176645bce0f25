package apiserver_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
)

const goodCSV = `name,kind,site,address,credential,tags,managed_by
fmc-ams,fmc,emea,10.1.0.2,lab,role=manager,
ftd-ams-01,ftd,emea,10.1.0.11,lab,role=edge;env=prod,fmc-ams
ftd-nyc-01,ftd,amer,10.2.0.11:2222,lab,role=edge,
`

func apiErr(t *testing.T, err error) *api.Error {
	t.Helper()
	var ae *api.Error
	require.True(t, errors.As(err, &ae), "want *api.Error, got %T: %v", err, err)
	return ae
}

func TestDeviceLifecycleThroughClient(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	op := e.client(t, auth.RoleOperator)

	// Dry run: a plan, nothing written.
	plan, err := op.ImportDevices(ctx, api.ImportRequest{Filename: "fleet.csv", Content: goodCSV, DryRun: true})
	require.NoError(t, err)
	require.True(t, plan.DryRun)
	require.Len(t, plan.Added, 3)
	devs, err := op.ListDevices(ctx, api.DeviceFilter{})
	require.NoError(t, err)
	require.Empty(t, devs)

	// Real import, then the same file again: idempotent.
	plan, err = op.ImportDevices(ctx, api.ImportRequest{Filename: "fleet.csv", Content: goodCSV})
	require.NoError(t, err)
	require.Len(t, plan.Added, 3)
	plan, err = op.ImportDevices(ctx, api.ImportRequest{Filename: "fleet.csv", Content: goodCSV})
	require.NoError(t, err)
	require.Empty(t, plan.Added)
	require.Empty(t, plan.Changed)
	require.ElementsMatch(t, []string{"fmc-ams", "ftd-ams-01", "ftd-nyc-01"}, plan.Unchanged)

	// A change is reported field by field.
	changed := `name,kind,site,address,credential
ftd-nyc-01,ftd,amer,10.2.0.12,lab
`
	plan, err = op.ImportDevices(ctx, api.ImportRequest{Filename: "update.csv", Content: changed})
	require.NoError(t, err)
	require.Len(t, plan.Changed, 1)
	require.Equal(t, "ftd-nyc-01", plan.Changed[0].Device)
	require.Contains(t, plan.Changed[0].Fields, api.FieldChange{Field: "address", Old: "10.2.0.11:2222", New: "10.2.0.12"})

	// Filters.
	for _, tt := range []struct {
		f    api.DeviceFilter
		want []string
	}{
		{api.DeviceFilter{}, []string{"fmc-ams", "ftd-ams-01", "ftd-nyc-01"}},
		{api.DeviceFilter{Site: "emea"}, []string{"fmc-ams", "ftd-ams-01"}},
		{api.DeviceFilter{Kind: "fmc"}, []string{"fmc-ams"}},
		{api.DeviceFilter{Tags: map[string]string{"role": "edge"}}, []string{"ftd-ams-01", "ftd-nyc-01"}},
		{api.DeviceFilter{Site: "emea", Tags: map[string]string{"role": "edge", "env": "prod"}}, []string{"ftd-ams-01"}},
		{api.DeviceFilter{Site: "apjc"}, nil},
	} {
		devs, err := op.ListDevices(ctx, tt.f)
		require.NoError(t, err)
		var names []string
		for _, d := range devs {
			names = append(names, d.Name)
		}
		require.Equal(t, tt.want, names, "%+v", tt.f)
	}

	d, err := op.GetDevice(ctx, "ftd-ams-01")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"role": "edge", "env": "prod"}, d.Tags)
	require.Equal(t, "fmc-ams", d.ManagedBy)
	require.WithinDuration(t, time.Now(), d.CreatedAt, time.Minute)

	// Add, conflict, delete, gone.
	nd := api.NewDevice{Name: "ftd-sin-01", Kind: "ftd", Site: "apjc", Address: "10.3.0.11", Credential: "lab"}
	added, err := op.AddDevice(ctx, nd)
	require.NoError(t, err)
	require.Equal(t, "apjc", added.Site)
	_, err = op.AddDevice(ctx, nd)
	require.Equal(t, http.StatusConflict, apiErr(t, err).Status)

	_, err = op.AddDevice(ctx, api.NewDevice{Name: "bad;name", Kind: "asa", Site: "mars", Address: "x", Credential: "lab"})
	ae := apiErr(t, err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Equal(t, api.CodeValidation, ae.Code)
	require.GreaterOrEqual(t, len(ae.Details), 3, "every problem is reported: %+v", ae.Details)

	removed, err := op.DeleteDevice(ctx, "ftd-sin-01")
	require.NoError(t, err)
	require.Equal(t, "ftd-sin-01", removed.Name)
	_, err = op.GetDevice(ctx, "ftd-sin-01")
	require.Equal(t, http.StatusNotFound, apiErr(t, err).Status)
	_, err = op.DeleteDevice(ctx, "ftd-sin-01")
	require.Equal(t, http.StatusNotFound, apiErr(t, err).Status)

	// Every change above is in the audit trail under the token's name.
	events, err := e.client(t, auth.RoleAdmin).ListAudit(ctx, api.AuditFilter{Actor: "t-operator"})
	require.NoError(t, err)
	actions := map[string]int{}
	for _, ev := range events {
		actions[ev.Action]++
	}
	require.Equal(t, map[string]int{"device.add": 4, "device.update": 1, "device.delete": 1}, actions)
	events, err = e.client(t, auth.RoleAdmin).ListAudit(ctx, api.AuditFilter{Action: "device.delete", Target: "ftd-sin-01"})
	require.NoError(t, err)
	require.Len(t, events, 1)
}

func TestImportRejectsEveryBadRowWithItsLine(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	op := e.client(t, auth.RoleOperator)
	bad := `name,kind,site,address,credential
ok-01,ftd,emea,10.0.0.1,lab
bad-kind,asa,emea,10.0.0.2,lab
bad-site,ftd,mars,10.0.0.3,lab
ok-01,ftd,emea,10.0.0.4,lab
`
	_, err := op.ImportDevices(ctx, api.ImportRequest{Filename: "bad.csv", Content: bad})
	ae := apiErr(t, err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Equal(t, api.CodeValidation, ae.Code)
	require.Contains(t, ae.Message, "bad.csv: 3 problems; nothing was written")
	lines := map[int]string{}
	for _, d := range ae.Details {
		lines[d.Line] = d.Field
	}
	require.Equal(t, map[int]string{3: "kind", 4: "site", 5: "name"}, lines, "%+v", ae.Details)

	devs, err := op.ListDevices(ctx, api.DeviceFilter{})
	require.NoError(t, err)
	require.Empty(t, devs, "nothing is written when any row is bad")
}

func TestSitesWhoAmIAndHostKeys(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	e.addDevice(t, "ftd-ams-01", "emea")
	e.addDevice(t, "ftd-ams-02", "emea")
	e.addDevice(t, "ftd-nyc-01", "amer")

	viewer := e.client(t, auth.RoleViewer)
	id, err := viewer.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, api.Identity{Name: "t-viewer", Role: "viewer"}, id)

	sites, err := viewer.Sites(ctx)
	require.NoError(t, err)
	require.Len(t, sites, 3)
	require.Equal(t, api.Site{Name: "amer", Region: "us", Timezone: "America/New_York", HostKeyPolicy: "strict",
		MaintenanceWindow: api.MaintenanceWindow{Weekdays: []string{}}, AllowedNetworks: []string{}, Devices: 1}, sites[0])
	require.Equal(t, "emea", sites[2].Name)
	require.Equal(t, 2, sites[2].Devices)
	require.Equal(t, api.MaintenanceWindow{Weekdays: []string{"sun"}, Start: "02:00", Duration: "2h0m0s"}, sites[2].MaintenanceWindow)

	fp1 := e.pendingHostKey(t, "ftd-ams-01")
	e.pendingHostKey(t, "ftd-ams-02")
	fpNYC := e.pendingHostKey(t, "ftd-nyc-01")

	keys, err := viewer.ListHostKeys(ctx, api.HostKeyFilter{State: "pending", Site: "emea"})
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Equal(t, fp1, keys[0].Fingerprint)
	require.Contains(t, keys[0].PublicKey, "ssh-ed25519 ")

	op := e.client(t, auth.RoleOperator)
	res, err := op.AcceptHostKeys(ctx, api.AcceptHostKeysRequest{AllPending: true, Site: "amer"})
	require.NoError(t, err)
	require.Len(t, res.Accepted, 1)
	require.Equal(t, fpNYC, res.Accepted[0].Fingerprint)
	require.Equal(t, "pinned", res.Accepted[0].State)
	require.Equal(t, "t-operator", res.Accepted[0].PinnedBy)

	res, err = op.AcceptHostKeys(ctx, api.AcceptHostKeysRequest{Devices: []string{"ftd-ams-01"}})
	require.NoError(t, err)
	require.Len(t, res.Accepted, 1)

	_, err = op.AcceptHostKeys(ctx, api.AcceptHostKeysRequest{Devices: []string{"ftd-ams-01", "ghost"}})
	ae := apiErr(t, err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Len(t, ae.Details, 2, "%+v", ae.Details)

	keys, err = viewer.ListHostKeys(ctx, api.HostKeyFilter{State: "pending"})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, "ftd-ams-02", keys[0].Device)
}

type downDB struct{}

func (downDB) Ping(context.Context) error { return errors.New("connection refused") }

func TestReadyzReportsDatabaseDown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	backend, err := app.New(context.Background(), app.Options{Config: testConfig(), Pool: e.pool})
	require.NoError(t, err)
	deps := backend.APIDeps()
	deps.DB = downDB{}
	srv, err := apiserver.New(deps)
	require.NoError(t, err)
	ts := newHTTPServer(t, srv)
	c, err := api.NewClient(ts, "")
	require.NoError(t, err)
	require.NoError(t, c.Health(context.Background()))
	ae := apiErr(t, c.Ready(context.Background()))
	require.Equal(t, http.StatusServiceUnavailable, ae.Status)
	require.Equal(t, "database unreachable", ae.Message)
}

func TestNewServerNamesMissingDeps(t *testing.T) {
	t.Parallel()
	_, err := apiserver.New(apiserver.Deps{})
	require.ErrorContains(t, err, "missing dependencies: DB, Auth, Inventory, Audit")
}
