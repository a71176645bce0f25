package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

// chromiumPath finds the browser the console test drives:
// FLEETD_TEST_CHROMIUM, else Debian's chromium (or a Chrome) on PATH.
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("FLEETD_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the web console test needs a headless Chromium and found none on PATH: install it " +
		"(Debian/Ubuntu, as root: apt-get install -y chromium; .ci/run does this) or set FLEETD_TEST_CHROMIUM=/path/to/chrome")
	return ""
}

// TestConsoleInABrowser drives the web console in headless Chromium
// against a fleetd subprocess, a simulated fleet and PostgreSQL: an
// operator signs in, sees the Fleet counts `fleetctl status` gives, opens
// a device and requests a connector restart; an approver, in a second
// browser context, approves it and watches it succeed; the requester finds
// no way to approve. Each page's screenshot is written to the test's
// artifact directory (go test -artifacts keeps them).
func TestConsoleInABrowser(t *testing.T) {
	chrome := chromiumPath(t)
	f := startFleet(t, sim.FleetConfig{Devices: []sim.DeviceSpec{
		{Name: "ftd-ams-01", Site: "emea", Faults: []sim.Fault{sim.FaultEventHandlerDisconnected}},
		{Name: "ftd-ams-02", Site: "emea"},
		{Name: "ftd-fra-01", Site: "emea", Faults: []sim.Fault{sim.FaultEgressBlocked}},
		{Name: "ftd-nyc-01", Site: "amer"},
		{Name: "ftd-nyc-02", Site: "amer", Faults: []sim.Fault{sim.FaultEventHandlerDisconnected}},
		{Name: "fmc-sin-01", Site: "apjc", Kind: sim.KindFMC7},
	}})
	s := newServer(t, serverOpts{})
	r := s.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)
	// First contact pins the keys (tofu): a remediation request is bound to them.
	r = s.ctl("ops-emea", "diagnose", "--all")
	require.Equal(t, 3, r.code, "some devices are unhealthy: %s %s", r.stdout, r.stderr)
	var status []api.DeviceStatus
	s.ctlJSON("auditor", &status, "status")
	want := map[string]int{}
	perSite := map[string]map[string]int{}
	for _, d := range status {
		want[d.Health]++
		if perSite[d.Site] == nil {
			perSite[d.Site] = map[string]int{}
		}
		perSite[d.Site][d.Health]++
	}
	require.Positive(t, want["unhealthy"])

	shots := t.ArtifactDir()
	t.Logf("screenshots: %s", shots)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := context.WithTimeout(allocCtx, 3*time.Minute)
	defer cancelCtx()
	operator, cancelOp := chromedp.NewContext(ctx)
	defer cancelOp()
	run := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...), what)
	}
	signIn := func(ctx context.Context, token string) {
		t.Helper()
		run(ctx, "sign in",
			chromedp.Navigate(s.url+"/ui/"), // not signed in: the sign-in page
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), token),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.ID("whoami")))
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, "read %s", sel)
		return strings.TrimSpace(s)
	}
	num := func(ctx context.Context, sel string) int {
		t.Helper()
		n, err := strconv.Atoi(text(ctx, sel))
		require.NoError(t, err, sel)
		return n
	}

	// The operator: the Fleet page says what `fleetctl status` says.
	run(operator, "sign-in page", chromedp.Navigate(s.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("token")), shot("signin"))
	signIn(operator, s.tokens["ops-emea"])
	require.Equal(t, "ops-emea (operator)", text(operator, "#whoami"))
	require.Equal(t, len(status), num(operator, "#count-total"))
	for _, h := range []string{"healthy", "unhealthy", "error", "unknown"} {
		require.Equal(t, want[h], num(operator, "#count-"+h), h)
	}
	for site, counts := range perSite {
		for i, h := range []string{"healthy", "unhealthy", "error", "unknown"} {
			require.Equal(t, counts[h], num(operator, fmt.Sprintf("#site-%s td:nth-child(%d)", site, i+3)), "%s %s", site, h)
		}
	}
	require.Contains(t, text(operator, "#checked"), "ago")
	run(operator, "fleet", shot("fleet"))

	// Devices: filter to the unhealthy ones, open one.
	run(operator, "devices",
		chromedp.Navigate(s.url+"/ui/devices?health=unhealthy"),
		chromedp.WaitVisible(chromedp.ID("devices")), shot("devices"),
		chromedp.Click(chromedp.CSS(`#devices a[href="/ui/devices/ftd-ams-01"]`)),
		chromedp.WaitVisible(chromedp.ID("checks")), shot("device"))
	require.Contains(t, text(operator, "#health"), "eventhandler-disconnected")
	require.Contains(t, text(operator, "#transcript"), "pmtool", "operators read the transcript")

	// Request a connector restart from the device page.
	run(operator, "request restart",
		chromedp.SendKeys(chromedp.CSS(`form[action$="/restart-connector"] input[name=reason]`), "eventhandler down (browser test)"),
		chromedp.Click(chromedp.ID("request-restart")),
		chromedp.WaitVisible(chromedp.ID("state")), shot("request-pending"))
	reqURL, err := chromedp.Run(operator, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, reqURL, "/ui/requests/")
	require.Equal(t, "pending", text(operator, "#state"))
	require.Contains(t, text(operator, "#why-not"), "Approving needs role approver")
	reqPath := strings.TrimPrefix(strings.Split(reqURL, "?")[0], s.url)

	// The runs page and the run of the first diagnose.
	run(operator, "runs", chromedp.Navigate(s.url+"/ui/runs"), chromedp.WaitVisible(chromedp.ID("runs")), shot("runs"),
		chromedp.Click(chromedp.CSS("#runs tbody a")), chromedp.WaitVisible(chromedp.ID("groups")), shot("run"))
	run(operator, "audit", chromedp.Navigate(s.url+"/ui/audit"), chromedp.WaitVisible(chromedp.ID("audit")), shot("audit"))
	run(operator, "schedules", chromedp.Navigate(s.url+"/ui/schedules"), chromedp.WaitVisible(chromedp.ID("schedules")), shot("schedules"))

	// The approver, in a browser context of their own (no shared cookies).
	approver, cancelAp := chromedp.NewContext(operator, chromedp.WithNewBrowserContext())
	defer cancelAp()
	signIn(approver, s.tokens["lead-emea"])
	// Two clicks: Approvals, then Approve under the request's preview.
	reqID := strings.TrimPrefix(reqPath, "/ui/requests/")
	section := "#pending-" + reqID
	run(approver, "approvals",
		chromedp.Navigate(s.url+"/ui/approvals"),
		chromedp.WaitVisible(chromedp.CSS(section)), shot("approvals"))
	require.Contains(t, text(approver, section), "pmtool", "the exact commands are previewed")
	require.Contains(t, text(approver, section), "ftd-ams-01")
	require.Contains(t, text(approver, section), "SHA256:", "with the frozen host key")
	run(approver, "approve",
		chromedp.SendKeys(chromedp.CSS(section+` form[action$="/approve"] input[name=comment]`), "go ahead"),
		chromedp.Click(chromedp.CSS(section+` form[action$="/approve"] button`)),
		chromedp.WaitVisible(chromedp.ID("state")))
	deadline := time.Now().Add(90 * time.Second)
	for state := text(approver, "#state"); state != "succeeded"; state = text(approver, "#state") {
		require.NotEqual(t, "failed", state, "the restart failed")
		require.True(t, time.Now().Before(deadline), "request still %s", state)
		time.Sleep(500 * time.Millisecond)
		run(approver, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("state")))
	}
	run(approver, "succeeded", shot("request-succeeded"))
	require.Contains(t, text(approver, "#result"), "1 succeeded")
	require.Equal(t, int64(1), f.Device("ftd-ams-01").Counters().ConnectorRestarts)

	// The requester, back on the request: no way to approve. A pending
	// request of theirs shows why; a forged POST is refused by the server.
	var second api.RemediationRequest
	r = s.ctlJSON("ops-emea", &second, "remediate", "--restart-connector", "ftd-nyc-02", "--reason", "second")
	require.Zero(t, r.code, r.stderr)
	run(operator, "requester",
		chromedp.Navigate(s.url+"/ui/requests/"+second.ID.String()),
		chromedp.WaitVisible(chromedp.ID("why-not")), shot("request-requester"))
	approveButtons, err := chromedp.Run(operator,
		chromedp.Evaluate[int](`document.querySelectorAll('#approve, form[action$="/approve"]').length`))
	require.NoError(t, err)
	forged, err := chromedp.Run(operator, chromedp.Evaluate[int](`(async () => {
			const csrf = document.querySelector('input[name=csrf]').value;
			const r = await fetch(location.pathname + '/approve', {method: 'POST',
				headers: {'Content-Type': 'application/x-www-form-urlencoded'},
				body: 'csrf=' + encodeURIComponent(csrf) + '&comment=mine'});
			return r.status; })()`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Zero(t, approveButtons, "the requester is offered no approve button")
	require.Contains(t, text(operator, "#why-not"), "Approving needs role approver")
	require.Equal(t, 403, forged, "a forged approve is refused")
	var still api.RemediationRequest
	s.ctlJSON("auditor", &still, "requests", "show", second.ID.String())
	require.Equal(t, "pending", string(still.State))
}
