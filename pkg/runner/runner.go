package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Runner opens bounded, classified SSH sessions to devices. One Runner is
// shared by every caller of a fleetd process so that its limits hold across
// FanOut and Session calls alike.
type Runner struct {
	cfg      Config
	hostKeys HostKeyStore
	log      *zap.Logger
	global   *semaphore.Weighted
	sites    map[string]*semaphore.Weighted // fixed at New: PerSite is config
	limiter  *rate.Limiter
}

// New validates cfg (zero fields take defaults) and returns a Runner.
func New(cfg Config, hostKeys HostKeyStore, log *zap.Logger) (*Runner, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if hostKeys == nil {
		return nil, errors.New("runner: a HostKeyStore is required: the runner never talks to a device whose key it cannot check")
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &Runner{
		cfg:      cfg,
		hostKeys: hostKeys,
		log:      log,
		global:   semaphore.NewWeighted(int64(cfg.MaxConcurrent)),
		sites:    make(map[string]*semaphore.Weighted, len(cfg.PerSite)),
	}
	for site, n := range cfg.PerSite {
		r.sites[site] = semaphore.NewWeighted(int64(n))
	}
	if cfg.StartRate <= 0 {
		r.limiter = rate.NewLimiter(rate.Inf, 0)
	} else {
		r.limiter = rate.NewLimiter(rate.Limit(cfg.StartRate), cfg.StartBurst)
	}
	return r, nil
}

// Config returns the effective (defaulted) configuration.
func (r *Runner) Config() Config { return r.cfg }

// Session runs fn on one device, under the same global and per-site limits
// and start rate as FanOut (River workers call it, one job per device). fn's
// error, or the connection error, is returned classified in the Result;
// Session itself never fails otherwise.
func (r *Runner) Session(ctx context.Context, t Target, fn func(ctx context.Context, s *Session) error) Result {
	queued := time.Now()
	res := Result{Device: t.Device, Site: t.Site}
	site := r.sites[t.Site]
	if site != nil {
		if err := site.Acquire(ctx, 1); err != nil {
			return r.abandoned(res, queued, err)
		}
		defer site.Release(1)
	}
	if err := r.global.Acquire(ctx, 1); err != nil {
		return r.abandoned(res, queued, err)
	}
	defer r.global.Release(1)
	return r.run(ctx, &t, fn, queued)
}

// FanOut runs fn on every target, at most MaxConcurrent at once (and
// PerSite per site), and sends one Result per target on the returned
// channel, which is closed after the last. The channel is buffered for all
// results, so a caller that stops reading leaks nothing. One device's failure
// never affects the others; cancelling ctx ends the remaining devices with
// ClassCanceled results.
func (r *Runner) FanOut(ctx context.Context, targets []Target, fn func(ctx context.Context, s *Session) error) <-chan Result {
	results := make(chan Result, len(targets))
	if len(targets) == 0 {
		close(results)
		return results
	}
	d := newDispatcher(r, targets)
	workers := min(r.cfg.MaxConcurrent, len(targets))
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for {
				t, queued, release, ok := d.next(ctx)
				if !ok {
					return
				}
				if release == nil { // cancelled while queued
					results <- r.abandoned(Result{Device: t.Device, Site: t.Site}, queued, context.Cause(ctx))
					continue
				}
				results <- r.runSlot(ctx, t, fn, queued)
				release()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	return results
}

// runSlot takes a global slot (the site slot is already held) and runs t.
func (r *Runner) runSlot(ctx context.Context, t *Target, fn func(context.Context, *Session) error, queued time.Time) Result {
	if err := r.global.Acquire(ctx, 1); err != nil {
		return r.abandoned(Result{Device: t.Device, Site: t.Site}, queued, err)
	}
	defer r.global.Release(1)
	return r.run(ctx, t, fn, queued)
}

func (r *Runner) abandoned(res Result, queued time.Time, err error) Result {
	now := time.Now()
	res.Err = fmt.Errorf("%s: not started: %w", res.Device, err)
	res.Class = Classify(err)
	res.Started, res.Finished = now, now
	res.Timings.Queue = now.Sub(queued)
	return res
}

// run does one device once its slots are held: connect (with retries),
// open the session, call fn, exit cleanly, and build the Result.
func (r *Runner) run(ctx context.Context, t *Target, fn func(context.Context, *Session) error, queued time.Time) (res Result) {
	res = Result{Device: t.Device, Site: t.Site}
	log := r.log.With(zap.String("device", t.Device), zap.String("site", t.Site))
	var s *Session
	defer func() {
		if s != nil {
			// Normally closed already; this covers fn panicking or calling
			// runtime.Goexit (t.FailNow in tests).
			s.link.close()
		}
		if p := recover(); p != nil {
			// A bug in one device's fn must not take the fleet down with it.
			log.Error("panic in session function", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			res.Err = fmt.Errorf("%s: panic in session function: %v: %w", t.Device, p, ErrProtocol)
			res.Class = ClassProtocol
			res.Finished = time.Now()
		}
	}()

	if err := t.validate(); err != nil {
		return r.abandoned(res, queued, err)
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SessionTimeout)
	defer cancel()

	if err := r.limiter.Wait(sctx); err != nil {
		if ctx.Err() == nil {
			// The limiter refuses a wait that would outlast the session
			// deadline: that is this device running out of time.
			err = fmt.Errorf("waiting for the start rate: %w (%w)", ErrTimeout, err)
		}
		return r.abandoned(res, queued, err)
	}
	res.Started = time.Now()
	res.Timings.Queue = res.Started.Sub(queued)

	red := newRedactor(secretsOf(t))
	l, err := r.connectWithRetry(sctx, t, &res)
	if err != nil {
		err = deadlineError(sctx, t.Device, err)
		res.Err = &classifiedError{msg: red.string(err.Error()), err: err}
		res.Class = Classify(err)
		res.Finished = time.Now()
		log.Debug("connect failed", zap.String("class", string(res.Class)), zap.Error(res.Err), zap.Int("attempts", res.Attempts))
		return res
	}

	s = &Session{r: r, target: t, link: l, log: log, red: red, exec: t.Exec,
		// Most sessions fit in 16 KiB; starting there saves the early regrowth copies.
		tr: transcript{max: r.cfg.MaxTranscript, buf: make([]byte, 0, min(16<<10, r.cfg.MaxTranscript))}}
	shellStart := time.Now()
	if !s.exec {
		err = s.openShell(sctx)
	}
	res.Timings.Shell = time.Since(shellStart)
	if err == nil {
		err = fn(sctx, s)
		if err == nil && sctx.Err() != nil {
			// fn swallowed the deadline; the device still did not finish in time.
			err = fmt.Errorf("%s: session deadline reached: %w", t.Device, ErrTimeout)
		}
	}
	if err != nil && l.interrupted() {
		// The deadline watch closed the connection under whatever step was
		// blocked; that step saw only a dead connection.
		err = deadlineError(sctx, t.Device, err)
	}
	res.Timings.Commands, res.Timings.Longest = s.commands, s.longest
	exitStart := time.Now()
	s.close(sctx)
	res.Timings.Exit = time.Since(exitStart)
	res.Landing = s.Landing()
	res.Transcript = red.capped(s.tr.buf, r.cfg.MaxTranscript)
	res.TranscriptTruncated = s.tr.truncated
	res.Finished = time.Now()
	if err != nil {
		res.Err = &classifiedError{msg: red.string(err.Error()), err: err}
		res.Class = Classify(err)
		log.Debug("session failed", zap.String("class", string(res.Class)), zap.Error(res.Err))
	}
	return res
}

// deadlineError reports err as the session deadline (or the caller's
// cancellation) when ctx has ended and err does not already say so: a step
// interrupted by the connection being closed under it fails with a
// connection or protocol error, but the device did not drop anything, it ran
// out of time. Errors with a cause of their own (auth, host key) are kept.
func deadlineError(ctx context.Context, device string, err error) error {
	if ctx.Err() == nil {
		return err
	}
	switch Classify(err) {
	case ClassUnreachable, ClassProtocol:
	default:
		return err
	}
	if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", cause, err)
	}
	return fmt.Errorf("%s: session deadline reached: %w (%w)", device, ErrTimeout, err)
}

// classifiedError carries a redacted message while keeping the wrapped
// chain for errors.Is.
type classifiedError struct {
	msg string
	err error
}

func (e *classifiedError) Error() string { return e.msg }
func (e *classifiedError) Unwrap() error { return e.err }

func secretsOf(t *Target) []string {
	s := t.Credential.secrets()
	for _, j := range t.JumpHosts {
		s = append(s, j.Credential.secrets()...)
	}
	return s
}

// connectWithRetry retries transient dial errors with exponential backoff
// and full jitter, within the session deadline.
func (r *Runner) connectWithRetry(ctx context.Context, t *Target, res *Result) (*link, error) {
	var err error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if werr := r.limiter.Wait(ctx); werr != nil {
				// Out of time before the next attempt: the device's own
				// failure is the useful error.
				return nil, err
			}
		}
		res.Attempts = attempt
		var l *link
		l, err = r.connect(ctx, t, res)
		if err == nil {
			return l, nil
		}
		if attempt >= r.cfg.Retry.Attempts || !isTransientDialError(err) || ctx.Err() != nil {
			return nil, err
		}
		d := r.backoff(attempt)
		r.log.Debug("retrying connect", zap.String("device", t.Device), zap.Int("attempt", attempt), zap.Duration("backoff", d), zap.Error(err))
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, err
		case <-timer.C:
		}
	}
}

// backoff is Base·2^(attempt-1), capped at Max, with full jitter over its
// upper half so a site coming back is not hit by a synchronised wave.
func (r *Runner) backoff(attempt int) time.Duration {
	d := r.cfg.Retry.Base << (attempt - 1)
	if d <= 0 || d > r.cfg.Retry.Max {
		d = r.cfg.Retry.Max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

// dispatcher hands FanOut's workers their next target: round-robin over
// sites, skipping sites at their PerSite limit, so one saturated site never
// holds up the others.
type dispatcher struct {
	r       *Runner
	mu      sync.Mutex
	queues  [][]*Target // per site, in input order
	sems    []*semaphore.Weighted
	rr      int // round-robin position over queues
	left    int
	changed chan struct{} // closed and replaced when a site slot is released
	queued  time.Time
}

func newDispatcher(r *Runner, targets []Target) *dispatcher {
	d := &dispatcher{r: r, left: len(targets), changed: make(chan struct{}), queued: time.Now()}
	index := map[string]int{}
	for i := range targets {
		t := &targets[i]
		k, ok := index[t.Site]
		if !ok {
			k = len(d.queues)
			index[t.Site] = k
			d.queues = append(d.queues, nil)
			d.sems = append(d.sems, r.sites[t.Site])
		}
		d.queues[k] = append(d.queues[k], t)
	}
	return d
}

// pollExternal bounds how long a worker waits for a site slot freed by a
// caller outside this FanOut (a concurrent Session), which does not signal
// d.changed.
const pollExternal = 20 * time.Millisecond

// next returns the next target and the function releasing its site slot.
// ok is false when no target is left. If ctx is done, the remaining targets
// are returned with a nil release, to be reported as cancelled.
func (d *dispatcher) next(ctx context.Context) (t *Target, queued time.Time, release func(), ok bool) {
	for {
		d.mu.Lock()
		if d.left == 0 {
			d.mu.Unlock()
			return nil, d.queued, nil, false
		}
		cancelled := ctx.Err() != nil
		for i := range d.queues {
			k := (d.rr + i) % len(d.queues)
			q := d.queues[k]
			if len(q) == 0 {
				continue
			}
			sem := d.sems[k]
			if !cancelled && sem != nil && !sem.TryAcquire(1) {
				continue
			}
			t = q[0]
			d.queues[k] = q[1:]
			d.left--
			d.rr = k + 1
			d.mu.Unlock()
			if cancelled {
				return t, d.queued, nil, true
			}
			return t, d.queued, func() {
				if sem != nil {
					sem.Release(1)
					d.mu.Lock()
					close(d.changed)
					d.changed = make(chan struct{})
					d.mu.Unlock()
				}
			}, true
		}
		ch := d.changed
		d.mu.Unlock()
		timer := time.NewTimer(pollExternal)
		select {
		case <-ch:
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
	}
}
