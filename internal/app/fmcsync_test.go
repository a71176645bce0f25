package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/sim"
)

// The periodic sync (sites.X.fmc_api.sync_interval) does what `device sync`
// does, for every FMC of the site, as fleetd, pruning with sync_prune.
func TestSyncFMCsOfASite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, err := sim.NewFleet(sim.FleetConfig{Listen: "127.12.210.1", Sites: []string{"emea"}, Count: 2, TimeScale: 0.01,
		Devices: []sim.DeviceSpec{{Name: "fmc-emea-01", Kind: sim.KindFMC7, Site: "emea"}}}, zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, f.Start(ctx))
	t.Cleanup(func() { _ = f.Close() })
	fmc := f.Device("fmc-emea-01")

	cfg := labConfig(t)
	emea := cfg.Sites["emea"]
	emea.FMCAPI = config.FMCAPI{Enabled: true, SyncInterval: config.DefaultFMCAPITimeout * 2, SyncPrune: true}
	cfg.Sites["emea"] = emea
	require.NoError(t, cfg.Validate())
	a, err := app.New(ctx, app.Options{Config: cfg, Pool: testdb.New(t), Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	require.NoError(t, err)
	_, err = a.Inventory.Add(ctx, "test", inventory.Device{Name: "fmc-emea-01", Kind: inventory.KindFMC, Site: "emea",
		Address: fmc.Addr(), APIAddress: fmc.APIAddr(), Credential: "lab"})
	require.NoError(t, err)

	plans, err := a.SyncFMCs(ctx, "emea")
	require.NoError(t, err)
	require.Len(t, plans, 1)
	require.Len(t, plans[0].Added, 2, "the site's tofu policy pinned the certificate on first use")
	gone := f.Devices()[1]
	require.NoError(t, gone.Release())
	plans, err = a.SyncFMCs(ctx, "emea")
	require.NoError(t, err)
	require.Equal(t, []string{gone.Name()}, plans[0].Removed)
	_, err = a.Inventory.Get(ctx, gone.Name())
	require.ErrorIs(t, err, inventory.ErrNotFound)

	_, err = a.SyncFMCs(ctx, "amer")
	require.ErrorContains(t, err, "no fmc_api")
}
