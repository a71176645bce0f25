package diagnose

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeDevice answers commands from a map, records what it was sent, and fails on anything it
// does not know — so a test also proves which commands a check did NOT send.
type fakeDevice struct {
	mu      sync.Mutex
	outputs map[string]string
	errs    map[string]error
	sent    []string
}

func (d *fakeDevice) Run(_ context.Context, cmd string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, cmd)
	if err, ok := d.errs[cmd]; ok {
		return "", err
	}
	out, ok := d.outputs[cmd]
	if !ok {
		return "", fmt.Errorf("fake device: unexpected command %q", cmd)
	}
	return out, nil
}

func (d *fakeDevice) sentMatching(sub string) []string {
	var out []string
	for _, c := range d.sent {
		if strings.Contains(c, sub) {
			out = append(out, c)
		}
	}
	return out
}

func testdata(t testing.TB, dir, name string) string {
	t.Helper()
	return readFile(t, filepath.Join("testdata", dir, name+".txt"))
}

func testEnv(t testing.TB, site, region string) Env {
	t.Helper()
	env, err := NewEnv("ftd-"+site+"-01", site, region, DefaultRegions())
	require.NoError(t, err)
	env.Now = goldenNow
	return env
}

func curlOK(host string, status int) string {
	return fmt.Sprintf("*   Trying 192.0.2.10:443...\n* Connected to %s (192.0.2.10) port 443 (#0)\n"+
		"* SSL connection using TLSv1.2 / ECDHE-RSA-AES128-GCM-SHA256\n> GET / HTTP/1.1\n> Host: %s\n>\n"+
		"< HTTP/1.1 %d Whatever\n<\n* Connection #0 to host %s left intact\n", host, host, status, host)
}

func curlCmd(t testing.TB, env Env, target string) string {
	t.Helper()
	for _, tg := range env.Endpoints.ConnectivityTargets() {
		if tg.Name == target {
			cmd, err := CurlCommand(tg.Host, tg.Path, env.CurlMaxTime)
			require.NoError(t, err)
			return cmd
		}
	}
	t.Fatalf("no target %s", target)
	return ""
}

// healthyDevice is a device in env's region on which every check passes.
func healthyDevice(t testing.TB, env Env) *fakeDevice {
	t.Helper()
	env = env.withDefaults()
	d := &fakeDevice{outputs: map[string]string{}, errs: map[string]error{}}
	for _, tg := range env.Endpoints.ConnectivityTargets() {
		status := 200
		if tg.Name == "api" {
			status = 403
		}
		d.outputs[curlCmd(t, env, tg.Name)] = curlOK(tg.Host, status)
	}
	d.outputs[CmdConnectorProperties] = fmt.Sprintf("registration_interval=180\nconnector_port=8989\nconnector_fqdn=%s\n", env.Endpoints.API)
	d.outputs[CmdProcessStatus] = testdata(t, "pmtool", "grep_running_crlf")
	d.outputs[CmdEventHandlerSocket] = testdata(t, "netstat", "wrapped_good_64")
	d.outputs[CmdCloudSession] = testdata(t, "lsof", "wrapped_good_48")
	d.outputs[CmdConnectorLog] = testdata(t, "connectorlog", "wrapped_80_crlf") // old errors only
	d.outputs[CmdEnrollment] = strings.ReplaceAll(testdata(t, "context", "sim_enrolled"), "api.eu.sse.itd.cisco.com", env.Endpoints.API)
	return d
}

func verdicts(results []CheckResult) map[string]Verdict {
	m := map[string]Verdict{}
	for _, r := range results {
		m[r.ID] = r.Verdict
	}
	return m
}

func resultOf(t *testing.T, results []CheckResult, id string) CheckResult {
	t.Helper()
	i := slices.IndexFunc(results, func(r CheckResult) bool { return r.ID == id })
	require.GreaterOrEqual(t, i, 0, "no result for %s", id)
	return results[i]
}

// TestFaultProfiles runs the whole catalog against each fault the simulator can inject and
// checks the one thing an operator acts on: the diagnosis codes and the recommendation.
func TestFaultProfiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		site        string
		region      string
		mutate      func(t *testing.T, env Env, d *fakeDevice)
		health      Health
		diagnoses   []Diagnosis
		recommended Recommendation
		verdicts    map[string]Verdict // only those listed are checked
		verify      func(t *testing.T, d *fakeDevice, results []CheckResult)
	}{
		{
			name: "healthy", site: "emea", region: "eu",
			mutate: func(*testing.T, Env, *fakeDevice) {},
			health: HealthHealthy, diagnoses: []Diagnosis{}, recommended: RecommendNone,
			verdicts: map[string]Verdict{
				CheckSSEConnectivity: VerdictPass, CheckConnectorProperties: VerdictPass, CheckConnectorProcess: VerdictPass,
				CheckEventHandlerSocket: VerdictPass, CheckCloudSession: VerdictPass, CheckConnectorLog: VerdictPass,
				CheckConnectorEnrollment: VerdictPass,
			},
			verify: func(t *testing.T, d *fakeDevice, results []CheckResult) {
				require.Len(t, d.sentMatching("curl -v"), 4)
				log := resultOf(t, results, CheckConnectorLog)
				require.Equal(t, 3, log.Evidence["historical_errors"], "old errors are reported as history")
			},
		},
		{
			name: "egress-blocked", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				for _, tg := range []string{"est", "eventing", "mx"} {
					delete(d.outputs, curlCmd(t, env, tg)) // sending them would be an error
				}
				d.outputs[curlCmd(t, env, "api")] = testdata(t, "curl", "timeout_connect")
				d.outputs[CmdCloudSession] = testdata(t, "lsof", "wrapped_bad_80")
				d.outputs[CmdConnectorLog] = testdata(t, "connectorlog", "sim_format")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagEgressBlocked}, recommended: RecommendFixEgress,
			verdicts: map[string]Verdict{
				CheckSSEConnectivity: VerdictFail, CheckCloudSession: VerdictFail, CheckConnectorLog: VerdictFail,
				CheckEventHandlerSocket: VerdictPass, CheckConnectorEnrollment: VerdictPass,
			},
			verify: func(t *testing.T, d *fakeDevice, results []CheckResult) {
				require.Len(t, d.sentMatching("curl -v"), 1, "a blocked device costs one timeout")
				conn := resultOf(t, results, CheckSSEConnectivity)
				eps := conn.Evidence["endpoints"].([]EndpointResult)
				require.Equal(t, []CurlOutcome{CurlTimeout, NotAttempted, NotAttempted, NotAttempted},
					[]CurlOutcome{eps[0].Outcome, eps[1].Outcome, eps[2].Outcome, eps[3].Outcome})
				require.Contains(t, conn.Summary, "3 endpoint(s) not attempted")
			},
		},
		{
			name: "egress-blocked and never enrolled: the egress is the cause", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[curlCmd(t, env, "api")] = testdata(t, "curl", "timeout_kernel")
				d.outputs[CmdCloudSession] = testdata(t, "lsof", "seed_bad")
				d.outputs[CmdEnrollment] = testdata(t, "context", "sim_not_enrolled")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagEgressBlocked}, recommended: RecommendFixEgress,
			verdicts: map[string]Verdict{CheckConnectorEnrollment: VerdictFail},
		},
		{
			name: "egress through a TLS-inspecting proxy: every endpoint is tried", site: "apjc", region: "apj",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[curlCmd(t, env, "api")] = testdata(t, "curl", "ssl_cert")
				d.outputs[curlCmd(t, env, "mx")] = testdata(t, "curl", "resolve")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagEgressBlocked}, recommended: RecommendFixEgress,
			verify: func(t *testing.T, d *fakeDevice, results []CheckResult) {
				require.Len(t, d.sentMatching("curl -v"), 4, "only a timeout stops the sequence")
				s := resultOf(t, results, CheckSSEConnectivity).Summary
				require.Contains(t, s, "SSL certificate problem")
				require.Contains(t, s, "Could not resolve host")
			},
		},
		{
			name: "eventhandler-disconnected", site: "emea", region: "eu",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdEventHandlerSocket] = testdata(t, "netstat", "seed_bad")
				d.outputs[CmdConnectorLog] = testdata(t, "connectorlog", "zeromq_recent")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagEventHandlerDisconnected}, recommended: RecommendRestartConnector,
			verdicts: map[string]Verdict{CheckEventHandlerSocket: VerdictFail, CheckConnectorLog: VerdictFail, CheckSSEConnectivity: VerdictPass},
		},
		{
			name: "eventhandler cured by a restart minutes ago: recent log errors are the past", site: "emea", region: "eu",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdConnectorLog] = testdata(t, "connectorlog", "zeromq_recent")
			},
			health: HealthHealthy, diagnoses: []Diagnosis{}, recommended: RecommendNone,
			verdicts: map[string]Verdict{CheckEventHandlerSocket: VerdictPass, CheckConnectorLog: VerdictWarn},
			verify: func(t *testing.T, d *fakeDevice, results []CheckResult) {
				require.Contains(t, resultOf(t, results, CheckConnectorLog).Summary, "passes now")
			},
		},
		{
			name: "connector-stopped", site: "emea", region: "eu",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdProcessStatus] = testdata(t, "pmtool", "user_disabled")
				// What the dependent checks would show; they must not even be sent.
				delete(d.outputs, CmdEventHandlerSocket)
				delete(d.outputs, CmdCloudSession)
				delete(d.outputs, CmdEnrollment)
				d.outputs[CmdConnectorLog] = testdata(t, "connectorlog", "zeromq_recent")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagConnectorStopped}, recommended: RecommendRestartConnector,
			verdicts: map[string]Verdict{
				CheckConnectorProcess: VerdictFail, CheckEventHandlerSocket: VerdictSkip, CheckCloudSession: VerdictSkip,
				CheckConnectorEnrollment: VerdictSkip, CheckConnectorLog: VerdictWarn, CheckSSEConnectivity: VerdictPass,
			},
			verify: func(t *testing.T, d *fakeDevice, results []CheckResult) {
				require.NotContains(t, d.sent, CmdEventHandlerSocket)
				require.Contains(t, resultOf(t, results, CheckCloudSession).Summary, "connector.process failed")
				require.Contains(t, resultOf(t, results, CheckConnectorLog).Summary, "not running")
			},
		},
		{
			name: "connector-stopped: pmtool lists no SSEConnector", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdProcessStatus] = "EventHandler (normal) - Running 17453\n"
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagConnectorStopped}, recommended: RecommendRestartConnector,
		},
		{
			name: "connector-stopped: Running without a PID", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdProcessStatus] = testdata(t, "pmtool", "running_no_pid")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagConnectorStopped}, recommended: RecommendRestartConnector,
		},
		{
			name: "not-enrolled", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdEnrollment] = testdata(t, "context", "wrapped_80")
				d.outputs[CmdCloudSession] = testdata(t, "lsof", "listen_only")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagNotEnrolled}, recommended: RecommendFMCCloudSettings,
			verdicts: map[string]Verdict{CheckConnectorEnrollment: VerdictFail, CheckCloudSession: VerdictWarn},
			verify: func(t *testing.T, d *fakeDevice, results []CheckResult) {
				require.Contains(t, resultOf(t, results, CheckConnectorEnrollment).Summary, "no registration token")
			},
		},
		{
			name: "not-enrolled: EventHandler not yet wired to the connector is a consequence", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdEnrollment] = testdata(t, "context", "not_found_404")
				d.outputs[CmdCloudSession] = testdata(t, "lsof", "listen_only")
				d.outputs[CmdEventHandlerSocket] = testdata(t, "netstat", "seed_bad")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagNotEnrolled}, recommended: RecommendFMCCloudSettings,
			verdicts: map[string]Verdict{CheckEventHandlerSocket: VerdictFail},
		},
		{
			name: "region-mismatch", site: "emea", region: "eu",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdConnectorProperties] = testdata(t, "properties", "seed") // the us API host
				d.outputs[CmdEnrollment] = strings.ReplaceAll(testdata(t, "context", "sim_enrolled"), "api.eu.sse.itd.cisco.com", "api-sse.cisco.com")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagRegionMismatch}, recommended: RecommendFMCRegionConfig,
			verdicts: map[string]Verdict{CheckConnectorProperties: VerdictFail, CheckConnectorEnrollment: VerdictFail, CheckSSEConnectivity: VerdictPass},
			verify: func(t *testing.T, d *fakeDevice, results []CheckResult) {
				p := resultOf(t, results, CheckConnectorProperties)
				require.Equal(t, "us", p.Evidence["fqdn_region"])
				require.Contains(t, p.Summary, "region us")
			},
		},
		{
			name: "unknown connector_fqdn is a warning", site: "emea", region: "eu",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdConnectorProperties] = "connector_fqdn=api.staging.sse.example.com\n"
			},
			health: HealthHealthy, diagnoses: []Diagnosis{}, recommended: RecommendNone,
			verdicts: map[string]Verdict{CheckConnectorProperties: VerdictWarn},
		},
		{
			name: "unreadable connector.properties fails without a code", site: "emea", region: "eu",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdConnectorProperties] = testdata(t, "properties", "missing")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{}, recommended: RecommendNone,
			verdicts: map[string]Verdict{CheckConnectorProperties: VerdictFail},
		},
		{
			name: "connector stopped and egress blocked: both, the local fix first", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[curlCmd(t, env, "api")] = testdata(t, "curl", "timeout_operation")
				d.outputs[CmdProcessStatus] = testdata(t, "pmtool", "user_disabled")
			},
			health: HealthUnhealthy, diagnoses: []Diagnosis{DiagConnectorStopped, DiagEgressBlocked}, recommended: RecommendRestartConnector,
		},
		{
			name: "pmtool missing on the device is an error, not a diagnosis", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.outputs[CmdProcessStatus] = "-bash: pmtool: command not found\n"
			},
			health: HealthError, diagnoses: []Diagnosis{}, recommended: RecommendNone,
			verdicts: map[string]Verdict{CheckConnectorProcess: VerdictError, CheckEventHandlerSocket: VerdictPass},
		},
		{
			name: "session timed out mid-run", site: "amer", region: "us",
			mutate: func(t *testing.T, env Env, d *fakeDevice) {
				d.errs[CmdConnectorLog] = fmt.Errorf("read prompt: %w", context.DeadlineExceeded)
			},
			health: HealthError, diagnoses: []Diagnosis{DiagTimeout}, recommended: RecommendNone,
			verdicts: map[string]Verdict{CheckConnectorLog: VerdictError, CheckConnectorEnrollment: VerdictPass},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t, tc.site, tc.region)
			d := healthyDevice(t, env)
			tc.mutate(t, env.withDefaults(), d)
			results := RunChecks(context.Background(), d, env, nil)

			require.Equal(t, CheckIDs(), idsOf(results), "one result per check, catalog order")
			got := verdicts(results)
			for id, v := range tc.verdicts {
				require.Equal(t, v, got[id], "%s: %s", id, resultOf(t, results, id).Summary)
			}
			a := Assess(results)
			require.Equal(t, tc.health, a.Health, "%+v", results)
			require.Equal(t, tc.diagnoses, a.Diagnoses)
			require.Equal(t, tc.recommended, a.Recommended)
			for _, r := range results {
				require.NotEmpty(t, r.Summary, r.ID)
				require.NotNil(t, r.Evidence, r.ID)
				if r.Verdict != VerdictFail && r.Verdict != VerdictError {
					require.Empty(t, r.Diagnoses, "%s carries codes on %s", r.ID, r.Verdict)
				}
			}
			if tc.verify != nil {
				tc.verify(t, d, results)
			}
		})
	}
}

func idsOf(results []CheckResult) []string {
	ids := make([]string, len(results))
	for i, r := range results {
		ids[i] = r.ID
	}
	return ids
}

func TestRunChecksSelection(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amer", "us")

	t.Run("prerequisites are added, catalog order kept", func(t *testing.T) {
		t.Parallel()
		d := healthyDevice(t, env)
		results := RunChecks(context.Background(), d, env, []string{CheckConnectorEnrollment, CheckConnectorProperties, CheckConnectorEnrollment})
		require.Equal(t, []string{CheckConnectorProperties, CheckConnectorProcess, CheckConnectorEnrollment}, idsOf(results))
		require.Equal(t, []string{CmdConnectorProperties, CmdProcessStatus, CmdEnrollment}, d.sent)
	})

	t.Run("the prerequisite decides even when only the dependent was asked for", func(t *testing.T) {
		t.Parallel()
		d := healthyDevice(t, env)
		d.outputs[CmdProcessStatus] = testdata(t, "pmtool", "user_disabled")
		results := RunChecks(context.Background(), d, env, []string{CheckEventHandlerSocket})
		require.Equal(t, map[string]Verdict{CheckConnectorProcess: VerdictFail, CheckEventHandlerSocket: VerdictSkip}, verdicts(results))
		require.Equal(t, []Diagnosis{DiagConnectorStopped}, Assess(results).Diagnoses)
	})

	t.Run("an empty selection is the whole catalog", func(t *testing.T) {
		t.Parallel()
		results := RunChecks(context.Background(), healthyDevice(t, env), env, []string{})
		require.Equal(t, CheckIDs(), idsOf(results))
	})

	t.Run("unknown ids are reported, known ones still run", func(t *testing.T) {
		t.Parallel()
		d := healthyDevice(t, env)
		results := RunChecks(context.Background(), d, env, []string{"connector.nope", CheckConnectorProperties})
		require.Equal(t, []string{CheckConnectorProperties, "connector.nope"}, idsOf(results))
		require.Equal(t, VerdictError, results[1].Verdict)
		require.Error(t, ValidateCheckIDs([]string{"connector.nope"}))
		require.NoError(t, ValidateCheckIDs(CheckIDs()))
		require.Equal(t, HealthError, Assess(results).Health)
	})

	t.Run("a cancelled context sends nothing", func(t *testing.T) {
		t.Parallel()
		d := healthyDevice(t, env)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		results := RunChecks(ctx, d, env, nil)
		require.Empty(t, d.sent)
		require.Len(t, results, len(CheckIDs()))
		for _, r := range results {
			require.Equal(t, VerdictError, r.Verdict)
		}
		require.Equal(t, HealthError, Assess(results).Health)
	})

	t.Run("an unreachable device gives error results, not diagnoses", func(t *testing.T) {
		t.Parallel()
		exec := ExecutorFunc(func(context.Context, string) (string, error) { return "", errors.New("ssh: connection reset") })
		results := RunChecks(context.Background(), exec, env, nil)
		a := Assess(results)
		require.Equal(t, HealthError, a.Health)
		require.Empty(t, a.Diagnoses)
		require.Contains(t, results[0].Summary, "ssh: connection reset")
	})
}

// TestCommandsOnlyFromValidatedInput: a hostile region table never reaches the device.
func TestCommandsOnlyFromValidatedInput(t *testing.T) {
	t.Parallel()
	for _, host := range []string{
		"api-sse.cisco.com; reboot", "api-sse.cisco.com --output /etc/passwd", "$(reboot)", "api sse", "`id`",
		"-k", "api-sse.cisco.com\nreboot", "", "a..b", strings.Repeat("a", 64) + ".com",
	} {
		env := testEnv(t, "amer", "us")
		env.Endpoints.API = host
		d := &fakeDevice{}
		results := RunChecks(context.Background(), d, env, nil)
		require.Empty(t, d.sent, "host %q", host)
		for _, r := range results {
			require.Equal(t, VerdictError, r.Verdict)
			require.Contains(t, r.Summary, "nothing sent")
		}
		_, err := CurlCommand(host, "", DefaultCurlMaxTime)
		require.Error(t, err, host)
	}
	_, err := CurlCommand("api-sse.cisco.com", "/x;reboot", DefaultCurlMaxTime)
	require.Error(t, err)
}
