package app_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runs"
)

func labConfig(t *testing.T) config.Config {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "lab.password")
	require.NoError(t, os.WriteFile(pw, []byte("Admin123\n"), 0o600))
	cfg := config.Default()
	cfg.Sites = map[string]config.Site{"emea": {Region: "eu", Timezone: "UTC", HostKeyPolicy: "tofu", RebootTimeout: time.Minute}}
	cfg.Credentials = map[string]config.Credential{"lab": {Username: "admin", PasswordFile: pw}}
	cfg.Runner.ConnectTimeout = time.Second
	cfg.Runner.Retry.Attempts = 1
	cfg.Jobs.MaxAttempts = 1 // an unreachable device is not retried
	require.NoError(t, cfg.Validate())
	return cfg
}

// TestNewWorksJobsInOnePhase: what New returns is complete: a run started
// through the service is inserted through the River client New built, its
// device job is worked by the worker registered with it, the recorder's
// observers see the result (metrics), and Stop returns at once when
// nothing runs.
func TestNewWorksJobsInOnePhase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, err := app.New(ctx, app.Options{Config: labConfig(t), Pool: testdb.New(t), Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Workers: true})
	require.NoError(t, err)
	// Nothing listens on port 1: the device is unreachable, quickly.
	_, err = a.Inventory.Add(ctx, "test", inventory.Device{Name: "ftd-ams-01", Kind: inventory.KindFTD, Site: "emea",
		Address: "127.0.0.1:1", Credential: "lab"})
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			a.Stop(ctx)
		}
	})

	run, err := a.Runs.Start(ctx, runs.StartRequest{Kind: runs.KindDiagnose, RequestedBy: "test", Selector: runs.Selector{All: true}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := a.Runs.Get(ctx, run.ID, runs.GetOptions{})
		return err == nil && r.FinishedAt != nil
	}, 20*time.Second, 50*time.Millisecond)
	rec := httptest.NewRecorder()
	a.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	require.Contains(t, string(body), "fleetd_devices_checked_total 1")

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	began := time.Now()
	a.Stop(sctx)
	stopped = true
	require.Less(t, time.Since(began), 5*time.Second, "nothing was running: no grace period to wait out")
}

// TestNewWithoutWorkersOnlyInserts: without workers the services still
// insert (the API works), Start runs nothing and the job stays queued.
func TestNewWithoutWorkersOnlyInserts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	a, err := app.New(ctx, app.Options{Config: labConfig(t), Pool: pool})
	require.NoError(t, err)
	_, err = a.Inventory.Add(ctx, "test", inventory.Device{Name: "ftd-ams-01", Kind: inventory.KindFTD, Site: "emea",
		Address: "127.0.0.1:1", Credential: "lab"})
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	defer a.Stop(ctx)
	_, err = a.Runs.Start(ctx, runs.StartRequest{Kind: runs.KindDiagnose, RequestedBy: "test", Selector: runs.Selector{All: true}})
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	var state string
	require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'diagnose_device'`).Scan(&state))
	require.Equal(t, "available", state)
}
