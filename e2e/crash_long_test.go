//go:build long

package e2e

import "testing"

// TestDiagnoseSurvivesKill2000 is R1 at the scale docs/design.md names: 2,000
// devices, fleetd SIGKILLed mid-run and restarted (make test-long).
func TestDiagnoseSurvivesKill2000(t *testing.T) {
	killMidRun(t, 2000, 200, 0.2)
}
