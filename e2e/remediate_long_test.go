//go:build long

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

// TestR4KillFleetdDuringRestart is docs/design.md R4 with a real crash: fleetd is
// SIGKILLed while a connector restart is at a given journal step (the
// device is slow, so each step lasts long enough to be hit), restarted, and
// the request must end succeeded with the simulator counting exactly one
// connector restart.
func TestR4KillFleetdDuringRestart(t *testing.T) {
	// "" is during the pre-check (request running, nothing journalled yet);
	// "precheck" and "disabled" last microseconds (the next step is
	// journalled at once), so they are hit only by the in-process tests.
	for _, step := range []string{"", "disable-sent", "enable-sent", "enabled"} {
		name := step
		if name == "" {
			name = "during-precheck"
		}
		t.Run(name, func(t *testing.T) {
			f := startFleet(t, sim.FleetConfig{
				Devices:     []sim.DeviceSpec{{Name: "ftd-r4", Kind: sim.KindFTD, Site: "emea"}},
				SlowLatency: 40 * time.Second, // 0.4 s per command at TimeScale 0.01
			})
			s := newServer(t, serverOpts{})
			r := s.ctl("ops-emea", "device", "import", f.inventory)
			require.Zero(t, r.code, r.stderr)
			// First contact pins the key (tofu): a request is bound to it.
			r = s.ctl("ops-emea", "diagnose", "--device", "ftd-r4")
			require.Zero(t, r.code, r.stderr)
			dev := f.Device("ftd-r4")
			dev.SetFault(sim.FaultEventHandlerDisconnected)
			dev.SetFault(sim.FaultSlow)

			var req api.RemediationRequest
			r = s.ctlJSON("ops-emea", &req, "remediate", "--restart-connector", "ftd-r4", "--reason", "R4")
			require.Zero(t, r.code, r.stderr)
			r = s.ctl("lead-emea", "approve", req.ID.String())
			require.Zero(t, r.code, r.stderr)

			pool, err := pgxpool.New(context.Background(), s.dbURL)
			require.NoError(t, err)
			defer pool.Close()
			deadline := time.Now().Add(60 * time.Second)
			seen := []string{}
			for {
				var cur, state string
				err := pool.QueryRow(context.Background(), `SELECT d.step, r.state FROM remediation_devices d
					JOIN remediation_requests r ON r.id = d.request_id WHERE r.id = $1`, req.ID).Scan(&cur, &state)
				require.NoError(t, err)
				if cur == step && state == "running" {
					break
				}
				if len(seen) == 0 || seen[len(seen)-1] != cur {
					seen = append(seen, cur)
				}
				require.True(t, time.Now().Before(deadline), "step %q never reached (seen %q)", step, seen)
				time.Sleep(2 * time.Millisecond)
			}
			s.kill()
			s.start()

			deadline = time.Now().Add(3 * time.Minute)
			for {
				var got api.RemediationRequest
				s.ctlJSON("auditor", &got, "requests", "show", req.ID.String())
				if got.State == "succeeded" || got.State == "failed" {
					require.Equal(t, "succeeded", string(got.State), "%+v", got.Result)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("request still %s; fleetd log:\n%s", got.State, s.logs.String())
				}
				time.Sleep(200 * time.Millisecond)
			}
			require.Equal(t, int64(1), dev.Counters().ConnectorRestarts, "exactly one restart per approval")
			for _, flt := range dev.Faults() {
				require.NotEqual(t, sim.FaultEventHandlerDisconnected, flt)
			}
		})
	}
}
