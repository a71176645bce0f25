package audit

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
)

func TestListFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args      []string
		wantSince time.Time // zero: unset; for durations, checked against the clock
		sinceAgo  time.Duration
		wantLimit int
		wantErr   string
	}{
		{args: nil, wantLimit: 50},
		{args: []string{"--since", "24h", "--limit", "10"}, sinceAgo: 24 * time.Hour, wantLimit: 10},
		{args: []string{"--since", "2024-05-01T00:00:00Z"}, wantSince: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), wantLimit: 50},
		{args: []string{"--since", "-1h"}, wantErr: "duration must be positive"},
		{args: []string{"--since", "last week"}, wantErr: "want a duration"},
		{args: []string{"--limit", "5000"}, wantErr: "want 1 to 1000"},
	}
	for _, tt := range tests {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
		var got *ListOptions
		cmd := NewCmdList(f, func(_ context.Context, o *ListOptions) error { got = o; return nil })
		cmd.SetArgs(append(append([]string{}, tt.args...), "--actor", "ops", "--action", "device.add"))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.ExecuteContext(context.Background())
		if tt.wantErr != "" {
			var fe *cmdutil.FlagError
			require.ErrorAs(t, err, &fe, "%q", tt.args)
			require.ErrorContains(t, err, tt.wantErr)
			continue
		}
		require.NoError(t, err, "%q", tt.args)
		require.Equal(t, "ops", got.Filter.Actor)
		require.Equal(t, "device.add", got.Filter.Action)
		require.Equal(t, tt.wantLimit, got.Filter.Limit)
		switch {
		case tt.sinceAgo > 0:
			require.WithinDuration(t, time.Now().Add(-tt.sinceAgo), got.Filter.Since, 5*time.Second)
		default:
			require.True(t, tt.wantSince.Equal(got.Filter.Since), "since %v", got.Filter.Since)
		}
	}
}
