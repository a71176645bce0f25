package inventory

import (
	"bytes"
	"encoding/csv"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse (R6): the importer never panics, and whatever it accepts is a
// set of valid devices that survives a round trip through the CSV format.
// Run: go test -fuzz=FuzzParse -fuzztime=60s ./pkg/inventory/
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../config/inventory.example.csv", "../../config/inventory.example.yaml"} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add("inventory.csv", b)
		f.Add("upload", b)
	}
	f.Add("x.csv", []byte("name,kind,site,address,credential,tags,managed_by\nftd-1,ftd,emea,\"[::1]:22\",lab,a=b;c=d,fmc-1\n"))
	f.Add("x.csv", []byte("name,kind,site,address,credential\n\"ftd\n1\",ftd,emea,127.0.0.1,lab\n"))
	f.Add("x.yaml", []byte("devices:\n  - {name: a, kind: FTD, site: amer, address: 'h:1', credential: lab, tags: {k: v}}\n"))
	f.Add("x.yaml", []byte("- &a {name: a}\n- *a\n"))
	f.Add("x.yaml", []byte("devices: !!binary aGVsbG8=\n"))

	cat := labCatalog()
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		rows, err := Parse(name, data, cat)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		require.NoError(t, w.Write(Columns))
		seen := map[string]bool{}
		for _, r := range rows {
			d := r.Device
			require.NoError(t, ValidateDevice(d, cat), "accepted an invalid device %+v", d)
			require.False(t, seen[d.Name], "accepted duplicate %q", d.Name)
			seen[d.Name] = true
			require.NoError(t, w.Write([]string{d.Name, string(d.Kind), d.Site, d.Address, d.Credential, FormatTags(d.Tags), d.ManagedBy, d.APIAddress}))
		}
		w.Flush()
		again, err := Parse("roundtrip.csv", buf.Bytes(), cat)
		require.NoError(t, err, "re-parsing our own CSV:\n%s", buf.String())
		require.Len(t, again, len(rows))
		for i := range rows {
			require.Equal(t, rows[i].Device, again[i].Device)
		}
	})
}
