package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sim"
)

// TestFleetPageShowsIncidents: four FTDs of one site that cannot reach the
// cloud are one site-egress incident on the Fleet page, above the top
// diagnoses, with its devices and fix; the healthy one is in none.
func TestFleetPageShowsIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var specs []sim.DeviceSpec
	for i := range 4 {
		specs = append(specs, sim.DeviceSpec{Name: fmt.Sprintf("ftd-blocked-%d", i), Site: "emea",
			Faults: []sim.Fault{sim.FaultEgressBlocked}})
	}
	specs = append(specs, sim.DeviceSpec{Name: "ftd-fine", Site: "emea"})
	e := newSimEnv(t, "127.14.2.1", specs)

	viewer := e.signIn(t, auth.RoleViewer)
	_, body := viewer.get("/ui/")
	require.Contains(t, body, `id="incidents-summary">No incident`, "before any result")

	run, err := e.backend.Runs.Start(ctx, runs.StartRequest{Kind: "diagnose", RequestedBy: "test", Selector: runs.Selector{All: true}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := e.backend.Runs.Get(ctx, run.ID, runs.GetOptions{})
		return err == nil && r.Status == runs.StatusCompleted
	}, 60*time.Second, 100*time.Millisecond)

	_, body = viewer.get("/ui/")
	require.Contains(t, body, `id="incidents-summary">1 incident explains 4 of 4 devices that are not healthy.`)
	inc := body[strings.Index(body, `<tr class="incident">`):]
	inc = inc[:strings.Index(inc, "</tr>")]
	require.Contains(t, inc, "<code>site-egress</code>")
	require.Contains(t, inc, "site=emea")
	for i := range 4 {
		require.Contains(t, inc, fmt.Sprintf(`href="/ui/devices/ftd-blocked-%d"`, i))
	}
	require.NotContains(t, inc, "ftd-fine")
	require.Less(t, strings.Index(body, "<h2>Incidents</h2>"), strings.Index(body, "<h2>Top diagnoses</h2>"),
		"incidents come before the per-diagnosis table")
}
