package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/config"
)

// A device job must end (and its session with it) before River may hand it
// on: session_timeout < job timeout < rescue_after, with margins, whatever
// jobs.rescue_after says (issue 10 §3: River handed on jobs whose sessions
// were still open).
func TestDeviceJobTimeoutsOrdering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ session, rescueAfter time.Duration }{
		{2 * time.Minute, 0},
		{2 * time.Minute, 2*time.Minute + time.Second}, // accepted by validation, too short to be safe
		{2 * time.Minute, time.Hour},
		{5 * time.Second, 0},
	} {
		cfg := config.Default()
		cfg.Runner.SessionTimeout, cfg.Jobs.RescueAfter = tc.session, tc.rescueAfter
		job, rescue := DeviceJobTimeouts(cfg)
		require.GreaterOrEqual(t, job, tc.session+jobMargin, "%+v", tc)
		require.GreaterOrEqual(t, rescue, job+rescueMargin, "%+v", tc)
		if tc.rescueAfter > job+rescueMargin {
			require.Equal(t, tc.rescueAfter, rescue, "a longer rescue_after is kept")
		}
	}
}
