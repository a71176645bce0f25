package device

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

func testFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

// execute runs cmd with args, silencing cobra's own printing.
func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.ExecuteContext(context.Background())
}

func requireFlagError(t *testing.T, err error, contains string) {
	t.Helper()
	var fe *cmdutil.FlagError
	require.ErrorAs(t, err, &fe)
	require.ErrorContains(t, err, contains)
}

func TestListFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    ListOptions
		wantErr string
	}{
		{name: "no filters", args: nil, want: ListOptions{}},
		{name: "all filters", args: []string{"--site", "emea", "--kind", "ftd", "--tag", "role=edge", "--tag", "env=prod"},
			want: ListOptions{Site: "emea", Kind: "ftd", Tags: map[string]string{"role": "edge", "env": "prod"}}},
		{name: "bad kind", args: []string{"--kind", "asa"}, wantErr: `--kind "asa": want fmc or ftd`},
		{name: "bad tag", args: []string{"--tag", "edge"}, wantErr: `--tag "edge": want key=value`},
		{name: "positional arg", args: []string{"emea"}, wantErr: `unexpected argument "emea"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *ListOptions
			cmd := NewCmdList(testFactory(), func(_ context.Context, o *ListOptions) error { got = o; return nil })
			err := execute(cmd, tt.args...)
			if tt.wantErr != "" {
				requireFlagError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want.Site, got.Site)
			require.Equal(t, tt.want.Kind, got.Kind)
			require.Equal(t, tt.want.Tags, got.Tags)
		})
	}
}

func TestAddFlags(t *testing.T) {
	t.Parallel()
	full := []string{"ftd-ams-01", "--kind", "ftd", "--site", "emea", "--address", "10.1.0.11:2222", "--credential", "lab"}
	tests := []struct {
		name    string
		args    []string
		want    api.NewDevice
		wantErr string
	}{
		{name: "complete", args: append(append([]string{}, full...), "--tag", "role=edge", "--managed-by", "fmc-ams"),
			want: api.NewDevice{Name: "ftd-ams-01", Kind: "ftd", Site: "emea", Address: "10.1.0.11:2222", Credential: "lab",
				Tags: map[string]string{"role": "edge"}, ManagedBy: "fmc-ams"}},
		{name: "missing name", args: full[1:], wantErr: "missing device NAME"},
		{name: "missing kind", args: []string{"x", "--site", "emea", "--address", "a", "--credential", "lab"}, wantErr: "--kind is required"},
		{name: "missing credential", args: []string{"x", "--kind", "ftd", "--site", "emea", "--address", "a"}, wantErr: "--credential is required"},
		{name: "bad kind", args: []string{"x", "--kind", "asa", "--site", "emea", "--address", "a", "--credential", "lab"}, wantErr: `--kind "asa"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got *AddOptions
			cmd := NewCmdAdd(testFactory(), func(_ context.Context, o *AddOptions) error { got = o; return nil })
			err := execute(cmd, tt.args...)
			if tt.wantErr != "" {
				requireFlagError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Device)
		})
	}
}

func TestNameArgs(t *testing.T) {
	t.Parallel()
	var shown, removed string
	show := func() *cobra.Command {
		return NewCmdShow(testFactory(), func(_ context.Context, o *ShowOptions) error { shown = o.Name; return nil })
	}
	rm := func() *cobra.Command {
		return NewCmdRm(testFactory(), func(_ context.Context, o *RmOptions) error { removed = o.Name; return nil })
	}
	require.NoError(t, execute(show(), "ftd-ams-01"))
	require.Equal(t, "ftd-ams-01", shown)
	require.NoError(t, execute(rm(), "ftd-ams-02"))
	require.Equal(t, "ftd-ams-02", removed)
	requireFlagError(t, execute(show()), "missing device NAME")
	requireFlagError(t, execute(rm(), "a", "b"), "too many arguments")
}

func TestImportFlags(t *testing.T) {
	t.Parallel()
	var got *ImportOptions
	newCmd := func() *cobra.Command {
		return NewCmdImport(testFactory(), func(_ context.Context, o *ImportOptions) error { got = o; return nil })
	}
	require.NoError(t, execute(newCmd(), "inv.csv", "--dry-run"))
	require.Equal(t, "inv.csv", got.File)
	require.True(t, got.DryRun)
	require.NoError(t, execute(newCmd(), "-"))
	require.Equal(t, "-", got.File)
	require.False(t, got.DryRun)
	requireFlagError(t, execute(newCmd()), "missing inventory FILE")
}

// fakeServer answers like fleetd would; the handler records what it saw.
func fakeServer(t *testing.T, h http.HandlerFunc) func() (*api.Client, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return func() (*api.Client, error) { return api.NewClient(srv.URL, "test-token") }
}

func TestListRunOutputs(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	devs := []api.Device{
		{ID: "0b0e", Name: "ftd-ams-01", Kind: "ftd", Site: "emea", Address: "10.1.0.11", Credential: "lab",
			Tags: map[string]string{"role": "edge", "env": "prod"}, CreatedAt: at, UpdatedAt: at},
		{ID: "0b0f", Name: "fmc-ams", Kind: "fmc", Site: "emea", Address: "10.1.0.2:2222", Credential: "lab",
			Tags: map[string]string{}, CreatedAt: at, UpdatedAt: at},
	}
	var gotQuery string
	client := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/v1/devices", r.URL.Path)
		require.Equal(t, "Bearer test-token", r.Header.Get("Authorization"))
		gotQuery = r.URL.RawQuery
		_ = json.NewEncoder(w).Encode(devs)
	})
	run := func(format cmdutil.Format, tty bool, opts ListOptions) string {
		ios, _, out, _ := iostreams.Test()
		ios.SetStdoutTTY(tty)
		opts.IO, opts.Client, opts.Format = ios, client, func() cmdutil.Format { return format }
		require.NoError(t, listRun(context.Background(), &opts))
		return out.String()
	}

	require.Equal(t,
		"NAME        KIND  SITE  ADDRESS        CREDENTIAL  MODEL  VERSION  TAGS\n"+
			"ftd-ams-01  ftd   emea  10.1.0.11      lab         -      -        env=prod;role=edge\n"+
			"fmc-ams     fmc   emea  10.1.0.2:2222  lab         -      -        -\n",
		run(cmdutil.FormatTable, true, ListOptions{Site: "emea", Tags: map[string]string{"role": "edge", "a": "b"}}))
	require.Equal(t, "site=emea&tag=a%3Db&tag=role%3Dedge", gotQuery, "filters travel as query parameters, tags sorted")

	require.Equal(t,
		"ftd-ams-01\tftd\temea\t10.1.0.11\tlab\t\t\tenv=prod;role=edge\n"+
			"fmc-ams\tfmc\temea\t10.1.0.2:2222\tlab\t\t\t\n",
		run(cmdutil.FormatTable, false, ListOptions{}))

	// JSON: exactly the field names of docs/design.md's inventory columns, plus id and timestamps.
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run(cmdutil.FormatJSON, false, ListOptions{})), &got))
	require.Len(t, got, 2)
	keys := make([]string, 0)
	for k := range got[0] {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"id", "name", "kind", "site", "address", "credential", "tags", "managed_by",
		"created_at", "updated_at"}, keys)
	require.Equal(t, map[string]any{"env": "prod", "role": "edge"}, got[0]["tags"])
	require.Equal(t, "2024-05-01T12:00:00Z", got[0]["created_at"])

	require.Contains(t, run(cmdutil.FormatYAML, false, ListOptions{}), "- id: 0b0e\n  name: ftd-ams-01\n  kind: ftd\n")
}

func TestListRunEmptyJSONIsArray(t *testing.T) {
	t.Parallel()
	client := fakeServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "null") })
	ios, _, out, _ := iostreams.Test()
	opts := &ListOptions{IO: ios, Client: client, Format: func() cmdutil.Format { return cmdutil.FormatJSON }}
	require.NoError(t, listRun(context.Background(), opts))
	require.Equal(t, "[]\n", out.String())
}

func TestImportRunPrintsEveryProblemWithItsLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.csv")
	require.NoError(t, os.WriteFile(file, []byte("name,kind\nx,asa\n"), 0o600))
	var sent api.ImportRequest
	client := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, json.NewDecoder(r.Body).Decode(&sent))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":"validation_failed","message":"fleet.csv: 2 problems; nothing was written",
			"details":[{"line":2,"field":"kind","message":"must be fmc or ftd, got \"asa\""},{"line":3,"message":"duplicate name x (first on line 2)"}]}}`)
	})
	ios, _, out, errOut := iostreams.Test()
	opts := &ImportOptions{IO: ios, Client: client, Format: func() cmdutil.Format { return cmdutil.FormatTable },
		File: file, DryRun: true}
	err := importRun(context.Background(), opts)
	require.ErrorIs(t, err, cmdutil.ErrSilent)
	require.Equal(t, cmdutil.ExitError, cmdutil.ExitCode(err))
	require.Equal(t, api.ImportRequest{Filename: "fleet.csv", Content: "name,kind\nx,asa\n", DryRun: true}, sent)
	require.Empty(t, out.String())
	require.Equal(t, "error: fleet.csv: 2 problems; nothing was written\n"+
		file+`:2: kind: must be fmc or ftd, got "asa"`+"\n"+
		file+":3: duplicate name x (first on line 2)\n", errOut.String())
}

// The server lists the first 100 problems of a huge bad file and the total:
// fleetctl says how many more there are.
func TestImportRunSaysHowManyProblemsWereNotListed(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "fleet.csv")
	require.NoError(t, os.WriteFile(file, []byte("name,kind\n"), 0o600))
	client := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":"validation_failed","message":"fleet.csv: 1000 problems (the first 2 listed); nothing was written",
			"details":[{"line":2,"message":"a"},{"line":3,"message":"b"}],"total":1000}}`)
	})
	ios, _, _, errOut := iostreams.Test()
	opts := &ImportOptions{IO: ios, Client: client, Format: func() cmdutil.Format { return cmdutil.FormatTable }, File: file}
	require.ErrorIs(t, importRun(context.Background(), opts), cmdutil.ErrSilent)
	require.Equal(t, "error: fleet.csv: 1000 problems (the first 2 listed); nothing was written\n"+
		file+":2: a\n"+file+":3: b\n"+
		file+": ... and 998 more problems (1000 in all; fix these and run again)\n", errOut.String())
}
