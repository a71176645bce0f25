package diagnose_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/sim"
)

// execSession runs each command in its own SSH exec session: the simulator's exec mode runs
// them as root, which is all the checks need (the interactive driver is pkg/runner's job).
type execSession struct{ client *ssh.Client }

func (e execSession) Run(ctx context.Context, cmd string) (string, error) {
	s, err := e.client.NewSession()
	if err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	out, err := s.CombinedOutput(cmd)
	var exitErr *ssh.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return string(out), fmt.Errorf("run %q: %w", cmd, err)
	}
	return string(out), nil // a non-zero exit is the command's own answer, read from its output
}

// TestAgainstSimulator is the contract test with pkg/sim: every fault the simulator injects
// is diagnosed with exactly its code from the simulator's real output.
func TestAgainstSimulator(t *testing.T) {
	t.Parallel()
	faults := []struct {
		fault       sim.Fault
		diagnoses   []diagnose.Diagnosis
		recommended diagnose.Recommendation
	}{
		{sim.FaultHealthy, []diagnose.Diagnosis{}, diagnose.RecommendNone},
		{sim.FaultEgressBlocked, []diagnose.Diagnosis{diagnose.DiagEgressBlocked}, diagnose.RecommendFixEgress},
		{sim.FaultEventHandlerDisconnected, []diagnose.Diagnosis{diagnose.DiagEventHandlerDisconnected}, diagnose.RecommendRestartConnector},
		{sim.FaultConnectorStopped, []diagnose.Diagnosis{diagnose.DiagConnectorStopped}, diagnose.RecommendRestartConnector},
		{sim.FaultNotEnrolled, []diagnose.Diagnosis{diagnose.DiagNotEnrolled}, diagnose.RecommendFMCCloudSettings},
		{sim.FaultRegionMismatch, []diagnose.Diagnosis{diagnose.DiagRegionMismatch}, diagnose.RecommendFMCRegionConfig},
	}
	// Cleanup, not defer: the parallel subtests run after this function returns.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	fleet, err := sim.NewFleet(sim.FleetConfig{
		Count: len(faults), Listen: "127.1.91.1", Seed: 11, Sites: []string{"emea", "amer", "apjc"},
		Exec: true, TimeScale: 0.01,
	}, zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, fleet.Start(ctx))
	t.Cleanup(func() { _ = fleet.Close() })

	for i, dev := range fleet.Devices() {
		tc := faults[i]
		t.Run(string(tc.fault), func(t *testing.T) {
			t.Parallel()
			dev.ClearFaults()
			dev.SetFault(tc.fault)
			client, err := ssh.Dial("tcp", dev.Addr(), &ssh.ClientConfig{
				User: "admin", Auth: []ssh.AuthMethod{ssh.Password("Admin123")},
				HostKeyCallback: ssh.FixedHostKey(dev.HostKey()), Timeout: 5 * time.Second,
			})
			require.NoError(t, err)
			defer client.Close()

			env, err := diagnose.NewEnv(dev.Name(), dev.Site(), dev.Region(), diagnose.DefaultRegions())
			require.NoError(t, err)
			results := diagnose.RunChecks(ctx, execSession{client}, env, nil)
			a := diagnose.Assess(results)
			detail := ""
			for _, r := range results {
				detail += fmt.Sprintf("\n  %-30s %-5s %s", r.ID, r.Verdict, r.Summary)
			}
			require.Equal(t, tc.diagnoses, a.Diagnoses, "site %s region %s:%s", dev.Site(), dev.Region(), detail)
			require.Equal(t, tc.recommended, a.Recommended, detail)
			if tc.fault == sim.FaultHealthy {
				require.Equal(t, diagnose.HealthHealthy, a.Health, detail)
			} else {
				require.Equal(t, diagnose.HealthUnhealthy, a.Health, detail)
			}
		})
	}
}
