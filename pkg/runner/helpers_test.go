package runner

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// testConfig is small and fast: faults must show within a test's budget.
func testConfig() Config {
	return Config{
		MaxConcurrent:    16,
		StartRate:        -1,
		ConnectTimeout:   2 * time.Second,
		HandshakeTimeout: 2 * time.Second,
		CommandTimeout:   3 * time.Second,
		SessionTimeout:   10 * time.Second,
		Keepalive:        time.Second,
		ExitTimeout:      time.Second,
		Retry:            RetryPolicy{Attempts: 3, Base: 10 * time.Millisecond, Max: 40 * time.Millisecond},
	}
}

func newTestRunner(t testing.TB, cfg Config, store HostKeyStore) *Runner {
	t.Helper()
	if store == nil {
		store = NewMemoryHostKeyStore()
	}
	r, err := New(cfg, store, zaptest.NewLogger(t))
	require.NoError(t, err)
	return r
}

func labCred() Credential {
	return Credential{Name: "lab", Username: "admin", Password: "Admin123"}
}

// targetFor returns a target for a fake device whose key is pinned in store.
func targetFor(d *fakeDevice, store *MemoryHostKeyStore, name string) Target {
	store.Pin(name, d.cfg.hostKey.PublicKey())
	return Target{Device: name, Site: "emea", Kind: "ftd", Addr: d.addr, Credential: labCred()}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	t.Cleanup(cancel)
	return ctx
}
