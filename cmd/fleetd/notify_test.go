package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/notify"
)

// TestServeNotifiesRemediation: fleetd serve wires the webhook notifier
// into remediation: a new request reaches the webhook as approval.pending,
// its end as remediation.finished.
func TestServeNotifiesRemediation(t *testing.T) {
	t.Parallel()
	events := make(chan notify.Event, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		events <- ev
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	pwFile := filepath.Join(t.TempDir(), "lab.password")
	require.NoError(t, os.WriteFile(pwFile, []byte("Admin123\n"), 0o600))
	dbURL := testdb.URL(t)
	cfgFile := writeConfig(t, fmt.Sprintf(`database: {url: %q}
api: {listen: "127.0.0.1:0"}
sites:
  emea: {region: eu, timezone: Europe/Amsterdam}
credentials:
  lab: {username: admin, password_file: %q}
runner:
  connect_timeout: 1s
  retry: {attempts: 1}
notifications:
  backoff: 100ms
  webhooks:
    - {name: noc, url: %q, format: json, events: [approval.pending, remediation.finished]}
`, dbURL, pwFile, hook.URL+"/fleetd"))
	cfg, err := config.Load(cfgFile)
	require.NoError(t, err)
	base := startServe(t, cfg, zap.NewNop())

	client := func(name, role string) *api.Client {
		code, stdout, stderr := runFleetd(t, "token", "create", "--config", cfgFile, "--name", name, "--role", role)
		require.Equal(t, 0, code, stderr)
		c, err := api.NewClient(base, strings.TrimSpace(stdout))
		require.NoError(t, err)
		return c
	}
	ops, lead := client("ops", "operator"), client("lead", "approver")
	ctx := context.Background()
	// Nothing listens on port 1: the pre-check finds the device unreachable.
	_, err = ops.AddDevice(ctx, api.NewDevice{Name: "ftd-ams-01", Kind: "ftd", Site: "emea",
		Address: "127.0.0.1:1", Credential: "lab"})
	require.NoError(t, err)
	// A request is bound to the device's pinned key (a first diagnose pins it).
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, `INSERT INTO host_keys (device_id, key_type, public_key, fingerprint, state, pinned_by, pinned_at)
		SELECT id, 'ssh-ed25519', '\x00', 'SHA256:test-key', 'pinned', 'test', now() FROM devices WHERE name = 'ftd-ams-01'`)
	require.NoError(t, err)

	next := func(typ string) notify.Event {
		t.Helper()
		select {
		case ev := <-events:
			require.Equal(t, typ, ev.Type)
			return ev
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event reached the webhook", typ)
			return notify.Event{}
		}
	}
	req, err := ops.CreateRemediation(ctx, api.CreateRemediationRequest{Action: api.ActionRestartConnector,
		Devices: []string{"ftd-ams-01"}, Reason: "INC-9"})
	require.NoError(t, err)
	ev := next(notify.EventApprovalPending)
	require.Equal(t, "approval.pending/"+req.ID.String(), ev.ID)
	var pending notify.ApprovalInfo
	require.NoError(t, json.Unmarshal(ev.Data, &pending))
	require.Equal(t, []string{"ftd-ams-01"}, pending.Devices)
	require.Equal(t, "ops", pending.RequestedBy)

	_, err = lead.ApproveRemediation(ctx, req.ID, api.ApproveRequest{Comment: "go"})
	require.NoError(t, err)
	ev = next(notify.EventRemediationFinished)
	require.Equal(t, "remediation.finished/"+req.ID.String(), ev.ID)
	var fin notify.RemediationInfo
	require.NoError(t, json.Unmarshal(ev.Data, &fin))
	require.Equal(t, "failed", fin.State)
	require.Equal(t, []string{"ftd-ams-01"}, fin.FailedOn)
	require.Equal(t, "lead", fin.ApprovedBy)
	select {
	case ev := <-events:
		t.Fatalf("unexpected second event %s", ev.ID)
	case <-time.After(300 * time.Millisecond):
	}
}
