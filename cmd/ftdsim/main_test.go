package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		err  string
	}{
		{args: []string{"--count", "3", "--sites", "emea, amer,,apjc"}},
		{args: []string{"--control", "10.0.0.1:80"}, err: "loopback"},
		{args: []string{"extra"}, err: `unexpected argument "extra"`},
		{args: []string{"--count", "x"}, err: "invalid value"},
	}
	for _, c := range cases {
		o, err := parseFlags(c.args, io.Discard)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.args)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, []string{"emea", "amer", "apjc"}, o.cfg.Sites)
		require.Equal(t, 22, o.cfg.Port)
	}
}

func TestServeWritesOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o, err := parseFlags([]string{"--count", "6", "--listen", "127.78.0.1", "--port", "0", "--sites", "emea,amer,apjc",
		"--faults", "eventhandler-disconnected=50%,stall-shell=17%,flood=17%", "--time-scale", "0.001",
		"--inventory-out", filepath.Join(dir, "fleet.csv"), "--fingerprints-out", filepath.Join(dir, "fp.txt"),
		"--known-hosts-out", filepath.Join(dir, "known_hosts")}, io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, zap.NewNop(), &out) }()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "known_hosts"))
		return err == nil && strings.Count(string(b), "\n") == 6
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "ftdsim: 6 devices 127.78.0.1:")
	require.Contains(t, out.String(), "eventhandler-disconnected=3")
	// The hostile behaviours are selected by the same mix.
	require.Contains(t, out.String(), "stall-shell=1")
	require.Contains(t, out.String(), "flood=1")
	f, err := os.Open(filepath.Join(dir, "fleet.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 7)
	require.Equal(t, "ftd-apjc-00003", rows[3][0])
	fp, err := os.ReadFile(filepath.Join(dir, "fp.txt"))
	require.NoError(t, err)
	require.Regexp(t, `^ftd-emea-00001 SHA256:\S{43}\n`, string(fp))
}
