package app

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/fmc"
	"github.com/fleetd/fleetd/pkg/incident"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/metrics"
	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
)

func TestInventoryCatalogOfExampleConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../../config/fleetd.example.yaml")
	require.NoError(t, err)
	// The catalog of config/fleetd.example.yaml (pkg/inventory's tests use the same one).
	require.Equal(t, inventory.Catalog{
		Sites: []inventory.Site{
			{Name: "amer", Region: "us", Timezone: "America/New_York", HostKeyPolicy: "strict"},
			{Name: "apjc", Region: "apj", Timezone: "Asia/Singapore", HostKeyPolicy: "strict"},
			{Name: "emea", Region: "eu", Timezone: "Europe/Amsterdam", HostKeyPolicy: "strict"},
		},
		Credentials: []inventory.CredentialRef{{Name: "lab", Username: "admin", Methods: []string{"password_env"}}},
	}, InventoryCatalog(cfg))
}

// TestPackageDefaultsMatchFile: each setting has one default, the config
// file's (config.Default, docs/config.md). Translating the file's defaults
// must give each package's own defaults, so that a package used without
// fleetd's config (tests, tools) behaves as fleetd does. Change one side and
// this fails.
func TestPackageDefaultsMatchFile(t *testing.T) {
	t.Parallel()
	def := config.Default()

	t.Run("runner", func(t *testing.T) {
		want := runner.DefaultConfig()
		want.AgentSocket = os.Getenv("SSH_AUTH_SOCK") // the one setting taken from the environment
		require.Equal(t, want, RunnerConfig(def))
		// The file's zero start_rate is unlimited; so is the runner's.
		def := def
		def.Runner.StartRate = 0
		require.Zero(t, RunnerConfig(def).StartRate)
		require.Zero(t, runner.Config{}.WithDefaults().StartRate)
	})

	t.Run("remediation", func(t *testing.T) {
		got := RemediationConfig(def)
		require.Empty(t, got.Sites)
		got.Sites = nil
		require.Equal(t, remediate.DefaultConfig(), got)
		// Zero fields take the same defaults, but failure_threshold 0 is a
		// value (stop at the first failure), in the file as in the package.
		zero := remediate.Config{}.WithDefaults()
		require.Equal(t, remediate.DefaultConfig().ApprovalTTL, zero.ApprovalTTL)
		require.Equal(t, remediate.DefaultConfig().BatchSize, zero.BatchSize)
		require.Zero(t, zero.FailureThreshold)
		require.Equal(t, config.DefaultRebootTimeout, remediate.DefaultRebootTimeout, "sites.*.reboot_timeout")
	})

	t.Run("fmc_api", func(t *testing.T) {
		// sites.*.fmc_api defaults are applied per site by Load; pkg/fmc
		// takes the same for zero values (a config built in code).
		require.Equal(t, fmc.DefaultRateLimit, config.DefaultFMCAPIRateLimit, "sites.*.fmc_api.rate_limit")
		require.Equal(t, fmc.DefaultTimeout, config.DefaultFMCAPITimeout, "sites.*.fmc_api.timeout")
		require.Equal(t, fmc.DefaultPort, strconv.Itoa(config.DefaultFMCAPIPort), "sites.*.fmc_api.port")
	})

	t.Run("jobs", func(t *testing.T) {
		require.Equal(t, runs.DefaultMaxAttempts, def.Jobs.MaxAttempts, "jobs.max_attempts")
		require.Equal(t, runs.DefaultDeviceBatch, def.Jobs.DiagnoseBatch, "jobs.diagnose_batch")
		require.Equal(t, runs.RetryPolicy{Delay: runs.DefaultRetryDelay}, JobsConfig(def).RetryPolicy, "jobs.retry_delay")
	})

	t.Run("notify", func(t *testing.T) {
		require.Equal(t, notify.Config{MaxAttempts: notify.DefaultMaxAttempts, Timeout: notify.DefaultTimeout,
			Backoff: notify.DefaultBackoff, MaxBackoff: notify.DefaultMaxBackoff}, NotifyConfig(def, zap.NewNop()))
	})

	t.Run("ui", func(t *testing.T) {
		got := SessionConfig(def, nil)
		require.Equal(t, auth.DefaultSessionIdle, got.Idle, "ui.session_idle")
		require.Equal(t, auth.DefaultSessionMaxAge, got.MaxAge, "ui.session_max_age")
		require.True(t, def.UI.Enabled, "ui.enabled")
		require.False(t, ConsoleConfig(def, nil).SecureCookies)
	})
	t.Run("incidents", func(t *testing.T) {
		require.Equal(t, incident.DefaultConfig(), IncidentConfig(def))
	})

	t.Run("metrics", func(t *testing.T) {
		require.Equal(t, metrics.DefaultRefreshInterval, MetricsRefresherConfig(def).Interval)
	})

	t.Run("retention", func(t *testing.T) {
		got := RetentionConfig(def)
		require.Equal(t, runs.DefaultRetainRuns, got.Runs, "retention.runs")
		require.Equal(t, runs.DefaultRetainTranscripts, got.Transcripts, "retention.transcripts")
		require.Equal(t, runs.RetentionConfig{}.WithDefaults().Runs, got.Runs)
		// The file's 0 keeps forever, which the package spells negative.
		def := def
		def.Retention = config.Retention{}
		got = RetentionConfig(def)
		require.Negative(t, got.Runs)
		require.Negative(t, got.Transcripts)
	})
}
