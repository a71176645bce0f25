package sweep_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

func names(l []sweep.DiffDevice) map[string]sweep.DiffDevice {
	out := map[string]sweep.DiffDevice{}
	for _, d := range l {
		out[d.Device] = d
	}
	return out
}

// Four nights over real PostgreSQL: the diff of the last one against the
// third, with streaks counted back to the last healthy night.
func TestDiffAgainstThePreviousSweepOfTheSameSelector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-ok", "ftd-new", "ftd-cured", "ftd-chronic", "ftd-flip", "ftd-dark", "ftd-back", "ftd-late")
	s := e.service(t)
	all := runs.Selector{All: true}

	night := func(res map[string]string) uuid.UUID { return e.run(t, runs.KindSweep, "nightly", all, res) }
	night(map[string]string{"ftd-ok": "healthy", "ftd-new": "healthy", "ftd-cured": "eh", "ftd-chronic": "eh",
		"ftd-flip": "healthy", "ftd-dark": "timeout", "ftd-back": "timeout", "ftd-late": "healthy"})
	night(map[string]string{"ftd-ok": "healthy", "ftd-new": "healthy", "ftd-cured": "eh", "ftd-chronic": "egress",
		"ftd-flip": "eh", "ftd-dark": "timeout", "ftd-back": "timeout", "ftd-late": "healthy"})
	prev := night(map[string]string{"ftd-ok": "healthy", "ftd-new": "healthy", "ftd-cured": "eh", "ftd-chronic": "eh",
		"ftd-flip": "healthy", "ftd-dark": "eh", "ftd-back": "timeout", "ftd-late": "healthy"})
	// Runs that must not be taken as "the previous sweep": a diagnose over
	// the same devices, a sweep of another selector, and an unfinished sweep.
	e.run(t, runs.KindDiagnose, "", all, map[string]string{"ftd-ok": "eh"})
	e.run(t, runs.KindSweep, "emea", runs.Selector{Site: "emea"}, map[string]string{"ftd-ok": "eh"})
	e.run(t, runs.KindSweep, "nightly", all, map[string]string{"ftd-ok": "eh"})
	cur := night(map[string]string{"ftd-ok": "healthy", "ftd-new": "egress", "ftd-cured": "healthy", "ftd-chronic": "eh",
		"ftd-flip": "eh", "ftd-dark": "timeout", "ftd-back": "healthy"}) // ftd-late still pending

	d, err := s.Diff(ctx, cur)
	require.NoError(t, err)
	require.Equal(t, prev, *d.PreviousRunID)
	require.Equal(t, "sweep", d.Kind)
	require.Equal(t, "nightly", d.Schedule)
	require.Equal(t, sweep.DiffSummary{Devices: 8, Healthy: 3, NewlyUnhealthy: 2, Recovered: 2, StillBroken: 1,
		Unreachable: 1, Pending: 1}, d.Summary)

	nu := names(d.NewlyUnhealthy)
	require.Len(t, nu, 2)
	require.Equal(t, []string{"egress-blocked"}, nu["ftd-new"].Diagnoses)
	require.Equal(t, "healthy", nu["ftd-new"].PreviousHealth)
	require.Equal(t, 1, nu["ftd-flip"].Consecutive)

	rec := names(d.Recovered)
	require.Equal(t, "unhealthy", rec["ftd-cured"].PreviousHealth)
	require.Equal(t, []string{"eventhandler-disconnected"}, rec["ftd-cured"].PreviousDiagnoses)
	require.Equal(t, "error", rec["ftd-back"].PreviousHealth)

	sb := names(d.StillBroken)
	require.Equal(t, 4, sb["ftd-chronic"].Consecutive, "broken all four nights (the diagnosis changed on night 2)")
	require.Equal(t, "restart-connector", sb["ftd-chronic"].Recommended)

	un := names(d.Unreachable)
	require.Equal(t, 4, un["ftd-dark"].Consecutive, "unreachable, unhealthy, then unreachable again: never healthy")
	require.Equal(t, "unhealthy", un["ftd-dark"].PreviousHealth)
	require.Equal(t, []string{"timeout"}, un["ftd-dark"].Diagnoses)
	require.Equal(t, "no SSH banner", un["ftd-dark"].Error)

	// The first sweep has nothing to compare with: everything unhealthy is new.
	lines := sweep.DiffLines(d, 10)
	require.Contains(t, lines[0], "8 devices: 3 healthy, 2 newly unhealthy, 2 recovered, 1 still broken, 1 unreachable")
	require.Contains(t, lines, "still broken (1): `ftd-chronic` (eventhandler-disconnected; 4 in a row)")

	short := sweep.TruncateDiff(d, 1)
	require.True(t, short.Truncated)
	require.Len(t, short.NewlyUnhealthy, 1)
	require.Equal(t, 2, short.Summary.NewlyUnhealthy)
	require.Len(t, d.NewlyUnhealthy, 2, "Truncate copies")

	_, err = s.Diff(ctx, uuid.New())
	require.ErrorIs(t, err, runs.ErrNotFound)
}

func TestDiffOfAFirstRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addDevices(t, "emea", "ftd-1", "ftd-2")
	s := e.service(t)
	id := e.run(t, runs.KindSweep, "nightly", runs.Selector{All: true}, map[string]string{"ftd-1": "healthy", "ftd-2": "eh"})
	d, err := s.Diff(context.Background(), id)
	require.NoError(t, err)
	require.Nil(t, d.PreviousRunID)
	require.Equal(t, 1, d.Summary.NewlyUnhealthy)
	require.Equal(t, "", d.NewlyUnhealthy[0].PreviousHealth)
	require.Empty(t, d.Recovered)
	require.NotNil(t, d.Recovered, "empty lists encode as [] for scripts")
	require.Contains(t, sweep.DiffLines(d, 5), "no previous sweep of this selector to compare with")
}
