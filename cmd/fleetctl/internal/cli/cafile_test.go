package cli

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCAFile: fleetd under a private CA is reachable with --ca-file,
// FLEETCTL_CA_FILE or ca_file in the config file, and refused without it
// (fleetctl never skips verification). A file without a certificate is a
// usage error naming the file.
func TestCAFile(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token_id":"t1","name":"ops1","role":"operator"}`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("ca_file: "+caPath+"\n"), 0o600))
	empty := filepath.Join(dir, "empty.pem")
	require.NoError(t, os.WriteFile(empty, []byte("not a certificate\n"), 0o600))

	base := func(extra map[string]string) map[string]string {
		env := map[string]string{"FLEETCTL_SERVER": srv.URL, "FLEETCTL_TOKEN": "fleetd_x"}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	code, out, errOut := runCLI(t, base(nil), "whoami", "--ca-file", caPath)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ops1")

	code, out, errOut = runCLI(t, base(map[string]string{"FLEETCTL_CA_FILE": caPath}), "whoami")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ops1")

	code, out, errOut = runCLI(t, base(map[string]string{"FLEETCTL_CONFIG": cfgPath}), "whoami")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ops1")

	code, _, errOut = runCLI(t, base(nil), "whoami")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "certificate")

	code, _, errOut = runCLI(t, base(nil), "whoami", "--ca-file", empty)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, empty+": no PEM certificate")

	code, _, errOut = runCLI(t, base(nil), "whoami", "--ca-file", filepath.Join(dir, "missing.pem"))
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "missing.pem")
}
