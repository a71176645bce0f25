package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/notify"
)

// receiver is a local webhook endpoint that answers with the statuses it is
// given, in turn (the last one repeats), and records what it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	hang     time.Duration
	got      []received
}

type received struct {
	at      time.Time
	body    []byte
	headers http.Header
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, received{at: time.Now(), body: body, headers: req.Header.Clone()})
		status := r.statuses[min(n, len(r.statuses)-1)]
		hang := r.hang
		r.mu.Unlock()
		if hang > 0 {
			select {
			case <-time.After(hang):
			case <-req.Context().Done():
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// bundle is a notify.Service working on a real River client.
type bundle struct {
	pool   *pgxpool.Pool
	svc    *notify.Service
	client *river.Client[pgx.Tx]
	seen   sync.Map // webhook/outcome -> *atomic.Int32
}

func setup(t *testing.T, cfg notify.Config) *bundle {
	t.Helper()
	pool := testdb.New(t)
	log := zaptest.NewLogger(t)
	// The service inserts through the client that works its worker: it is
	// bound once the client exists, as internal/app does.
	var queue jobs.Inserter
	b := &bundle{pool: pool}
	svc, err := notify.New(cfg, notify.Deps{Queue: &queue, Observe: func(webhook, outcome string) {
		v, _ := b.seen.LoadOrStore(webhook+"/"+outcome, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
	}}, log)
	require.NoError(t, err)
	b.svc = svc
	workers := river.NewWorkers()
	river.AddWorker(workers, svc.Worker(nil))
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
		Workers:           workers,
		FetchPollInterval: 20 * time.Millisecond,
		FetchCooldown:     10 * time.Millisecond,
		TestOnly:          true,
	})
	require.NoError(t, err)
	queue.Bind(client)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer c2()
		_ = client.Stop(sctx)
	})
	b.client = client
	return b
}

func (b *bundle) count(webhook, outcome string) int {
	v, ok := b.seen.Load(webhook + "/" + outcome)
	if !ok {
		return 0
	}
	return int(v.(*atomic.Int32).Load())
}

func testEvent(t *testing.T) notify.Event {
	ev, err := notify.NewEvent(notify.EventSweepCompleted, "sweep.completed/r1", "Sweep nightly completed",
		[]string{"3 newly unhealthy: `ftd-a`, `ftd-b`, `ftd-c`", "a <b> & c"}, map[string]int{"devices": 10})
	require.NoError(t, err)
	return ev
}

func TestRetriesWithBackoffUntilDelivered(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 503, 500, 200)
	b := setup(t, notify.Config{
		Webhooks:    []notify.Webhook{{Name: "noc", URL: rcv.URL + "/hook?token=s3cret", Format: notify.FormatJSON}},
		MaxAttempts: 5, Backoff: 150 * time.Millisecond, MaxBackoff: 2 * time.Second,
	})
	ev := testEvent(t)
	require.NoError(t, b.svc.Notify(context.Background(), ev))

	require.Eventually(t, func() bool { return b.count("noc", "delivered") == 1 }, 15*time.Second, 20*time.Millisecond)
	got := rcv.requests()
	require.Len(t, got, 3, "two failures, then the delivery")
	// Backoff doubles: ~150ms then ~300ms (±20% jitter, plus polling).
	gap1, gap2 := got[1].at.Sub(got[0].at), got[2].at.Sub(got[1].at)
	require.GreaterOrEqual(t, gap1, 120*time.Millisecond, "first retry waits the base backoff")
	// The lower bounds are what backoff promises; an upper bound or gap2 >
	// gap1 would time River's job polling on a loaded machine, not fleetd.
	require.GreaterOrEqual(t, gap2, 240*time.Millisecond, "second retry waits twice as long")
	require.Equal(t, 2, b.count("noc", "retry"))

	var decoded notify.Event
	require.NoError(t, json.Unmarshal(got[2].body, &decoded))
	require.Equal(t, ev.ID, decoded.ID)
	require.Equal(t, notify.EventSweepCompleted, decoded.Type)
	require.JSONEq(t, `{"devices":10}`, string(decoded.Data))
	require.Equal(t, ev.ID, got[2].headers.Get("X-Fleetd-Event-Id"))
	require.Equal(t, "application/json", got[2].headers.Get("Content-Type"))

	// The job holds the webhook's name, never its URL (which may carry a token).
	var args string
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT args::text FROM river_job WHERE kind = 'notify_webhook'`).Scan(&args))
	require.Contains(t, args, `"noc"`)
	require.NotContains(t, args, "s3cret")
}

func TestFailingWebhookDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	broken := newReceiver(t, 500)
	broken.hang = 3 * time.Second // slower than the delivery timeout
	ok := newReceiver(t, 204)
	b := setup(t, notify.Config{
		Webhooks: []notify.Webhook{
			{Name: "broken", URL: broken.URL},
			{Name: "chat", URL: ok.URL, Format: notify.FormatSlack},
		},
		MaxAttempts: 3, Timeout: 300 * time.Millisecond, Backoff: 50 * time.Millisecond,
	})
	start := time.Now()
	for range 5 {
		require.NoError(t, b.svc.Notify(context.Background(), testEvent(t)))
	}
	require.Less(t, time.Since(start), time.Second, "Notify only queues")

	require.Eventually(t, func() bool { return len(ok.requests()) == 5 }, 10*time.Second, 20*time.Millisecond)
	require.Less(t, time.Since(start), 3*time.Second, "the healthy webhook is not held up by the broken one")
	// The broken one is tried MaxAttempts times per event, then given up.
	require.Eventually(t, func() bool { return b.count("broken", "failed") == 5 }, 20*time.Second, 50*time.Millisecond)
	require.Len(t, broken.requests(), 15)
	// River records job states asynchronously.
	require.Eventually(t, func() bool {
		var discarded int
		require.NoError(t, b.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'notify_webhook' AND state = 'discarded'`).Scan(&discarded))
		return discarded == 5
	}, 5*time.Second, 20*time.Millisecond)

	var slack map[string]string
	require.NoError(t, json.Unmarshal(ok.requests()[0].body, &slack))
	require.True(t, strings.HasPrefix(slack["text"], "*Sweep nightly completed*\n"), slack["text"])
	require.Contains(t, slack["text"], "a &lt;b&gt; &amp; c", "Slack's reserved characters are escaped")
}

func TestPermanentRefusalIsNotRetried(t *testing.T) {
	t.Parallel()
	gone := newReceiver(t, 404)
	b := setup(t, notify.Config{
		Webhooks: []notify.Webhook{{Name: "gone", URL: gone.URL}}, MaxAttempts: 5, Backoff: 20 * time.Millisecond,
	})
	require.NoError(t, b.svc.Notify(context.Background(), testEvent(t)))
	require.Eventually(t, func() bool { return b.count("gone", "failed") == 1 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, gone.requests(), 1)
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, b.pool.QueryRow(context.Background(),
			`SELECT state FROM river_job WHERE kind = 'notify_webhook'`).Scan(&state))
		return state == "cancelled"
	}, 5*time.Second, 20*time.Millisecond)
}

func TestEventsFilterAndTransactions(t *testing.T) {
	t.Parallel()
	approvals := newReceiver(t, 200)
	everything := newReceiver(t, 200)
	b := setup(t, notify.Config{Webhooks: []notify.Webhook{
		{Name: "approvals", URL: approvals.URL, Format: notify.FormatWebex, Events: []string{notify.EventApprovalPending}},
		{Name: "all", URL: everything.URL},
	}, Backoff: 20 * time.Millisecond})
	ctx := context.Background()

	// A rolled-back transaction sends nothing.
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, b.svc.NotifyTx(ctx, tx, testEvent(t)))
	require.NoError(t, tx.Rollback(ctx))

	pending := notify.ApprovalPending(notify.ApprovalInfo{RequestID: "req-1", Action: "restart-connector",
		Devices: []string{"ftd-1", "ftd-2"}, RequestedBy: "sweep:nightly", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	tx, err = b.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, b.svc.NotifyTx(ctx, tx, pending))
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, b.svc.Notify(ctx, notify.RemediationFinished(notify.RemediationInfo{RequestID: "req-1",
		Action: "restart-connector", State: "succeeded", Succeeded: 2})))

	require.Eventually(t, func() bool { return len(everything.requests()) == 2 && len(approvals.requests()) == 1 },
		10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Len(t, approvals.requests(), 1, "only the subscribed event")
	var webex map[string]string
	require.NoError(t, json.Unmarshal(approvals.requests()[0].body, &webex))
	require.Contains(t, webex["markdown"], "**Remediation req-1 waits for approval (2 device(s))**")
	require.Contains(t, webex["markdown"], "fleetctl approve req-1")
	var types []string
	for _, r := range everything.requests() {
		var ev notify.Event
		require.NoError(t, json.Unmarshal(r.body, &ev))
		types = append(types, ev.Type)
	}
	require.ElementsMatch(t, []string{notify.EventApprovalPending, notify.EventRemediationFinished}, types)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := notify.New(notify.Config{Webhooks: []notify.Webhook{
		{Name: "a", URL: "http://127.0.0.1/x", Format: "teams"},
		{Name: "a", URL: "http://127.0.0.1/y", Events: []string{"sweep.done"}},
	}}, notify.Deps{}, zaptest.NewLogger(t))
	require.Error(t, err)
	require.Contains(t, err.Error(), `unknown format "teams"`)
	require.Contains(t, err.Error(), `used twice`)
	require.Contains(t, err.Error(), `unknown event "sweep.done"`)
}

// TestLinksPointAtTheConsole: with a public URL, an approval's event links
// to the request's console page (a JSON field and a chat line); without
// one, events carry no link.
func TestLinksPointAtTheConsole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	withURL := newReceiver(t, 200)
	chat := newReceiver(t, 200)
	b := setup(t, notify.Config{Webhooks: []notify.Webhook{{Name: "json", URL: withURL.URL},
		{Name: "chat", URL: chat.URL, Format: notify.FormatSlack}},
		PublicURL: "https://fleetd.example.net/", Backoff: 20 * time.Millisecond})
	pending := notify.ApprovalPending(notify.ApprovalInfo{RequestID: "4f9c", Action: "restart-connector",
		Devices: []string{"ftd-1"}, RequestedBy: "ops", ExpiresAt: time.Now()})
	require.NoError(t, b.svc.Notify(ctx, pending))
	require.Eventually(t, func() bool { return len(withURL.requests()) == 1 && len(chat.requests()) == 1 },
		10*time.Second, 20*time.Millisecond)
	var ev notify.Event
	require.NoError(t, json.Unmarshal(withURL.requests()[0].body, &ev))
	require.Equal(t, "https://fleetd.example.net/ui/requests/4f9c", ev.Link)
	var slack map[string]string
	require.NoError(t, json.Unmarshal(chat.requests()[0].body, &slack))
	require.Contains(t, slack["text"], "open: https://fleetd.example.net/ui/requests/4f9c")

	plain := newReceiver(t, 200)
	b = setup(t, notify.Config{Webhooks: []notify.Webhook{{Name: "json", URL: plain.URL}}, Backoff: 20 * time.Millisecond})
	require.NoError(t, b.svc.Notify(ctx, pending))
	require.Eventually(t, func() bool { return len(plain.requests()) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.NotContains(t, string(plain.requests()[0].body), `"link"`)
	require.NotContains(t, string(plain.requests()[0].body), "/ui/")
}
