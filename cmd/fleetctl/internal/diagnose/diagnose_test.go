package diagnose

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

func TestSelectorFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		wantErr string
		check   func(*testing.T, *Options)
	}{
		{args: []string{"--site", "emea"}, check: func(t *testing.T, o *Options) { require.Equal(t, "emea", o.Site) }},
		{args: []string{"--device", "a", "--device", "b", "--check", "sse.connectivity"}, check: func(t *testing.T, o *Options) {
			require.Equal(t, []string{"a", "b"}, o.Devices)
			require.Equal(t, []string{"sse.connectivity"}, o.Checks)
		}},
		{args: []string{"--all", "--detach"}, check: func(t *testing.T, o *Options) { require.True(t, o.All && o.Detach) }},
		{args: []string{"--site", "emea", "--tag", "role=edge"}, check: func(t *testing.T, o *Options) { require.Equal(t, "role=edge", o.Tag) }},
		{args: []string{}, wantErr: "exactly one of"},
		{args: []string{"--site", "emea", "--all"}, wantErr: "exactly one of"},
		{args: []string{"--device", "a", "--all"}, wantErr: "exactly one of"},
		{args: []string{"extra"}, wantErr: "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdDiagnose(&cmdutil.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Equal(t, cmdutil.ExitUsage, cmdutil.ExitCode(err))
				return
			}
			require.NoError(t, err)
			tc.check(t, got)
		})
	}
}

func TestRenderRunGroupsByDiagnosis(t *testing.T) {
	t.Parallel()
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	now := time.Now()
	run := api.Run{ID: uuid.New(), Status: "completed", CreatedAt: now, StartedAt: &now, FinishedAt: &now,
		Summary: api.RunSummary{Devices: 4, Done: 4, Healthy: 1, Unhealthy: 2, Error: 1},
		Devices: []api.DeviceResult{
			{Device: "a", Health: "healthy", Diagnoses: []string{}},
			{Device: "b", Health: "unhealthy", Diagnoses: []string{"eventhandler-disconnected"}, Recommended: "restart-connector"},
			{Device: "c", Health: "unhealthy", Diagnoses: []string{"eventhandler-disconnected"}, Recommended: "restart-connector"},
			{Device: "d", Health: "error", Diagnoses: []string{"timeout"}},
		}}
	require.NoError(t, RenderRun(ios, cmdutil.FormatTable, run))
	lines := strings.Split(out.String(), "\n")
	require.Contains(t, strings.ToLower(lines[0]), "diagnosis")
	require.Regexp(t, `^eventhandler-disconnected\s+2\s+restart-connector\s+b, c\s*$`, lines[1])
	require.Regexp(t, `^timeout\s+1\s+\S+\s+d\s*$`, lines[2])
	require.Regexp(t, `^healthy\s+1`, lines[3], "healthy comes last")
	require.Contains(t, out.String(), "4 devices, 1 healthy, 2 unhealthy, 1 not checked")
	require.Equal(t, cmdutil.ExitUnhealthy, cmdutil.ExitCode(exitFor(run.Summary)))
	require.NoError(t, exitFor(api.RunSummary{Devices: 3, Healthy: 3}))
}

func TestProgressOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := progress{w: &buf, tty: false, start: time.Now()}
	p.draw(api.Run{Summary: api.RunSummary{Devices: 10, Done: 5}})
	p.finish()
	require.Empty(t, buf.String(), "no progress noise in pipes and logs")

	p = progress{w: &buf, tty: true, start: time.Now().Add(-5 * time.Second)}
	p.draw(api.Run{Summary: api.RunSummary{Devices: 10, Done: 5, Unhealthy: 2}})
	p.finish()
	require.Contains(t, buf.String(), "5/10 devices")
	require.Contains(t, buf.String(), "unhealthy 2")
	require.Contains(t, buf.String(), "ETA 5s")
}

func TestAgeAndAbbreviate(t *testing.T) {
	t.Parallel()
	require.Equal(t, "42s", Age(42*time.Second))
	require.Equal(t, "5m", Age(5*time.Minute+3*time.Second))
	require.Equal(t, "30h", Age(30*time.Hour))
	require.Equal(t, "3d", Age(72*time.Hour))
	require.Equal(t, "a, b", abbreviate([]string{"b", "a"}, 3))
	require.Equal(t, "a, b (+2 more)", abbreviate([]string{"d", "c", "b", "a"}, 2))
}
