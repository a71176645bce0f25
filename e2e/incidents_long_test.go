//go:build long

package e2e

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
)

// TestIncidentsAtScale is issue 13's "done when" at 2,000 devices
// (INCIDENTS_DEVICES=10000 INCIDENTS_LISTEN=127.13.0.1 for the full size by
// hand): site-wide, FMC-rooted and version-correlated faults mixed with
// random ones of the same kinds; `fleetctl diagnose --all` names each
// planted incident with exactly its devices and invents none for the
// random ones.
func TestIncidentsAtScale(t *testing.T) {
	n := 2000
	if v := os.Getenv("INCIDENTS_DEVICES"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "INCIDENTS_DEVICES")
	}
	start := time.Now()
	p := plantFleet(t, n, 11, os.Getenv("INCIDENTS_LISTEN"), "egress-blocked=4%,eventhandler-disconnected=4%,not-enrolled=3%,region-mismatch=2%,connector-stopped=3%,auth-failure=1%")
	require.Positive(t, p.random)
	s := newServer(t, serverOpts{MaxConcurrent: 200})
	r := s.ctl("ops-emea", "device", "import", p.inventory)
	require.Zero(t, r.code, r.stderr)

	began := time.Now()
	var run api.Run
	r = s.ctlWithin(30*time.Minute, "ops-emea", "diagnose", "--all", "-o", "json")
	require.Equal(t, 3, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &run))
	took := time.Since(began)
	require.Equal(t, n, run.Summary.Done)
	p.checkIncidents(t, run.Incidents)

	var list api.IncidentList
	r = s.ctlJSON("auditor", &list, "incidents")
	require.Equal(t, 3, r.code, r.stderr)
	p.checkIncidents(t, list.Incidents)
	explained := 0
	for _, in := range run.Incidents {
		explained += len(in.Devices)
		t.Logf("%-32s %5d devices  %-6s  %s", in.ID, len(in.Devices), in.Confidence, in.Summary)
	}
	t.Logf("%d devices (%d with a random fault outside the planted groups): %d incidents explain %d of %d unhealthy; diagnose --all took %s (setup %s)",
		n, p.random, len(run.Incidents), explained, run.Summary.Unhealthy+run.Summary.Error, took.Round(time.Second),
		began.Sub(start).Round(time.Second))
}
