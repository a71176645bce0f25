package diagnose_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetd/fleetd/pkg/diagnose"
)

// A diagnose job: build the device's Env from the configured region table, run the catalog
// over the runner's session, assess.
func ExampleRunChecks() {
	env, err := diagnose.NewEnv("ftd-ams-01", "emea", "eu", diagnose.DefaultRegions())
	if err != nil {
		panic(err)
	}
	// In fleetd this is the runner's session at the root prompt.
	device := diagnose.ExecutorFunc(func(_ context.Context, cmd string) (string, error) {
		switch {
		case strings.HasPrefix(cmd, "curl -v https://"):
			host := strings.TrimPrefix(strings.Fields(cmd)[2], "https://")
			host, _, _ = strings.Cut(host, "/")
			return "< HTTP/1.1 403 Forbidden\n* Connection #0 to host " + host + " left intact\n", nil
		case cmd == diagnose.CmdConnectorProperties:
			return "connector_fqdn=api.eu.sse.itd.cisco.com\n", nil
		case cmd == diagnose.CmdProcessStatus:
			return "SSEConnector (system) - User Disabled\nEventHandler (normal) - Running 17453\n", nil
		case cmd == diagnose.CmdConnectorLog:
			return "", nil
		}
		return "", fmt.Errorf("unexpected command %q", cmd)
	})

	results := diagnose.RunChecks(context.Background(), device, env, nil)
	for _, r := range results {
		fmt.Printf("%-30s %s\n", r.ID, r.Verdict)
	}
	a := diagnose.Assess(results)
	fmt.Println(a.Health, a.Diagnoses, a.Recommended)
	// Output:
	// sse.connectivity               pass
	// connector.properties           pass
	// connector.process              fail
	// connector.eventhandler-socket  skip
	// connector.cloud-session        skip
	// connector.log                  pass
	// connector.enrollment           skip
	// unhealthy [connector-stopped] restart-connector
}

// Remediation polls the connector's state with the same parser the checks use.
func ExampleConnectorStatus() {
	for _, out := range []string{
		"SSEConnector (system) - User Disabled\r\n",
		"SSEConnector (system) - Running 20697\r\n",
	} {
		svc, ok := diagnose.ConnectorStatus(out)
		fmt.Println(ok, svc.UserDisabled(), svc.Running(), svc.PID)
	}
	// Output:
	// true true false 0
	// true false true 20697
}
