package remediate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
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

func TestRemediateFlags(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 6, 2, 2, 30, 0, 0, time.FixedZone("", 2*3600))
	tests := []struct {
		args    []string
		want    api.CreateRemediationRequest
		wantErr string
	}{
		{args: []string{"--restart-connector", "ftd-1"},
			want: api.CreateRemediationRequest{Action: api.ActionRestartConnector, Devices: []string{"ftd-1"}}},
		{args: []string{"--restart-connector=ftd-1,ftd-2", "ftd-3", "--reason", "INC-1"},
			want: api.CreateRemediationRequest{Action: api.ActionRestartConnector, Devices: []string{"ftd-1", "ftd-2", "ftd-3"}, Reason: "INC-1"}},
		{args: []string{"--restart-connector", "--site", "emea", "--diagnosis", "eventhandler-disconnected"},
			want: api.CreateRemediationRequest{Action: api.ActionRestartConnector, Site: "emea", Diagnosis: "eventhandler-disconnected"}},
		{args: []string{"--reboot", "ftd-1", "--in-window"},
			want: api.CreateRemediationRequest{Action: api.ActionReboot, Devices: []string{"ftd-1"}, InWindow: true}},
		{args: []string{"--reboot", "ftd-1", "--at", "2024-06-02T02:30:00+02:00"},
			want: api.CreateRemediationRequest{Action: api.ActionReboot, Devices: []string{"ftd-1"}, At: &at}},
		{args: []string{"ftd-1"}, wantErr: "give an action"},
		{args: []string{"--restart-connector", "ftd-1", "--reboot", "ftd-2"}, wantErr: "not both"},
		{args: []string{"--restart-connector"}, wantErr: "which devices?"},
		{args: []string{"--restart-connector", "ftd-1", "--site", "emea"}, wantErr: "not both"},
		{args: []string{"--reboot", "ftd-1"}, wantErr: "a reboot needs --at TIME or --in-window"},
		{args: []string{"--reboot", "ftd-1", "--at", "tomorrow"}, wantErr: "want an RFC 3339 time"},
		{args: []string{"--reboot", "ftd-1", "--at", "2024-06-02T02:30:00Z", "--in-window"}, wantErr: "not both"},
	}
	for _, tt := range tests {
		var got *RequestOptions
		err := execute(NewCmdRemediate(factory(), func(_ context.Context, o *RequestOptions) error { got = o; return nil }), tt.args...)
		if tt.wantErr != "" {
			var fe *cmdutil.FlagError
			require.ErrorAs(t, err, &fe, "%q", tt.args)
			require.ErrorContains(t, err, tt.wantErr, "%q", tt.args)
			continue
		}
		require.NoError(t, err, "%q", tt.args)
		if tt.want.At != nil {
			require.True(t, tt.want.At.Equal(*got.Request.At), "%q", tt.args)
			got.Request.At, tt.want.At = nil, nil
		}
		require.Equal(t, tt.want, got.Request, "%q", tt.args)
	}
}

func TestDecisionFlags(t *testing.T) {
	t.Parallel()
	id := uuid.New().String()
	var got *DecideOptions
	capture := func(_ context.Context, o *DecideOptions) error { got = o; return nil }

	require.NoError(t, execute(NewCmdApprove(factory(), capture), id, "--comment", "ok"))
	require.Equal(t, id, got.ID.String())
	require.Equal(t, "ok", got.Comment)
	require.NoError(t, execute(NewCmdReject(factory(), capture), id, "--reason", "no window"))
	require.Equal(t, "no window", got.Reason)
	require.NoError(t, execute(NewCmdCancel(factory(), capture), id))
	require.NoError(t, execute(NewCmdShow(factory(), capture), id))

	for _, tc := range []struct {
		cmd     *cobra.Command
		args    []string
		wantErr string
	}{
		{NewCmdApprove(factory(), capture), nil, "missing REQUEST_ID"},
		{NewCmdApprove(factory(), capture), []string{"42"}, "is not a request id"},
		{NewCmdReject(factory(), capture), []string{id}, "--reason is required"},
		{NewCmdShow(factory(), capture), []string{id, id}, "too many arguments"},
		{NewCmdList(factory(), nil), []string{"--state", "done"}, `--state "done"`},
	} {
		err := execute(tc.cmd, tc.args...)
		var fe *cmdutil.FlagError
		require.ErrorAs(t, err, &fe, "%q", tc.args)
		require.ErrorContains(t, err, tc.wantErr)
	}
}

// TestApproveSendsReviewedHash: approve fetches the request and approves
// exactly the version it saw.
func TestApproveSendsReviewedHash(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	var body api.ApproveRequest
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == "/v1/remediations/"+id.String():
			_ = json.NewEncoder(w).Encode(api.RemediationRequest{ID: id, State: api.RequestPending, ParamsHash: "abc123"})
		case r.Method == "POST" && r.URL.Path == "/v1/remediations/"+id.String()+"/approve":
			require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			_ = json.NewEncoder(w).Encode(api.RemediationRequest{ID: id, State: api.RequestScheduled, ApprovedBy: "lead"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	ios, _, out, _ := iostreams.Test()
	opts := &DecideOptions{IO: ios, ID: id, Comment: "ok", Format: func() cmdutil.Format { return cmdutil.FormatJSON },
		Client: func() (*api.Client, error) { return api.NewClient(ts.URL, "t") }}
	require.NoError(t, approveRun(context.Background(), opts))
	require.Equal(t, api.ApproveRequest{Comment: "ok", ParamsHash: "abc123"}, body)
	var got map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	require.Equal(t, "scheduled", got["state"])
}
