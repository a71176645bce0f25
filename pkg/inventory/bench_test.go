package inventory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/inventory"
)

func fleetCSV(n int) []byte {
	var sb strings.Builder
	sb.WriteString("name,kind,site,address,credential,tags,managed_by\n")
	sites := []string{"emea", "amer", "apjc"}
	for i := range n {
		fmt.Fprintf(&sb, "ftd-%05d,ftd,%s,127.%d.%d.%d,lab,rack=r%d;env=lab,fmc-01\n", i, sites[i%3], 1+i/62500, (i/250)%250, i%250+1, i%40)
	}
	return []byte(sb.String())
}

// BenchmarkImport10k: parse, validate and import 10,000 new devices (one
// transaction, audit events included) into an empty inventory.
func BenchmarkImport10k(b *testing.B) {
	data := fleetCSV(10000)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		store := inventory.NewStore(testdb.New(b), app.InventoryCatalog(labConfigTB(b)), nil)
		_, err := store.SyncCatalog(ctx)
		require.NoError(b, err)
		b.StartTimer()
		plan, err := store.ImportFile(ctx, "bench", "fleet.csv", data, false)
		require.NoError(b, err)
		require.Len(b, plan.Added, 10000)
	}
}

// BenchmarkParse10k: parsing and validating alone.
func BenchmarkParse10k(b *testing.B) {
	data := fleetCSV(10000)
	cat := app.InventoryCatalog(labConfigTB(b))
	for b.Loop() {
		rows, err := inventory.Parse("fleet.csv", data, cat)
		require.NoError(b, err)
		require.Len(b, rows, 10000)
	}
}

// BenchmarkCheckHostKeyPinned: the per-connection cost of a sweep (pinned, equal key).
func BenchmarkCheckHostKeyPinned(b *testing.B) {
	ctx := context.Background()
	store := inventory.NewStore(testdb.New(b), app.InventoryCatalog(labConfigTB(b)), nil)
	_, err := store.Add(ctx, "bench", inventory.Device{Name: "ftd-1", Kind: "ftd", Site: "emea", Address: "127.1.0.1", Credential: "lab"})
	require.NoError(b, err)
	key := newKeyTB(b)
	require.NoError(b, store.CheckHostKey(ctx, "ftd-1", "127.1.0.1:22", key, inventory.PolicyTOFU))
	b.ResetTimer()
	for b.Loop() {
		require.NoError(b, store.CheckHostKey(ctx, "ftd-1", "127.1.0.1:22", key, inventory.PolicyStrict))
	}
}
