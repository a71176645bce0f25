package metrics_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/metrics"
)

const (
	rulesFile     = "../../docs/prometheus/fleetd-alerts.yml"
	rulesTestFile = "../../docs/prometheus/fleetd-alerts.test.yml"
	dashboardFile = "../../docs/grafana/fleetd-dashboard.json"
)

// registered lists the metric names fleetd serves.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 100)
	go func() { metrics.New().Registry.Describe(ch); close(ch) }()
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	out := map[string]bool{}
	for d := range ch {
		if m := re.FindStringSubmatch(d.String()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

var fleetdMetricRE = regexp.MustCompile(`\bfleetd_[a-z_]+\b`)

// The alert rules and the dashboard name only metrics fleetd serves.
func TestDocsNameServedMetrics(t *testing.T) {
	t.Parallel()
	served := registered(t)
	require.True(t, served["fleetd_incidents"])
	for _, f := range []string{rulesFile, rulesTestFile, dashboardFile} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, name := range fleetdMetricRE.FindAllString(string(b), -1) {
			require.True(t, served[name], "%s names %s, which fleetd does not serve", f, name)
		}
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &dash))
	require.NotEmpty(t, dash.Panels)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			require.NotContains(t, tg.Expr, "device=", "%s: no per-device series exist", p.Title)
		}
	}
}

// TestAlertRules checks the rules with promtool and runs their unit tests.
// promtool comes with Debian's prometheus package; .ci/run installs it and
// sets FLEETD_PROMTOOL_OPTIONAL=1 only when it could not.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("FLEETD_PROMTOOL_OPTIONAL") == "1" {
			t.Skip("promtool not installed (apt-get install prometheus); skipped because FLEETD_PROMTOOL_OPTIONAL=1")
		}
		t.Fatal("promtool not found: install it (Debian: apt-get install prometheus) to check docs/prometheus/fleetd-alerts.yml")
	}
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		require.Contains(t, string(out), "SUCCESS")
	}
}
