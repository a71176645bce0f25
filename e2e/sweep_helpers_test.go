package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/sim"
)

// hookReceiver is a local webhook endpoint. It answers 503 to the first
// failFirst requests (to prove retries), then 204, and keeps the bodies.
type hookReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	failFirst int
	calls     int
	bodies    [][]byte
}

func newHookReceiver(t *testing.T, failFirst int) *hookReceiver {
	h := &hookReceiver{failFirst: failFirst}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls++
		if h.calls <= h.failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.bodies = append(h.bodies, b)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) delivered() ([][]byte, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...), h.calls
}

// sweepYAML is the config of a nightly sweep of every device that opens
// remediation requests, with a JSON and a Slack webhook.
func sweepYAML(jsonHook, slackHook string) string {
	return fmt.Sprintf(`schedules:
  - name: nightly
    cron: "0 3 * * *"
    timezone: Europe/Amsterdam
    selector: {all: true}
    create_remediation_requests: true
notifications:
  backoff: 200ms
  max_backoff: 2s
  webhooks:
    - {name: noc, url: %q, format: json}
    - {name: chat, url: %q, format: slack, events: [sweep.completed]}
metrics:
  refresh_interval: 1s
`, jsonHook, slackHook)
}

// pretendMissedNights makes the schedule look as if it had existed (and
// run) days ago, as after an outage: its latest slot is then "missed".
func pretendMissedNights(t *testing.T, dbURL string) {
	t.Helper()
	db := connectDB(t, dbURL)
	tag, err := db.Exec(context.Background(), `UPDATE sweep_schedules SET active_since = now() - interval '3 days',
		last_slot = now() - interval '3 days' WHERE name = 'nightly'`)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

// waitSweepRun waits for the schedule's run to exist and returns its id.
func waitSweepRun(t *testing.T, dbURL string, timeout time.Duration) uuid.UUID {
	t.Helper()
	db := connectDB(t, dbURL)
	deadline := time.Now().Add(timeout)
	for {
		var id uuid.UUID
		err := db.QueryRow(context.Background(), `SELECT id FROM runs WHERE kind = 'sweep' AND schedule = 'nightly'`).Scan(&id)
		if err == nil {
			return id
		}
		require.ErrorIs(t, err, pgx.ErrNoRows)
		if time.Now().After(deadline) {
			t.Fatalf("no sweep run after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exactlyOnce checks R1's promise on the database: every device of the run
// has one row, done, and the run is completed.
func exactlyOnce(t *testing.T, dbURL string, runID uuid.UUID, devices int) {
	t.Helper()
	db := connectDB(t, dbURL)
	var rows, done, distinct int
	var status string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE rd.state = 'done'),
		count(DISTINCT rd.device_id), min(r.status) FROM run_devices rd JOIN runs r ON r.id = rd.run_id
		WHERE rd.run_id = $1`, runID).Scan(&rows, &done, &distinct, &status))
	require.Equal(t, "completed", status)
	require.Equal(t, devices, rows)
	require.Equal(t, devices, done)
	require.Equal(t, devices, distinct)
	var counted int
	require.NoError(t, db.QueryRow(context.Background(), `SELECT healthy + unhealthy + errors FROM runs WHERE id = $1`,
		runID).Scan(&counted))
	require.Equal(t, devices, counted, "run counters count each device once")
}

// workedBy returns the River client ids that worked the run's device jobs.
func workedBy(t *testing.T, dbURL string, runID uuid.UUID) []string {
	t.Helper()
	db := connectDB(t, dbURL)
	rows, err := db.Query(context.Background(), `SELECT DISTINCT unnest(attempted_by) FROM river_job
		WHERE kind = 'diagnose_device' AND args->>'run_id' = $1 ORDER BY 1`, runID.String())
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return ids
}

// leaderPort returns the API port in the River leader's client id
// (host-127.0.0.1_PORT: fleetd's default jobs.client_id), "" if no leader
// is elected.
func leaderPort(t *testing.T, dbURL string) string {
	t.Helper()
	db := connectDB(t, dbURL)
	var id string
	err := db.QueryRow(context.Background(), `SELECT leader_id FROM river_leader`).Scan(&id)
	if err == pgx.ErrNoRows {
		return ""
	}
	require.NoError(t, err)
	return id[strings.LastIndexAny(id, ":_")+1:]
}

func (s *server) port() string { return s.url[strings.LastIndex(s.url, ":")+1:] }

// sweepEvents decodes the JSON webhook's sweep.completed events.
func sweepEvents(t *testing.T, bodies [][]byte) []notify.Event {
	t.Helper()
	var out []notify.Event
	for _, b := range bodies {
		var ev notify.Event
		require.NoError(t, json.Unmarshal(b, &ev), string(b))
		if ev.Type == notify.EventSweepCompleted {
			out = append(out, ev)
		}
	}
	return out
}

// scrape GETs /metrics with a token.
func (s *server) scrape(t *testing.T, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+"/metrics", nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// faulty counts the fleet's devices carrying fault f.
func faulty(f *fleet, fault sim.Fault) []string {
	var out []string
	for _, d := range f.Devices() {
		for _, x := range d.Faults() {
			if x == fault {
				out = append(out, d.Name())
			}
		}
	}
	return out
}
