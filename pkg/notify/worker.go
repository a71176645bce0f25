package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/zap"
)

// DeliverArgs is the River job of one event to one webhook. It names the
// webhook rather than holding its URL, which may carry a secret.
type DeliverArgs struct {
	Webhook string `json:"webhook"`
	Event   Event  `json:"event"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "notify_webhook" }

// DeliverWorker posts events to webhooks.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	svc  *Service
	http *http.Client
}

// Worker returns the delivery worker; client nil means a default client
// with the configured timeout.
func (s *Service) Worker(client *http.Client) *DeliverWorker {
	if client == nil {
		client = &http.Client{Timeout: s.cfg.Timeout}
	}
	return &DeliverWorker{svc: s, http: client}
}

// Timeout implements river.Worker: one attempt is one HTTP request.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.svc.cfg.Timeout + 5*time.Second
}

// NextRetry implements river.Worker: exponential backoff with jitter, so a
// receiver that is down is not hammered and many queued events do not
// return in lockstep.
func (w *DeliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.svc.backoff(job.Attempt))
}

// backoff is the wait after the given (1-based) failed attempt.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	// ±20% jitter.
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// permanentError is an answer that a retry will not change (the webhook is
// gone or refuses the payload).
type permanentError struct {
	status int
	msg    string
}

func (e permanentError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("receiver answered %d %s", e.status, http.StatusText(e.status))
}

// Work implements river.Worker.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	a := job.Args
	log := w.svc.log.With(zap.String("webhook", a.Webhook), zap.String("event", a.Event.Type),
		zap.String("event_id", a.Event.ID), zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))
	wh, ok := w.svc.byName[a.Webhook]
	if !ok {
		// Removed from config since the event was queued.
		log.Warn("webhook no longer configured; dropping notification")
		return river.JobCancel(fmt.Errorf("webhook %q is not configured", a.Webhook))
	}
	err := w.post(ctx, wh, a.Event)
	if err == nil {
		log.Info("notification delivered")
		w.svc.observe(wh.Name, "delivered")
		return nil
	}
	if pe, ok := err.(permanentError); ok {
		log.Error("webhook refused the notification; not retrying", zap.Int("status", pe.status))
		w.svc.observe(wh.Name, "failed")
		return river.JobCancel(err)
	}
	if job.Attempt >= job.MaxAttempts {
		log.Error("notification not delivered; giving up", zap.Error(err))
		w.svc.observe(wh.Name, "failed")
	} else {
		log.Warn("notification not delivered; will retry", zap.Error(err))
		w.svc.observe(wh.Name, "retry")
	}
	return fmt.Errorf("webhook %s: %w", wh.Name, err)
}

func (s *Service) observe(webhook, outcome string) {
	if s.onDelivery != nil {
		s.onDelivery(webhook, outcome)
	}
}

func (w *DeliverWorker) post(ctx context.Context, wh Webhook, ev Event) error {
	body, err := Payload(wh.Format, ev)
	if err != nil {
		return permanentError{msg: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, w.svc.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		// Never wrap: the error would quote the URL.
		return permanentError{msg: "invalid webhook URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fleetd-notify")
	req.Header.Set("X-Fleetd-Event", ev.Type)
	req.Header.Set("X-Fleetd-Event-Id", ev.ID)
	resp, err := w.http.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500:
		return fmt.Errorf("receiver answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	default:
		return permanentError{status: resp.StatusCode}
	}
}

// redactURLError drops the URL (which may hold a token) from a transport
// error, keeping what went wrong.
func redactURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
