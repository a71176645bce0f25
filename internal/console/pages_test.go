package console_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/runs"
)

var rowDevice = regexp.MustCompile(`<tr><td><a href="/ui/devices/([^"]+)">`)

// TestFleetAndDevicesPages: the Fleet page's counts are the status
// service's; the Devices page filters, sorts and pages in the database.
func TestFleetAndDevicesPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedFleet(t, e, 300)
	status, err := e.backend.Runs.Status(context.Background(), runs.StatusFilter{})
	require.NoError(t, err)
	want := map[string]int{}
	for _, d := range status {
		want[d.Health]++
	}
	b := e.signIn(t, auth.RoleViewer)
	_, body := b.get("/ui/")
	require.Contains(t, body, fmt.Sprintf(`id="count-total">%d<`, len(status)))
	for _, h := range []string{"healthy", "unhealthy", "error", "unknown"} {
		require.Contains(t, body, fmt.Sprintf(`id="count-%s">%d<`, h, want[h]), h)
	}
	require.Contains(t, body, "restart-connector")
	require.Equal(t, 30, strings.Count(body, `<rect class="bar"`), "30 nightly sweeps charted")

	count := func(path string) (int, []string) {
		resp, body := b.get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		m := regexp.MustCompile(`(\d+) devices match`).FindStringSubmatch(body)
		require.NotNil(t, m, path)
		n, _ := strconv.Atoi(m[1])
		var names []string
		for _, r := range rowDevice.FindAllStringSubmatch(body, -1) {
			names = append(names, r[1])
		}
		return n, names
	}
	n, names := count("/ui/devices")
	require.Equal(t, 300, n)
	require.Len(t, names, 50, "a page")
	require.Equal(t, "ftd-00000", names[0])
	_, page2 := count("/ui/devices?page=2")
	require.Equal(t, "ftd-00050", page2[0])
	n, names = count("/ui/devices?page=7")
	require.Equal(t, 300, n, "past the end still counts")
	require.Empty(t, names)

	n, _ = count("/ui/devices?health=error")
	require.Equal(t, want["error"], n)
	n, _ = count("/ui/devices?health=unknown")
	require.Equal(t, want["unknown"], n)
	n, _ = count("/ui/devices?site=emea&kind=ftd")
	require.Equal(t, 150, n)
	n, _ = count("/ui/devices?tag=rack%3Dr3")
	require.Equal(t, 300/40+1, n) // i%40 == 3
	n, _ = count("/ui/devices?diagnosis=egress-blocked")
	d, _ := count("/ui/devices?q=EGRESS")
	require.Equal(t, n, d, "free text matches diagnoses, case-insensitively")
	require.Positive(t, n)
	n, _ = count("/ui/devices?q=ftd-0012")
	require.Equal(t, 10, n)
	n, _ = count("/ui/devices?q=127.14.1.1")
	require.Positive(t, n, "free text matches addresses")
	_, names = count("/ui/devices?sort=health")
	require.Equal(t, "error", healthOf(status, names[0]), "worst first")
	_, names = count("/ui/devices?sort=name&desc=1")
	require.Equal(t, "ftd-00299", names[0])
	_, names = count("/ui/devices?q=%25")
	require.Empty(t, names, "LIKE wildcards are matched literally")

	for q, msg := range map[string]string{"health=sick": "health", "site=mars": "unknown site", "sort=address": "sort",
		"tag=rack": "tag", "page=0": "page", "kind=router": "kind", "diagnosis=%3Cx%3E": "diagnosis"} {
		resp, body := b.get("/ui/devices?" + q)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		require.Contains(t, body, msg, q)
	}
}

func healthOf(list []runs.DeviceStatus, name string) string {
	for _, d := range list {
		if d.Device == name {
			return d.Health
		}
	}
	return ""
}

// TestRunPageWhileRunning: a running run's page shows the devices in
// flight and groups the finished ones by diagnosis; it polls its progress
// (console.js) and, without JavaScript, reloads itself; a finished run
// does neither.
func TestRunPageWhileRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"run-a", "run-b", "run-c"} {
		e.addDevice(t, n, "emea")
	}
	_, err := e.pool.Exec(ctx, `INSERT INTO runs (id, kind, status, requested_by, total, done, unhealthy, started_at)
		VALUES ($1, 'diagnose', 'running', 'ops', 3, 1, 1, now())`, e0RunID)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO run_devices (run_id, device_id, device, site, kind, state, health, diagnoses, recommended, started_at)
		SELECT $1, id, name, site, kind,
			CASE name WHEN 'run-a' THEN 'done' ELSE 'pending' END,
			CASE name WHEN 'run-a' THEN 'unhealthy' END,
			CASE name WHEN 'run-a' THEN ARRAY['eventhandler-disconnected'] ELSE '{}' END,
			CASE name WHEN 'run-a' THEN 'restart-connector' ELSE '' END,
			CASE name WHEN 'run-c' THEN NULL ELSE now() END
		FROM devices`, e0RunID)
	require.NoError(t, err)
	b := e.signIn(t, auth.RoleViewer)
	_, body := b.get("/ui/runs/" + e0RunID)
	require.Contains(t, body, `data-poll="/ui/runs/`+e0RunID+`/progress"`)
	require.Contains(t, body, `<meta http-equiv="refresh" content="5">`)
	require.Contains(t, body, "In flight (1, 1 queued)")
	require.Contains(t, body, `<a href="/ui/devices/run-b">run-b</a></td><td>emea`)
	require.Contains(t, body, "eventhandler-disconnected</td><td>1</td>")
	resp, frag := b.get("/ui/runs/" + e0RunID + "/progress")
	require.Empty(t, resp.Header.Get("X-Run-Finished"))
	require.NotContains(t, frag, "<html")
	require.Contains(t, frag, "1 of 3 devices done (33%)")

	_, err = e.pool.Exec(ctx, `UPDATE runs SET status = 'completed', finished_at = now() WHERE id = $1`, e0RunID)
	require.NoError(t, err)
	resp, _ = b.get("/ui/runs/" + e0RunID + "/progress")
	require.Equal(t, "1", resp.Header.Get("X-Run-Finished"), "console.js reloads the page then")
	_, body = b.get("/ui/runs/" + e0RunID)
	require.NotContains(t, body, "data-poll")
	require.NotContains(t, body, `http-equiv="refresh"`)
}
