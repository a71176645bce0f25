package apiserver

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAPIDocListsEveryRoute keeps docs/api.md's route table equal to the
// route table: same routes, same least role.
func TestAPIDocListsEveryRoute(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/api.md")
	require.NoError(t, err)
	row := regexp.MustCompile(`(?m)^\| (GET|POST|PUT|PATCH|DELETE) \| (\S+) \| (\w+) \|`)
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		documented[m[1]+" "+m[2]] = m[3]
	}
	require.NotEmpty(t, documented)

	for _, rt := range (&Server{}).routeTable() {
		key := rt.Method + " " + rt.Path
		want := rt.MinRole.String()
		if rt.Public {
			want = "public"
		}
		got, ok := documented[key]
		if !ok {
			t.Errorf("docs/api.md has no row for %s; add: | %s | %s | %s | %s |", key, rt.Method, rt.Path, want, rt.Summary)
			continue
		}
		require.Equal(t, want, got, "docs/api.md: least role of %s", key)
		delete(documented, key)
	}
	require.Empty(t, documented, "docs/api.md lists routes that do not exist")
}
