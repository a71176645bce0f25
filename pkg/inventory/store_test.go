package inventory_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
)

type testBundle struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *inventory.Store
}

// labConfig is config/fleetd.example.yaml: sites emea, amer, apjc; credential lab.
func labConfig(t *testing.T) config.Config { return labConfigTB(t) }

func labConfigTB(tb testing.TB) config.Config {
	tb.Helper()
	cfg, err := config.Load("../../config/fleetd.example.yaml")
	require.NoError(tb, err)
	return cfg
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testdb.New(t)
	store := inventory.NewStore(pool, app.InventoryCatalog(labConfig(t)), zaptest.NewLogger(t))
	ctx := context.Background()
	stale, err := store.SyncCatalog(ctx)
	require.NoError(t, err)
	require.Empty(t, stale)
	return &testBundle{ctx: ctx, pool: pool, store: store}
}

func (b *testBundle) auditTrail(t *testing.T, f audit.Filter) []string {
	t.Helper()
	f.Limit = audit.MaxLimit
	events, err := audit.List(b.ctx, b.pool, f)
	require.NoError(t, err)
	out := make([]string, len(events))
	for i, e := range events {
		out[len(events)-1-i] = e.Actor + " " + e.Action + " " + e.Target // oldest first
	}
	return out
}

func (b *testBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestDeviceCRUDIsAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, s := b.ctx, b.store

	d, err := s.Add(ctx, "alice", inventory.Device{Name: "ftd-ams-01", Kind: "FTD", Site: "emea", Address: "127.1.0.2",
		Credential: "lab", Tags: map[string]string{"env": "lab"}})
	require.NoError(t, err)
	require.NotEmpty(t, d.ID)
	require.Equal(t, inventory.KindFTD, d.Kind, "kind normalised")
	require.False(t, d.CreatedAt.IsZero())

	got, err := s.Get(ctx, "ftd-ams-01")
	require.NoError(t, err)
	require.Equal(t, d, got)

	_, err = s.Add(ctx, "alice", inventory.Device{Name: "ftd-ams-01", Kind: "ftd", Site: "emea", Address: "127.1.0.3", Credential: "lab"})
	require.ErrorIs(t, err, inventory.ErrExists)

	_, err = s.Add(ctx, "alice", inventory.Device{Name: "bad name", Kind: "asa", Site: "mars", Address: "x;y", Credential: "root"})
	var ve *inventory.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 5)

	upd := d
	upd.Address, upd.Tags = "127.1.0.99:2222", map[string]string{"env": "prod"}
	after, changes, err := s.Update(ctx, "bob", upd)
	require.NoError(t, err)
	require.Equal(t, []inventory.FieldChange{
		{Field: "address", Old: "127.1.0.2", New: "127.1.0.99:2222"},
		{Field: "tags", Old: "env=lab", New: "env=prod"},
	}, changes)
	require.Equal(t, "127.1.0.99:2222", after.Address)
	require.True(t, after.UpdatedAt.After(d.UpdatedAt) || after.UpdatedAt.Equal(d.UpdatedAt))

	_, changes, err = s.Update(ctx, "bob", upd)
	require.NoError(t, err)
	require.Empty(t, changes, "no-op update")

	_, _, err = s.Update(ctx, "bob", inventory.Device{Name: "ghost", Kind: "ftd", Site: "emea", Address: "h", Credential: "lab"})
	require.ErrorIs(t, err, inventory.ErrNotFound)

	require.NoError(t, s.Delete(ctx, "carol", "ftd-ams-01"))
	_, err = s.Get(ctx, "ftd-ams-01")
	require.ErrorIs(t, err, inventory.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, "carol", "ftd-ams-01"), inventory.ErrNotFound)

	require.Equal(t, []string{
		"alice device.add ftd-ams-01",
		"bob device.update ftd-ams-01",
		"carol device.delete ftd-ams-01",
	}, b.auditTrail(t, audit.Filter{TargetKind: audit.TargetDevice}))

	// The delete event keeps what was removed.
	events, err := audit.List(ctx, b.pool, audit.Filter{Action: audit.ActionDeviceDelete})
	require.NoError(t, err)
	require.Equal(t, "127.1.0.99:2222", events[0].Details["device"].(map[string]any)["address"])
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.ImportFile(b.ctx, "alice", "inventory.example.csv", readFile(t, "../../config/inventory.example.csv"), false)
	require.NoError(t, err)

	names := func(f inventory.Filter) []string {
		devs, err := b.store.List(b.ctx, f)
		require.NoError(t, err)
		out := make([]string, len(devs))
		for i, d := range devs {
			out[i] = d.Name
		}
		return out
	}
	require.Len(t, names(inventory.Filter{}), 9)
	require.Equal(t, []string{"fmc-emea-01", "ftd-emea-01", "ftd-emea-02"}, names(inventory.Filter{Site: "emea"}))
	require.Equal(t, []string{"fmc-amer-01", "fmc-apjc-01", "fmc-emea-01"}, names(inventory.Filter{Kind: inventory.KindFMC}))
	require.Equal(t, []string{"ftd-amer-02", "ftd-apjc-02"}, names(inventory.Filter{Tags: map[string]string{"role": "dc"}}))
	require.Equal(t, []string{"ftd-apjc-02"}, names(inventory.Filter{Site: "apjc", Kind: inventory.KindFTD, Tags: map[string]string{"role": "dc", "env": "lab"}}))
	require.Empty(t, names(inventory.Filter{Tags: map[string]string{"role": "dc", "env": "prod"}}))
	require.Equal(t, []string{"fmc-amer-01", "ftd-emea-01"}, names(inventory.Filter{Names: []string{"fmc-amer-01", "ftd-emea-01", "nope"}}))
	require.Equal(t, []string{"fmc-apjc-01", "fmc-emea-01"}, names(inventory.Filter{After: "fmc-amer-01", Limit: 2}))

	sites, err := b.store.ListSites(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []inventory.Site{
		{Name: "amer", Region: "us", Timezone: "America/New_York", HostKeyPolicy: "strict", Devices: 3},
		{Name: "apjc", Region: "apj", Timezone: "Asia/Singapore", HostKeyPolicy: "strict", Devices: 3},
		{Name: "emea", Region: "eu", Timezone: "Europe/Amsterdam", HostKeyPolicy: "strict", Devices: 3},
	}, sites)
}

// The list filters must be answered from indexes, not by scanning the fleet.
func TestListQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Enough rows that statistics are meaningful, and seq scans disfavoured so
	// the plan shows whether a usable index exists at all.
	_, err := b.pool.Exec(b.ctx, `
		INSERT INTO devices (name, kind, site, address, credential, tags)
		SELECT 'ftd-' || i, CASE WHEN i % 10 = 0 THEN 'fmc' ELSE 'ftd' END,
			(ARRAY['emea','amer','apjc'])[1 + i % 3], '127.2.0.1', 'lab',
			jsonb_build_object('rack', 'r' || (i % 50))
		FROM generate_series(1, 2000) i`)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `ANALYZE devices`)
	require.NoError(t, err)

	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(b.ctx, `SET enable_seqscan = off`)
	require.NoError(t, err)
	for query, index := range map[string]string{
		`SELECT * FROM devices WHERE site = 'emea' ORDER BY name`:                                             "devices_site_kind_name_idx",
		`SELECT * FROM devices WHERE site = 'emea' AND kind = 'fmc' ORDER BY name`:                            "devices_site_kind_name_idx",
		`SELECT * FROM devices WHERE kind = 'fmc' ORDER BY name`:                                              "devices_kind_name_idx",
		`SELECT * FROM devices WHERE tags @> '{"rack":"r7"}'::jsonb ORDER BY name`:                            "devices_tags_idx",
		`SELECT * FROM host_keys WHERE state = 'pending'`:                                                     "host_keys_state_idx",
		`SELECT * FROM audit_events WHERE target_kind = 'device' AND target = 'x' ORDER BY id DESC LIMIT 100`: "audit_events_target_idx",
	} {
		var plan strings.Builder
		rows, err := conn.Query(b.ctx, "EXPLAIN "+query)
		require.NoError(t, err)
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan.WriteString(line + "\n")
		}
		require.NoError(t, rows.Err())
		require.Contains(t, plan.String(), index, query)
		require.NotContains(t, plan.String(), "Seq Scan", query)
	}
}

func TestSyncCatalogKeepsUsedReferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Add(b.ctx, "alice", inventory.Device{Name: "ftd-1", Kind: "ftd", Site: "emea", Address: "127.1.0.1", Credential: "lab"})
	require.NoError(t, err)

	// Config shrinks to one unused site and a new credential.
	cfg := labConfig(t)
	delete(cfg.Sites, "emea")
	delete(cfg.Sites, "amer")
	cfg.Credentials = map[string]config.Credential{"ops": {Username: "ops", PasswordEnv: "X"}}
	s2 := inventory.NewStore(b.pool, app.InventoryCatalog(cfg), nil)
	stale, err := s2.SyncCatalog(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"credential:lab", "site:emea"}, stale)

	sites, err := s2.ListSites(b.ctx)
	require.NoError(t, err)
	require.Len(t, sites, 2, "amer pruned; emea kept because ftd-1 uses it")

	var methods []string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT methods FROM credentials WHERE name = 'ops'`).Scan(&methods))
	require.Equal(t, []string{"password_env"}, methods)

	// New rows may not use the stale names any more.
	_, err = s2.Add(b.ctx, "alice", inventory.Device{Name: "ftd-2", Kind: "ftd", Site: "emea", Address: "127.1.0.2", Credential: "lab"})
	var ve *inventory.ValidationError
	require.True(t, errors.As(err, &ve))
}

func TestWritesSyncCatalogLazily(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	s := inventory.NewStore(pool, app.InventoryCatalog(labConfig(t)), nil)
	// No SyncCatalog call: the first write does it.
	_, err := s.Add(context.Background(), "alice", inventory.Device{Name: "ftd-1", Kind: "ftd", Site: "amer", Address: "127.1.0.1", Credential: "lab"})
	require.NoError(t, err)
}
