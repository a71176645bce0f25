package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/queues"
)

// Webhook is one configured receiver. URL is resolved by the caller (from
// config's url or url_env) and may hold a secret.
type Webhook struct {
	Name   string
	URL    string
	Format string   // json | slack | webex
	Events []string // empty: every event
}

func (w Webhook) wants(event string) bool {
	return len(w.Events) == 0 || slices.Contains(w.Events, event)
}

// Config tunes delivery.
type Config struct {
	Webhooks []Webhook
	// MaxAttempts bounds the deliveries of one event to one webhook.
	MaxAttempts int
	// Timeout bounds one HTTP request.
	Timeout time.Duration
	// Backoff is the wait before the second attempt; it doubles after each
	// failure up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// PublicURL is the base of the web console's links (ui.public_url,
	// e.g. https://fleetd.example.net); empty: events carry no link.
	PublicURL string
}

// Defaults for Config's zero values.
const (
	DefaultMaxAttempts = 8
	DefaultTimeout     = 10 * time.Second
	DefaultBackoff     = 10 * time.Second
	DefaultMaxBackoff  = 30 * time.Minute
)

func (c *Config) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.Backoff)
	}
}

// Validate checks the webhooks (names unique, formats and events known).
func (c Config) Validate() error {
	seen := map[string]bool{}
	var errs []error
	for _, w := range c.Webhooks {
		if w.Name == "" || seen[w.Name] {
			errs = append(errs, fmt.Errorf("webhook %q: name missing or used twice", w.Name))
		}
		seen[w.Name] = true
		if w.URL == "" {
			errs = append(errs, fmt.Errorf("webhook %q: no URL", w.Name))
		}
		if w.Format != "" && !slices.Contains(Formats(), w.Format) {
			errs = append(errs, fmt.Errorf("webhook %q: unknown format %q", w.Name, w.Format))
		}
		for _, e := range w.Events {
			if !slices.Contains(EventTypes(), e) {
				errs = append(errs, fmt.Errorf("webhook %q: unknown event %q", w.Name, e))
			}
		}
	}
	return errors.Join(errs...)
}

// Inserter is the part of a River client Notify needs.
type Inserter interface {
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Notifier is what other services call to send an event. *Service
// implements it; callers define the subset they use.
type Notifier interface {
	// Notify queues the event for every webhook that wants it.
	Notify(ctx context.Context, ev Event) error
	// NotifyTx does the same inside tx: the event is sent if and only if
	// tx commits.
	NotifyTx(ctx context.Context, tx pgx.Tx, ev Event) error
}

// Deps are a Service's collaborators.
type Deps struct {
	// Queue inserts the delivery jobs (the River client). Without it,
	// Notify fails for an event that a webhook wants.
	Queue Inserter
	// Observe, when set, learns each delivery's outcome (metrics):
	// "delivered", "retry" or "failed".
	Observe func(webhook, outcome string)
}

// Service queues and delivers notifications.
type Service struct {
	cfg        Config
	byName     map[string]Webhook
	queue      Inserter
	onDelivery func(webhook, outcome string)
	log        *zap.Logger
}

var _ Notifier = (*Service)(nil)

// New returns a Service; register Worker() with the River client's
// workers.
func New(cfg Config, deps Deps, log *zap.Logger) (*Service, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	s := &Service{cfg: cfg, byName: map[string]Webhook{}, queue: deps.Queue, onDelivery: deps.Observe, log: log}
	for _, w := range cfg.Webhooks {
		s.byName[w.Name] = w
	}
	return s, nil
}

// Notify implements Notifier.
func (s *Service) Notify(ctx context.Context, ev Event) error {
	params := s.params(ev)
	if len(params) == 0 {
		return nil
	}
	if s.queue == nil {
		return errors.New("notify: no job queue")
	}
	if _, err := s.queue.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("queue %s notification: %w", ev.Type, err)
	}
	return nil
}

// NotifyTx implements Notifier.
func (s *Service) NotifyTx(ctx context.Context, tx pgx.Tx, ev Event) error {
	params := s.params(ev)
	if len(params) == 0 {
		return nil
	}
	if s.queue == nil {
		return errors.New("notify: no job queue")
	}
	if _, err := s.queue.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("queue %s notification: %w", ev.Type, err)
	}
	return nil
}

func (s *Service) params(ev Event) []river.InsertManyParams {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	ev.Link = ""
	if s.cfg.PublicURL != "" && ev.Path != "" {
		ev.Link = strings.TrimRight(s.cfg.PublicURL, "/") + ev.Path
		ev.Lines = append(slices.Clip(ev.Lines), "open: "+ev.Link)
	}
	var out []river.InsertManyParams
	for _, w := range s.cfg.Webhooks {
		if !w.wants(ev.Type) {
			continue
		}
		out = append(out, river.InsertManyParams{
			Args:       DeliverArgs{Webhook: w.Name, Event: ev},
			InsertOpts: &river.InsertOpts{Queue: queues.Default, MaxAttempts: s.cfg.MaxAttempts},
		})
	}
	return out
}
