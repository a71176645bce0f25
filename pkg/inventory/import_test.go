package inventory_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
)

func TestImportCSVThenYAMLIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	csvData := readFile(t, "../../config/inventory.example.csv")

	plan, err := b.store.ImportFile(b.ctx, "alice", "inventory.example.csv", csvData, false)
	require.NoError(t, err)
	require.Len(t, plan.Added, 9)
	require.Empty(t, plan.Changed)
	require.False(t, plan.DryRun)
	require.NotEmpty(t, plan.Added[0].ID, "added devices are returned as stored")
	require.Equal(t, 9, b.count(t, "devices"))
	require.Equal(t, 9, b.count(t, "audit_events"))
	trail := b.auditTrail(t, audit.Filter{})
	require.Equal(t, "alice device.add fmc-emea-01", trail[0])

	// Same file again, then the same inventory as YAML: nothing to do, nothing audited.
	for file, data := range map[string][]byte{
		"inventory.example.csv":  csvData,
		"inventory.example.yaml": readFile(t, "../../config/inventory.example.yaml"),
	} {
		plan, err = b.store.ImportFile(b.ctx, "bob", file, data, false)
		require.NoError(t, err, file)
		require.Empty(t, plan.Added, file)
		require.Empty(t, plan.Changed, file)
		require.Len(t, plan.Unchanged, 9, file)
	}
	require.Equal(t, 9, b.count(t, "audit_events"))
}

func TestImportChangesAreDiffedAndAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.ImportFile(b.ctx, "alice", "inventory.example.csv", readFile(t, "../../config/inventory.example.csv"), false)
	require.NoError(t, err)

	// One device moves, one gets new tags, one is new, and the file has no
	// tags/managed_by columns for the rest: those keep their stored values.
	data := "name,kind,site,address,credential\n" +
		"ftd-emea-01,ftd,emea,127.1.0.2,lab\n" +
		"ftd-emea-02,ftd,amer,127.1.0.33:2222,lab\n" +
		"ftd-emea-03,ftd,emea,127.1.0.10,lab\n"
	plan, err := b.store.ImportFile(b.ctx, "bob", "moves.csv", []byte(data), false)
	require.NoError(t, err)
	require.Equal(t, []string{"ftd-emea-01"}, plan.Unchanged)
	require.Equal(t, []inventory.Change{{Device: "ftd-emea-02", Fields: []inventory.FieldChange{
		{Field: "site", Old: "emea", New: "amer"},
		{Field: "address", Old: "127.1.0.3", New: "127.1.0.33:2222"},
	}}}, plan.Changed)
	require.Len(t, plan.Added, 1)
	require.Equal(t, "ftd-emea-03", plan.Added[0].Name)

	d, err := b.store.Get(b.ctx, "ftd-emea-02")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"env": "lab", "role": "edge"}, d.Tags, "absent tags column keeps tags")
	require.Equal(t, "fmc-emea-01", d.ManagedBy, "absent managed_by column keeps it")

	// An explicit empty cell clears.
	plan, err = b.store.ImportFile(b.ctx, "carol", "clear.csv", []byte("name,kind,site,address,credential,tags\nftd-emea-02,ftd,amer,127.1.0.33:2222,lab,\n"), false)
	require.NoError(t, err)
	require.Equal(t, []inventory.FieldChange{{Field: "tags", Old: "env=lab;role=edge", New: ""}}, plan.Changed[0].Fields)

	require.Equal(t, []string{"bob device.add ftd-emea-03", "bob device.update ftd-emea-02"}, b.auditTrail(t, audit.Filter{Actor: "bob"}))
	events, err := audit.List(b.ctx, b.pool, audit.Filter{Actor: "bob", Action: audit.ActionDeviceUpdate})
	require.NoError(t, err)
	require.Len(t, events, 1)
	b2, err := json.Marshal(events[0].Details)
	require.NoError(t, err)
	require.JSONEq(t, `{"via":"import","file":"moves.csv","changes":{
		"site":{"old":"emea","new":"amer"},"address":{"old":"127.1.0.3","new":"127.1.0.33:2222"}}}`, string(b2))
	require.Equal(t, []string{"carol device.update ftd-emea-02"}, b.auditTrail(t, audit.Filter{Actor: "carol"}))
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.ImportFile(b.ctx, "alice", "a.csv", []byte("name,kind,site,address,credential\nftd-1,ftd,emea,127.1.0.1,lab\n"), false)
	require.NoError(t, err)

	data := "name,kind,site,address,credential\nftd-1,ftd,emea,127.1.0.9,lab\nftd-2,ftd,emea,127.1.0.2,lab\n"
	plan, err := b.store.ImportFile(b.ctx, "bob", "b.csv", []byte(data), true)
	require.NoError(t, err)
	require.True(t, plan.DryRun)
	require.Len(t, plan.Added, 1)
	require.Equal(t, "ftd-2", plan.Added[0].Name)
	require.Empty(t, plan.Added[0].ID, "not stored")
	require.Equal(t, []inventory.FieldChange{{Field: "address", Old: "127.1.0.1", New: "127.1.0.9"}}, plan.Changed[0].Fields)

	require.Equal(t, 1, b.count(t, "devices"))
	d, err := b.store.Get(b.ctx, "ftd-1")
	require.NoError(t, err)
	require.Equal(t, "127.1.0.1", d.Address)
	require.Equal(t, []string{"alice device.add ftd-1"}, b.auditTrail(t, audit.Filter{}))
}

func TestImportBadFileChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.ImportFile(b.ctx, "alice", "inventory.example.csv", readFile(t, "../../config/inventory.example.csv"), false)
	require.NoError(t, err)
	var before []inventory.Device
	before, err = b.store.List(b.ctx, inventory.Filter{})
	require.NoError(t, err)

	// Valid changes mixed with bad rows: nothing at all may be written.
	data := strings.Join([]string{
		"name,kind,site,address,credential,tags,managed_by",
		"ftd-emea-01,ftd,emea,127.1.0.99,lab,env=changed,", // valid change
		"ftd-new-01,ftd,emea,127.1.0.50,lab,,",             // valid addition
		"ftd-new-02,firewall,emea,127.1.0.51,lab,,",        // line 4
		"ftd-new-03,ftd,atlantis,127.1.0.52,lab,,",         // line 5
		"ftd-new-04,ftd,emea,127.1.0.53,nobody,,",          // line 6
		"ftd-new-01,ftd,emea,127.1.0.54,lab,,",             // line 7 duplicate
	}, "\n")
	_, err = b.store.ImportFile(b.ctx, "mallory", "bad.csv", []byte(data), false)
	var ve *inventory.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "bad.csv", ve.File)
	lines := make([]int, len(ve.Problems))
	for i, p := range ve.Problems {
		lines[i] = p.Line
	}
	require.Equal(t, []int{4, 5, 6, 7}, lines)

	after, err := b.store.List(b.ctx, inventory.Filter{})
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Empty(t, b.auditTrail(t, audit.Filter{Actor: "mallory"}))
}

func TestImportRowsAreRevalidated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A caller building rows by hand cannot bypass validation.
	_, err := b.store.Import(b.ctx, "alice", []inventory.Row{
		{Line: 1, Device: inventory.Device{Name: "ftd-1", Kind: "ftd", Site: "emea", Address: "127.1.0.1", Credential: "lab"}},
		{Line: 2, Device: inventory.Device{Name: "ftd-1", Kind: "ftd", Site: "emea", Address: "127.1.0.2", Credential: "lab"}},
		{Line: 3, Device: inventory.Device{Name: "x|y", Kind: "ftd", Site: "emea", Address: "127.1.0.3", Credential: "lab"}},
	}, false)
	var ve *inventory.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 2)
	require.Equal(t, 0, b.count(t, "devices"))
}

// Two imports at once (two operators, or two fleetd replicas) are serialised:
// each plan is exactly what was written, and every device exists once.
func TestConcurrentImports(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	plans := make([]inventory.Plan, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sb strings.Builder
			sb.WriteString("name,kind,site,address,credential\n")
			for j := range 50 {
				fmt.Fprintf(&sb, "ftd-%03d,ftd,emea,127.1.%d.%d,lab\n", j, i, j+1) // same names, different addresses
			}
			plans[i], errs[i] = b.store.ImportFile(b.ctx, fmt.Sprintf("op%d", i), "f.csv", []byte(sb.String()), false)
		}()
	}
	wg.Wait()
	added, changed := 0, 0
	for i := range 4 {
		require.NoError(t, errs[i])
		added += len(plans[i].Added)
		changed += len(plans[i].Changed)
	}
	require.Equal(t, 50, added, "each name added exactly once")
	require.Equal(t, 150, changed, "every later import changed every address")
	require.Equal(t, 50, b.count(t, "devices"))
	require.Equal(t, 200, b.count(t, "audit_events"))
}

func TestImportLargeFile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var sb strings.Builder
	sb.WriteString("name,kind,site,address,credential,tags\n")
	sites := []string{"emea", "amer", "apjc"}
	for i := range 2000 {
		fmt.Fprintf(&sb, "ftd-%05d,ftd,%s,127.3.%d.%d,lab,rack=r%d\n", i, sites[i%3], i/250, i%250+1, i%40)
	}
	plan, err := b.store.ImportFile(b.ctx, "alice", "big.csv", []byte(sb.String()), false)
	require.NoError(t, err)
	require.Len(t, plan.Added, 2000)
	require.Equal(t, 2000, b.count(t, "devices"))
	plan, err = b.store.ImportFile(b.ctx, "alice", "big.csv", []byte(sb.String()), false)
	require.NoError(t, err)
	require.Len(t, plan.Unchanged, 2000)
}
