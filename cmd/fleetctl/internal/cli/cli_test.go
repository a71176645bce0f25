package cli

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
)

// runCLI runs fleetctl in-process with only the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = t.TempDir() // never read the developer's own config file
	}
	code = Main(context.Background(), args, Env{IO: ios, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errOut.String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

func TestExitCodesAndMessages(t *testing.T) {
	t.Parallel()
	down := closedPort(t)
	withServer := map[string]string{"FLEETCTL_SERVER": down, "FLEETCTL_TOKEN": "fleetd_x"}
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "fleetctl dev ("},
		{name: "help", args: []string{"--help"}, wantCode: 0, wantStdout: "Exit codes: 0 ok; 1 error; 2 bad usage; 3"},
		{name: "group without subcommand shows help", args: []string{"device"}, wantCode: 0, wantStdout: "Manage the device inventory"},
		{name: "completion", args: []string{"completion", "bash"}, wantCode: 0, wantStdout: "bash completion V2 for fleetctl"},
		{name: "completion bad shell", args: []string{"completion", "tcsh"}, wantCode: 2, wantStderr: `unsupported shell "tcsh"`},
		{name: "unknown command", args: []string{"devcie"}, wantCode: 2, wantStderr: `unknown command "devcie" for "fleetctl"; did you mean device?`},
		{name: "unknown subcommand", args: []string{"device", "lst"}, wantCode: 2, wantStderr: `unknown command "lst" for "fleetctl device"`},
		{name: "unknown flag", args: []string{"device", "list", "--sight", "emea"}, wantCode: 2,
			wantStderr: "unknown flag: --sight\nRun 'fleetctl device list --help' for usage."},
		{name: "bad output format", args: []string{"device", "list", "-o", "xml"}, wantCode: 2, wantStderr: `unknown output format "xml"`},
		{name: "bad output format in env", env: map[string]string{"FLEETCTL_OUTPUT": "csv"}, args: []string{"device", "list"},
			wantCode: 2, wantStderr: `unknown output format "csv"`},
		{name: "bad kind", args: []string{"device", "list", "--kind", "asa"}, wantCode: 2, wantStderr: `--kind "asa": want fmc or ftd`},
		{name: "missing arg", args: []string{"device", "show"}, wantCode: 2, wantStderr: "missing device NAME"},
		{name: "accept needs names or --all-pending", args: []string{"hostkey", "accept"}, wantCode: 2,
			wantStderr: "give device names or --all-pending"},
		{name: "accept site without all-pending", args: []string{"hostkey", "accept", "a", "--site", "emea"}, wantCode: 2,
			wantStderr: "--site only narrows --all-pending"},
		{name: "accept names and all-pending", args: []string{"hostkey", "accept", "a", "--all-pending"}, wantCode: 2,
			wantStderr: "give device names or --all-pending, not both"},
		{name: "audit bad since", args: []string{"audit", "list", "--since", "yesterday"}, wantCode: 2, wantStderr: `--since "yesterday"`},
		{name: "no token", env: map[string]string{"FLEETCTL_SERVER": down}, args: []string{"device", "list"}, wantCode: 1,
			wantStderr: "error: no API token: set --token, FLEETCTL_TOKEN or token: in "},
		{name: "server down", env: withServer, args: []string{"device", "list"}, wantCode: 1,
			wantStderr: "error: cannot reach fleetd at " + down},
		{name: "bad server URL", args: []string{"whoami", "--server", "ftp://x", "--token", "t"}, wantCode: 2,
			wantStderr: "scheme must be http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			require.Equal(t, tt.wantCode, code, "stdout: %s\nstderr: %s", stdout, stderr)
			if tt.wantStdout != "" {
				require.Contains(t, stdout, tt.wantStdout)
			}
			if tt.wantStderr != "" {
				require.Contains(t, stderr, tt.wantStderr)
			}
			if tt.wantCode == 0 {
				require.Empty(t, stderr)
			} else {
				require.True(t, strings.HasPrefix(stderr, "error: "), "errors start with error: %q", stderr)
			}
		})
	}
}
