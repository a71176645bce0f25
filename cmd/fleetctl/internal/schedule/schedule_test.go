package schedule

import (
	"context"
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

func TestArgs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		enabled bool
		args    []string
		want    string
		wantErr bool
	}{
		{enabled: true, args: []string{"nightly"}, want: "nightly"},
		{enabled: false, args: []string{"weekly"}, want: "weekly"},
		{enabled: true, args: nil, wantErr: true},
		{enabled: false, args: []string{"a", "b"}, wantErr: true},
	} {
		var got *Options
		err := execute(NewCmdSetEnabled(factory(), tt.enabled, func(_ context.Context, o *Options) error { got = o; return nil }), tt.args...)
		if tt.wantErr {
			var fe *cmdutil.FlagError
			require.ErrorAs(t, err, &fe, "%q", tt.args)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got.Name)
		require.Equal(t, tt.enabled, got.Enabled)
	}
	require.Error(t, execute(NewCmdList(factory(), func(context.Context, *Options) error { return nil }), "extra"))
}

const listJSON = `[{"name":"nightly","cron":"0 3 * * *","timezone":"UTC","selector":{"all":true},"enabled":true,
 "enabled_by":"config","enabled_at":"2026-03-01T00:00:00Z","create_remediation_requests":false,
 "next_run":"2026-03-02T03:00:00Z","last_slot":"2026-03-01T03:00:00Z",
 "last_run":{"id":"4b0c0000-0000-4000-8000-000000000001","started_at":"2026-03-01T03:00:01Z","status":"completed",
             "summary":{"devices":10,"done":10,"healthy":7,"unhealthy":2,"error":1}}},
 {"name":"emea","cron":"30 1 * * 1-5","timezone":"Europe/Amsterdam","selector":{"site":"emea"},"enabled":false,
 "enabled_by":"ops-emea","enabled_at":"2026-03-01T00:00:00Z","create_remediation_requests":true,
 "next_run":null,"last_slot":null,"last_run":null}]`

func TestListAndSet(t *testing.T) {
	t.Parallel()
	var method, path string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path = r.Method, r.URL.Path
		if r.Method == "GET" {
			_, _ = io.WriteString(w, listJSON)
			return
		}
		_, _ = io.WriteString(w, `{"name":"emea","cron":"30 1 * * 1-5","timezone":"Europe/Amsterdam","selector":{"site":"emea"},
			"enabled":true,"enabled_by":"ops","enabled_at":"2026-03-01T00:00:00Z","next_run":"2026-03-02T00:30:00Z"}`)
	}))
	defer ts.Close()
	client := func() (*api.Client, error) { return api.NewClient(ts.URL, "t") }

	ios, _, out, _ := iostreams.Test()
	o := &Options{IO: ios, Client: client, Format: func() cmdutil.Format { return cmdutil.FormatTable }}
	require.NoError(t, listRun(context.Background(), o))
	require.Equal(t, "GET /v1/schedules", method+" "+path)
	require.Equal(t,
		"nightly\t0 3 * * *\tUTC\tall\tyes\t2026-03-02T03:00:00Z\t2026-03-01T03:00:01Z\tcompleted: 7 healthy, 2 unhealthy, 1 not checked\t4b0c0000-0000-4000-8000-000000000001\n"+
			"emea\t30 1 * * 1-5\tEurope/Amsterdam\tsite=emea\tno (by ops-emea)\t-\t-\t-\t-\n", out.String())

	ios, _, out, _ = iostreams.Test()
	o = &Options{IO: ios, Client: client, Format: func() cmdutil.Format { return cmdutil.FormatTable }, Name: "emea", Enabled: true}
	require.NoError(t, setRun(context.Background(), o))
	require.Equal(t, "POST /v1/schedules/emea/enable", method+" "+path)
	require.Equal(t, "schedule emea enabled; next run 2026-03-02 00:30 UTC\n", out.String())

	o.Enabled = false
	ios, _, out, _ = iostreams.Test()
	o.IO = ios
	require.NoError(t, setRun(context.Background(), o))
	require.Equal(t, "POST /v1/schedules/emea/disable", method+" "+path)
}
