package console_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sim"
)

// hostile is what a device could print to attack the console's viewers.
const hostile = `evil"><img src=x onerror=alert(1)><script>alert(2)</script>`

// TestDevicePrintsAreEscaped: a simulated device whose hostname and login
// banner (and so its command output: lsof's FQDN, the connector log) carry
// markup is diagnosed for real; every page shows that text as text.
func TestDevicePrintsAreEscaped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newSimEnv(t, "127.14.1.1", []sim.DeviceSpec{
		{Name: "ftd-hostile", Site: "emea", Hostname: hostile, Banner: "NOTICE " + hostile,
			Faults: []sim.Fault{sim.FaultEventHandlerDisconnected}}})

	// "Diagnose now" from the device page, as an operator.
	op := e.signIn(t, auth.RoleOperator)
	resp, body := op.post("/ui/devices/ftd-hostile/diagnose", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	runPath := strings.TrimSuffix(resp.Header.Get("Location"), "?done=started")
	id := uuid.MustParse(strings.TrimPrefix(runPath, "/ui/runs/"))
	require.Eventually(t, func() bool {
		run, err := e.backend.Runs.Get(ctx, id, runs.GetOptions{})
		return err == nil && run.Status == runs.StatusCompleted
	}, 60*time.Second, 100*time.Millisecond)

	resp, body = op.get("/ui/devices/ftd-hostile")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	transcript := body[strings.Index(body, `<pre id="transcript">`):]
	require.Contains(t, transcript, "NOTICE evil&#34;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;",
		"the banner, as text")
	require.GreaterOrEqual(t, strings.Count(transcript, "&lt;script&gt;alert(2)&lt;/script&gt;"), 2,
		"the hostname in command output as well as the banner")
	require.Contains(t, body, "eventhandler", "the checks ran")
	for _, p := range []string{"/ui/devices/ftd-hostile", runPath, "/ui/devices?q=ftd", "/ui/"} {
		_, body := op.get(p)
		require.NotContains(t, body, "<script>alert", p)
		require.NotContains(t, body, "<img src=x", p)
		require.NotContains(t, body, `"><img`, p)
	}
}

// newSimEnv is a console over a running backend (job workers, runner) whose
// inventory is a simulated fleet of specs listening from listen, all of
// site emea (region eu, tofu host keys) with the lab credential.
func newSimEnv(t *testing.T, listen string, specs []sim.DeviceSpec) *testEnv {
	t.Helper()
	ctx := context.Background()
	fleet, err := sim.NewFleet(sim.FleetConfig{Listen: listen, TimeScale: 0.01, Devices: specs}, zap.NewNop())
	require.NoError(t, err)
	fctx, cancel := context.WithCancel(ctx)
	require.NoError(t, fleet.Start(fctx))
	t.Cleanup(func() { cancel(); _ = fleet.Close() })

	pw := filepath.Join(t.TempDir(), "lab.password")
	require.NoError(t, os.WriteFile(pw, []byte("Admin123\n"), 0o600))
	cfg := testConfig()
	cfg.Sites = map[string]config.Site{"emea": {Region: "eu", Timezone: "UTC", HostKeyPolicy: "tofu"}}
	cfg.Credentials = map[string]config.Credential{"lab": {Username: "admin", PasswordFile: pw}}
	cfg.Schedules = nil
	e := newEnvWith(t, cfg, app.Options{Workers: true,
		Runner: func(c *runner.Config) {
			*c = runner.Config{MaxConcurrent: 4, StartRate: -1, ConnectTimeout: 2 * time.Second, HandshakeTimeout: 5 * time.Second,
				CommandTimeout: 5 * time.Second, SessionTimeout: 20 * time.Second, Retry: runner.RetryPolicy{Attempts: 1}}
		},
		Jobs: func(c *jobs.Config) { c.FetchPollInterval, c.TestOnly = 50*time.Millisecond, true },
	}, false)
	require.NoError(t, e.backend.Start(ctx))
	t.Cleanup(func() {
		sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		e.backend.Stop(sctx)
	})
	var csv bytes.Buffer
	require.NoError(t, fleet.WriteInventoryCSV(&csv, "lab"))
	_, err = e.backend.Inventory.ImportFile(ctx, "test", "fleet.csv", csv.Bytes(), false)
	require.NoError(t, err)
	return e
}
