package hostkey

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.ExecuteContext(context.Background())
}

func factory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

func TestAcceptFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    AcceptOptions
		wantErr string
	}{
		{args: []string{"ftd-1", "ftd-2"}, want: AcceptOptions{Devices: []string{"ftd-1", "ftd-2"}}},
		{args: []string{"--all-pending"}, want: AcceptOptions{AllPending: true}},
		{args: []string{"--all-pending", "--site", "emea"}, want: AcceptOptions{AllPending: true, Site: "emea"}},
		{args: nil, wantErr: "give device names or --all-pending"},
		{args: []string{"ftd-1", "--all-pending"}, wantErr: "not both"},
		{args: []string{"ftd-1", "--site", "emea"}, wantErr: "--site only narrows --all-pending"},
	}
	for _, tt := range tests {
		var got *AcceptOptions
		err := execute(NewCmdAccept(factory(), func(_ context.Context, o *AcceptOptions) error { got = o; return nil }), tt.args...)
		if tt.wantErr != "" {
			var fe *cmdutil.FlagError
			require.ErrorAs(t, err, &fe, "%q", tt.args)
			require.ErrorContains(t, err, tt.wantErr)
			continue
		}
		require.NoError(t, err, "%q", tt.args)
		require.Equal(t, tt.want.Devices, got.Devices)
		require.Equal(t, tt.want.AllPending, got.AllPending)
		require.Equal(t, tt.want.Site, got.Site)
	}
}

func TestListFlagsAndJSON(t *testing.T) {
	t.Parallel()
	var got *ListOptions
	require.NoError(t, execute(NewCmdList(factory(), func(_ context.Context, o *ListOptions) error { got = o; return nil }),
		"--state", "pending", "--site", "emea"))
	require.Equal(t, "pending", got.State)
	require.Equal(t, "emea", got.Site)
	err := execute(NewCmdList(factory(), nil), "--state", "trusted")
	var fe *cmdutil.FlagError
	require.ErrorAs(t, err, &fe)

	var query string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		_, _ = io.WriteString(w, `[{"device":"ftd-1","site":"emea","address":"127.1.0.2:22","key_type":"ssh-ed25519",
			"fingerprint":"SHA256:abc","public_key":"ssh-ed25519 AAAA","state":"pending","seen_count":2,
			"first_seen":"2024-05-01T00:00:00Z","last_seen":"2024-05-01T01:00:00Z"}]`)
	}))
	defer ts.Close()
	ios, _, out, _ := iostreams.Test()
	opts := &ListOptions{IO: ios, Format: func() cmdutil.Format { return cmdutil.FormatJSON }, State: "pending",
		Client: func() (*api.Client, error) { return api.NewClient(ts.URL, "t") }}
	require.NoError(t, listRun(context.Background(), opts))
	require.Equal(t, "state=pending", query)
	var keys []map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &keys))
	require.Equal(t, "SHA256:abc", keys[0]["fingerprint"])
	require.Contains(t, keys[0], "first_seen")
	require.NotContains(t, keys[0], "pinned_at", "omitted while not pinned")

	ios, _, out, _ = iostreams.Test()
	opts.IO, opts.Format = ios, func() cmdutil.Format { return cmdutil.FormatTable }
	require.NoError(t, listRun(context.Background(), opts))
	require.Equal(t, "ftd-1\temea\tpending\tssh-ed25519\tSHA256:abc\t2024-05-01T01:00:00Z\n", out.String())
}
