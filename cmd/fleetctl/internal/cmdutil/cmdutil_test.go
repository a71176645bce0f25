package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain error", errors.New("boom"), ExitError},
		{"silent", ErrSilent, ExitError},
		{"usage", FlagErrorf("bad flag"), ExitUsage},
		{"wrapped usage", fmt.Errorf("ctx: %w", FlagErrorf("bad")), ExitUsage},
		{"unhealthy", ErrUnhealthy("3 devices unhealthy"), ExitUnhealthy},
		{"wrapped unhealthy", fmt.Errorf("x: %w", ErrUnhealthy("y")), ExitUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ExitCode(tt.err))
		})
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{"table": FormatTable, "JSON": FormatJSON, " yaml ": FormatYAML} {
		got, err := ParseFormat(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	_, err := ParseFormat("xml")
	require.ErrorContains(t, err, `unknown output format "xml"`)
}

func TestTableTTYAndPiped(t *testing.T) {
	t.Parallel()
	build := func(tty bool) string {
		ios, _, out, _ := iostreams.Test()
		ios.SetStdoutTTY(tty)
		tb := NewTable(ios)
		tb.Header("name", "site")
		tb.Row("ftd-ams-01", "emea")
		tb.Row("fmc-nyc\t1", "")
		require.NoError(t, tb.Render())
		return out.String()
	}
	require.Equal(t, "NAME        SITE\nftd-ams-01  emea\nfmc-nyc 1   -\n", build(true))
	// Piped: no header, tabs between fields, tabs inside a value flattened.
	require.Equal(t, "ftd-ams-01\temea\nfmc-nyc 1\t\n", build(false))
}

func TestWriteYAMLKeepsJSONNamesAndOrder(t *testing.T) {
	t.Parallel()
	type dev struct {
		Name      string            `json:"name"`
		ManagedBy string            `json:"managed_by"`
		Tags      map[string]string `json:"tags"`
		Port      string            `json:"port"`
	}
	ios, _, out, _ := iostreams.Test()
	require.NoError(t, WriteYAML(ios.Out, []dev{{Name: "ftd-1", ManagedBy: "", Tags: map[string]string{"role": "edge"}, Port: "22"}}))
	require.Equal(t, "- name: ftd-1\n  managed_by: \"\"\n  tags:\n    role: edge\n  port: \"22\"\n", out.String())
}

func TestParseTags(t *testing.T) {
	t.Parallel()
	got, err := ParseTags([]string{"role=edge", "env=", "k=a=b"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"role": "edge", "env": "", "k": "a=b"}, got)
	for _, bad := range [][]string{{"noequals"}, {"=v"}, {"a=1", "a=2"}} {
		_, err := ParseTags(bad)
		var fe *FlagError
		require.ErrorAs(t, err, &fe, "%q", bad)
	}
}

func TestSettingsPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("server: http://file:1\ntoken: file-token\noutput: yaml\n"), 0o600))

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantServer string
		wantToken  string
		wantOutput Format
	}{
		{name: "defaults without file", env: map[string]string{"HOME": dir + "/nohome"},
			wantServer: DefaultServer, wantOutput: FormatTable},
		{name: "file", env: map[string]string{"FLEETCTL_CONFIG": cfgPath},
			wantServer: "http://file:1", wantToken: "file-token", wantOutput: FormatYAML},
		{name: "env beats file", env: map[string]string{"FLEETCTL_CONFIG": cfgPath, "FLEETCTL_SERVER": "http://env:2",
			"FLEETCTL_TOKEN": "env-token", "FLEETCTL_OUTPUT": "json"},
			wantServer: "http://env:2", wantToken: "env-token", wantOutput: FormatJSON},
		{name: "flags beat env", env: map[string]string{"FLEETCTL_CONFIG": cfgPath, "FLEETCTL_SERVER": "http://env:2",
			"FLEETCTL_TOKEN": "env-token"}, args: []string{"--server", "http://flag:3", "--token", "flag-token", "-o", "table"},
			wantServer: "http://flag:3", wantToken: "flag-token", wantOutput: FormatTable},
		{name: "XDG path", env: map[string]string{"XDG_CONFIG_HOME": dir + "/xdg"},
			wantServer: DefaultServer, wantOutput: FormatTable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			f := &Factory{IOStreams: ios, Getenv: func(k string) string { return tt.env[k] }}
			fs := newFlagSet()
			f.Globals.BindFlags(fs)
			require.NoError(t, fs.Parse(tt.args))
			s, err := f.Resolve()
			require.NoError(t, err)
			require.Equal(t, tt.wantServer, s.Server)
			require.Equal(t, tt.wantToken, s.Token)
			require.Equal(t, tt.wantOutput, s.Output)
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), mode))
		return p
	}
	_, err := LoadConfigFile(write("typo.yaml", "sever: http://x\n", 0o600), true, nil)
	require.ErrorContains(t, err, "field sever not found")

	_, err = LoadConfigFile(write("badout.yaml", "output: xml\n", 0o600), true, nil)
	require.ErrorContains(t, err, `output: unknown output format "xml"`)

	_, err = LoadConfigFile(filepath.Join(dir, "missing.yaml"), true, nil)
	require.ErrorContains(t, err, "no such file")
	cf, err := LoadConfigFile(filepath.Join(dir, "missing.yaml"), false, nil)
	require.NoError(t, err)
	require.Equal(t, ConfigFile{}, cf)

	ios, _, _, errOut := iostreams.Test()
	_, err = LoadConfigFile(write("open.yaml", "token: secret\n", 0o644), true, ios.ErrOut)
	require.NoError(t, err)
	require.Contains(t, errOut.String(), "readable by others")
	require.NotContains(t, errOut.String(), "secret")
}

func TestAPIClientNeedsToken(t *testing.T) {
	t.Parallel()
	ios, _, _, errOut := iostreams.Test()
	f := &Factory{IOStreams: ios, Getenv: func(k string) string {
		return map[string]string{"FLEETCTL_SERVER": "http://10.0.0.1:8080"}[k]
	}}
	_, err := f.APIClient()
	require.ErrorContains(t, err, "no API token")

	f = &Factory{IOStreams: ios, Getenv: func(k string) string {
		return map[string]string{"FLEETCTL_SERVER": "http://10.0.0.1:8080", "FLEETCTL_TOKEN": "t"}[k]
	}}
	_, err = f.APIClient()
	require.NoError(t, err)
	require.Contains(t, errOut.String(), "plain HTTP to 10.0.0.1:8080")
}
