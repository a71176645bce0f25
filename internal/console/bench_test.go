package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/auth"
)

// seedFleet puts n devices into the inventory with a latest status each
// (70% healthy, the rest unhealthy with one of four diagnoses, or error,
// or never checked) and 30 nightly sweeps of history: the P5 fleet.
func seedFleet(tb testing.TB, e *testEnv, n int) {
	tb.Helper()
	ctx := context.Background()
	var sb strings.Builder
	sb.WriteString("name,kind,site,address,credential,tags,managed_by\n")
	sites := []string{"emea", "amer"}
	for i := range n {
		fmt.Fprintf(&sb, "ftd-%05d,ftd,%s,127.14.%d.%d,lab,rack=r%d,fmc-01\n", i, sites[i%2], 1+i/250, i%250+1, i%40)
	}
	_, err := e.backend.Inventory.ImportFile(ctx, "bench", "fleet.csv", []byte(sb.String()), false)
	require.NoError(tb, err)
	_, err = e.pool.Exec(ctx, `
		INSERT INTO runs (id, kind, status, requested_by, selector, schedule, total, done, healthy, unhealthy, errors,
			created_at, started_at, finished_at)
		SELECT gen_random_uuid(), 'sweep', 'completed', 'fleetd', '{"all":true}', 'nightly', $1, $1,
			$1 - 300 - g * 10, 200 + g * 10, 100, now() - (g || ' days')::interval, now() - (g || ' days')::interval,
			now() - (g || ' days')::interval + interval '5 minutes'
		FROM generate_series(0, 29) g`, n)
	require.NoError(tb, err)
	_, err = e.pool.Exec(ctx, `
		INSERT INTO device_status (device_id, run_id, health, diagnoses, recommended, error, checked_at)
		SELECT d.id, (SELECT id FROM runs ORDER BY created_at DESC LIMIT 1),
			CASE WHEN d.n % 10 < 7 THEN 'healthy' WHEN d.n % 10 < 9 THEN 'unhealthy' ELSE 'error' END,
			CASE WHEN d.n % 10 < 7 THEN '{}'::text[]
			     WHEN d.n % 10 < 9 THEN ARRAY[(ARRAY['eventhandler-disconnected','egress-blocked','cloud-session-down','enrollment-missing'])[d.n % 4 + 1]]
			     ELSE ARRAY['unreachable'] END,
			CASE WHEN d.n % 10 = 7 THEN 'restart-connector' WHEN d.n % 10 = 8 THEN 'fix-egress' ELSE '' END,
			CASE WHEN d.n % 10 = 9 THEN 'dial tcp: connection refused' ELSE '' END,
			now() - interval '7 minutes'
		FROM (SELECT id, row_number() OVER (ORDER BY name) AS n FROM devices) d WHERE d.n % 50 <> 0`)
	require.NoError(tb, err)
	// Each latest result's row in its run, with seven checks of a few
	// hundred bytes of evidence each, as a real diagnose stores them: the
	// Fleet page's incidents read them.
	_, err = e.pool.Exec(ctx, `
		INSERT INTO run_devices (run_id, device_id, device, site, kind, state, health, diagnoses, recommended, error,
			checks, attempts, started_at, finished_at)
		SELECT s.run_id, s.device_id, d.name, d.site, d.kind, 'done', s.health, s.diagnoses, s.recommended, s.error,
			(SELECT jsonb_agg(jsonb_build_object('id', c, 'verdict', CASE WHEN s.health = 'healthy' THEN 'pass' ELSE 'fail' END,
				'summary', 'seeded', 'evidence', jsonb_build_object('output', repeat('x', 300))))
			 FROM unnest(ARRAY['sse.connectivity', 'connector.properties', 'connector.process',
				'connector.eventhandler-socket', 'connector.cloud-session', 'connector.log', 'connector.enrollment']) c),
			1, s.checked_at - interval '2 seconds', s.checked_at
		FROM device_status s JOIN devices d ON d.id = s.device_id`)
	require.NoError(tb, err)
}

// sessionCookie signs role in and returns its cookie, to call the
// console's handler directly.
func (e *testEnv) sessionCookie(tb testing.TB, role auth.Role) *http.Cookie {
	b := e.signIn(tb, role)
	for _, c := range b.c.Jar.Cookies(mustURL(tb, e.ts.URL+"/ui/")) {
		if c.Name == "fleetd_session" {
			return c
		}
	}
	tb.Fatal("no session cookie")
	return nil
}

// benchPage renders path through the console's handler, server side
// (session lookup, the queries, the template), as P5 measures it.
func benchPage(b *testing.B, path string, want ...string) {
	e := newEnv(b)
	seedFleet(b, e, 10000)
	ck := e.sessionCookie(b, auth.RoleViewer)
	h := e.backend.Console
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(ck)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get()
	require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
	for _, w := range want {
		require.Contains(b, rec.Body.String(), w)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rec := get(); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkFleetPage10k is P5: the Fleet page of a 10,000-device fleet
// with 30 nightly sweeps (target ≤ 200 ms).
func BenchmarkFleetPage10k(b *testing.B) {
	benchPage(b, "/ui/", `id="count-total">10000<`, "eventhandler-disconnected", " min ago<")
}

// BenchmarkDevicesPage10k: one Devices page of the same fleet, filtered,
// sorted by health and paged (target ≤ 100 ms).
func BenchmarkDevicesPage10k(b *testing.B) {
	q := url.Values{"site": {"emea"}, "sort": {"health"}, "page": {"3"}}
	benchPage(b, "/ui/devices?"+q.Encode(), "5000 devices match")
}

// BenchmarkDevicesSearch10k: free-text search over names, addresses and
// diagnoses of the same fleet.
func BenchmarkDevicesSearch10k(b *testing.B) {
	benchPage(b, "/ui/devices?q=egress&sort=checked&desc=1", "devices match")
}
