package fmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Config (docs/firepower.md §5: about 120 requests a minute,
// 30-minute tokens refreshable 3 times, payloads capped at 2,048,000 bytes).
const (
	DefaultPort             = "443"
	DefaultRateLimit        = 110
	DefaultTimeout          = 30 * time.Second
	DefaultMaxAttempts      = 4
	DefaultBackoff          = time.Second
	DefaultRateLimitBackoff = 10 * time.Second
	DefaultMaxBackoff       = 30 * time.Second
	DefaultMaxBodyBytes     = 2_048_000
	DefaultTokenLifetime    = 30 * time.Minute
	DefaultMaxRefreshes     = 3
	DefaultPageLimit        = 1000
	// rateBurst lets a check's few requests go at once while keeping any
	// minute under the FMC's 120 (burst + rate).
	rateBurst = 5
	// maxPages bounds a list whose next links never end.
	maxPages = 10_000
)

// Config is one FMC's REST endpoint and how to talk to it.
type Config struct {
	// Address is host or host:port (port 443 when none).
	Address string
	// Username and Password are the API user's (a dedicated user: an API
	// login logs the same user out of the UI).
	Username, Password string
	// Domain is the domain's name in DOMAINS ("Global"); empty: DOMAIN_UUID.
	Domain string
	TLS    TLS
	// RateLimit is requests per minute, this client's share of the FMC's.
	RateLimit int
	// Timeout bounds each request (connect, TLS handshake, answer) and each
	// backoff wait is bounded by MaxBackoff; the caller's ctx bounds all.
	Timeout time.Duration
	// MaxAttempts bounds the tries of one request answered 429, 5xx or not
	// at all. Backoff is the first wait after a 5xx or a network error
	// (doubled each time), RateLimitBackoff the wait after a 429 without
	// Retry-After; no wait exceeds MaxBackoff.
	MaxAttempts                           int
	Backoff, RateLimitBackoff, MaxBackoff time.Duration
	// MaxBodyBytes caps an answer's body; a longer one is refused.
	MaxBodyBytes int64
	// TokenLifetime and MaxRefreshes: a token older than the lifetime is
	// refreshed, MaxRefreshes times, then a new login is made.
	TokenLifetime time.Duration
	MaxRefreshes  int
	// PageLimit is the limit= of list requests.
	PageLimit int
	// Trace, if set, receives one line per HTTP exchange (method, path,
	// status, time): never a header, token or password.
	Trace func(line string)
	// Now and Sleep are the clock (tests).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.RateLimit <= 0 {
		c.RateLimit = DefaultRateLimit
	}
	def(&c.Timeout, DefaultTimeout)
	def(&c.Backoff, DefaultBackoff)
	def(&c.RateLimitBackoff, DefaultRateLimitBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	def(&c.TokenLifetime, DefaultTokenLifetime)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxRefreshes < 0 {
		c.MaxRefreshes = 0
	} else if c.MaxRefreshes == 0 {
		c.MaxRefreshes = DefaultMaxRefreshes
	}
	if c.PageLimit <= 0 {
		c.PageLimit = DefaultPageLimit
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Errors a caller may test for.
var (
	// ErrLoginFailed: the FMC refused the API user's credentials.
	ErrLoginFailed = errors.New("fmc: login refused")
	// ErrBodyTooLarge: an answer exceeded MaxBodyBytes.
	ErrBodyTooLarge = errors.New("fmc: answer larger than the body cap")
)

// StatusError is an answer with an unexpected status.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string // the first 200 bytes
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("fmc: %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Stats counts what a client did (tests and transcripts).
type Stats struct {
	Logins, Refreshes, Requests, RateLimited, ServerErrors int
}

// Client is one FMC's REST client; safe for concurrent use. Keep one per
// FMC: the token and the rate limit are per client.
type Client struct {
	cfg     Config
	host    string // host:port
	http    *http.Client
	limiter *rate.Limiter

	// mu serialises logins and refreshes and guards the token state; it is
	// held across their HTTP exchanges, so that concurrent callers make one.
	mu         sync.Mutex
	access     string
	refresh    string
	domainUUID string
	issued     time.Time
	refreshes  int

	statsMu sync.Mutex
	stats   Stats
}

// New checks cfg and returns a client; nothing is sent yet.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.Address == "" {
		return nil, errors.New("fmc: no address")
	}
	if cfg.Username == "" {
		return nil, errors.New("fmc: no API user")
	}
	if err := cfg.TLS.validate(); err != nil {
		return nil, err
	}
	host := cfg.Address
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), DefaultPort)
	}
	c := &Client{cfg: cfg, host: host,
		limiter: rate.NewLimiter(rate.Every(time.Minute/time.Duration(cfg.RateLimit)), rateBurst)}
	c.http = &http.Client{
		Transport: &http.Transport{
			DialTLSContext:        c.dialTLS,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: cfg.Timeout,
			// Proxies from the environment are not for devices.
			Proxy: nil,
		},
		// A redirect could carry the token elsewhere: none is followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Stats returns what the client did so far.
func (c *Client) Stats() Stats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	return c.stats
}

func (c *Client) count(f func(*Stats)) {
	c.statsMu.Lock()
	f(&c.stats)
	c.statsMu.Unlock()
}

type traceKey struct{}

// WithTrace makes the requests made with ctx also report their exchange
// lines to fn (a diagnose's transcript), as Config.Trace does.
func WithTrace(ctx context.Context, fn func(line string)) context.Context {
	return context.WithValue(ctx, traceKey{}, fn)
}

func (c *Client) trace(ctx context.Context, format string, args ...any) {
	if c.cfg.Trace == nil && ctx.Value(traceKey{}) == nil {
		return
	}
	line := fmt.Sprintf(format, args...)
	if c.cfg.Trace != nil {
		c.cfg.Trace(line)
	}
	if fn, ok := ctx.Value(traceKey{}).(func(string)); ok && fn != nil {
		fn(line)
	}
}

// answer is one HTTP exchange's result.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request, retrying 429, 5xx and network failures up to
// MaxAttempts with backoff, within the rate limit. A certificate the pin
// store refused is not retried. header, if set, gives each attempt's
// headers once its turn under the rate limit has come, so that a token is
// picked when it is about to be sent, not before a wait.
func (c *Client) send(ctx context.Context, method, path string, header func() (http.Header, error), basicAuth bool) (answer, error) {
	backoff := c.cfg.Backoff
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return answer{}, fmt.Errorf("fmc: %s %s: rate limit wait: %w", method, path, err)
		}
		var h http.Header
		if header != nil {
			var err error
			if h, err = header(); err != nil {
				return answer{}, err
			}
		}
		a, err := c.once(ctx, method, path, h, basicAuth)
		var wait time.Duration
		switch {
		case err != nil:
			// A refused certificate is not retried, nor a request that
			// timed out: an FMC too slow once is slow again, and the
			// caller's bound (the session timeout) is better spent elsewhere.
			if errors.Is(err, ErrCertificateUnknown) || errors.Is(err, ErrCertificateMismatch) ||
				errors.Is(err, ErrBodyTooLarge) || ctx.Err() != nil || isTLSTrustError(err) || isTimeout(err) {
				return answer{}, err
			}
			wait = backoff
		case a.status == http.StatusTooManyRequests:
			c.count(func(s *Stats) { s.RateLimited++ })
			wait = c.cfg.RateLimitBackoff
			if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && ra >= 0 {
				wait = time.Duration(ra) * time.Second
			}
			err = &StatusError{Method: method, Path: path, Status: a.status, Body: snippet(a.body)}
		case a.status >= 500:
			c.count(func(s *Stats) { s.ServerErrors++ })
			wait = backoff
			if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && ra >= 0 && a.status == http.StatusServiceUnavailable {
				wait = time.Duration(ra) * time.Second
			}
			err = &StatusError{Method: method, Path: path, Status: a.status, Body: snippet(a.body)}
		default:
			return a, nil
		}
		if attempt >= c.cfg.MaxAttempts {
			return answer{}, fmt.Errorf("fmc: gave up after %d attempts: %w", attempt, err)
		}
		if err := c.cfg.Sleep(ctx, min(wait, c.cfg.MaxBackoff)); err != nil {
			return answer{}, fmt.Errorf("fmc: %s %s: %w", method, path, err)
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

func (c *Client) once(ctx context.Context, method, path string, header http.Header, basicAuth bool) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "https://"+c.host+path, nil)
	if err != nil {
		return answer{}, fmt.Errorf("fmc: %s %s: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if basicAuth {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	c.count(func(s *Stats) { s.Requests++ })
	start := c.cfg.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.trace(ctx, "%s %s: %v", method, path, redactURLError(err))
		return answer{}, fmt.Errorf("fmc: %s %s: %w", method, path, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		return answer{}, fmt.Errorf("fmc: %s %s: reading the answer: %w", method, path, err)
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		c.trace(ctx, "%s %s -> %d, body over %d bytes: refused", method, path, resp.StatusCode, c.cfg.MaxBodyBytes)
		return answer{}, fmt.Errorf("fmc: %s %s: %w (%d bytes)", method, path, ErrBodyTooLarge, c.cfg.MaxBodyBytes)
	}
	c.trace(ctx, "%s %s -> %d (%s)", method, path, resp.StatusCode, c.cfg.Now().Sub(start).Round(time.Millisecond))
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// redactURLError drops the URL from a *url.Error (it is ours, and known):
// what remains is the cause.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isTLSTrustError(err error) bool {
	return strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "tls:")
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Login makes a new basic-auth login (204 and the tokens in headers).
func (c *Client) Login(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLocked(ctx)
}

func (c *Client) loginLocked(ctx context.Context) error {
	a, err := c.send(ctx, http.MethodPost, PathGenerateToken, nil, true)
	if err != nil {
		return err
	}
	if a.status != http.StatusNoContent {
		if a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
			return fmt.Errorf("%w for API user %q: HTTP %d", ErrLoginFailed, c.cfg.Username, a.status)
		}
		return &StatusError{Method: http.MethodPost, Path: PathGenerateToken, Status: a.status, Body: snippet(a.body)}
	}
	if err := c.takeTokens(a.header, true); err != nil {
		return err
	}
	c.count(func(s *Stats) { s.Logins++ })
	c.refreshes = 0
	return nil
}

func (c *Client) takeTokens(h http.Header, login bool) error {
	access, refresh := h.Get(HeaderAccessToken), h.Get(HeaderRefreshToken)
	if access == "" || refresh == "" {
		return errors.New("fmc: token answer without X-auth-access-token and X-auth-refresh-token")
	}
	if login || c.domainUUID == "" {
		domains, err := ParseDomains(h.Get(HeaderDomains))
		if err != nil {
			return err
		}
		uuid, err := PickDomain(c.cfg.Domain, h.Get(HeaderDomainUUID), domains)
		if err != nil {
			return err
		}
		c.domainUUID = uuid
	}
	c.access, c.refresh, c.issued = access, refresh, c.cfg.Now()
	return nil
}

// refreshLocked refreshes the token, or logs in again once MaxRefreshes
// were used or the refresh is refused.
func (c *Client) refreshLocked(ctx context.Context) error {
	if c.access == "" || c.refreshes >= c.cfg.MaxRefreshes {
		return c.loginLocked(ctx)
	}
	h := http.Header{}
	h.Set(HeaderAccessToken, c.access)
	h.Set(HeaderRefreshToken, c.refresh)
	a, err := c.send(ctx, http.MethodPost, PathRefreshToken, func() (http.Header, error) { return h, nil }, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusNoContent {
		// An expired refresh token, or one the FMC forgot (restart).
		return c.loginLocked(ctx)
	}
	if err := c.takeTokens(a.header, false); err != nil {
		return err
	}
	c.refreshes++
	c.count(func(s *Stats) { s.Refreshes++ })
	return nil
}

// token returns a live access token and the domain, logging in or
// refreshing first when needed. stale is a token the FMC just refused.
func (c *Client) token(ctx context.Context, stale string) (access, domain string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.access == "":
		err = c.loginLocked(ctx)
	case stale != "" && stale == c.access, c.cfg.Now().Sub(c.issued) >= c.cfg.TokenLifetime:
		err = c.refreshLocked(ctx)
	}
	return c.access, c.domainUUID, err
}

// Domain returns the domain UUID, logging in first if needed.
func (c *Client) Domain(ctx context.Context) (string, error) {
	_, d, err := c.token(ctx, "")
	return d, err
}

func tokenInvalid(a answer) bool {
	if a.status != http.StatusUnauthorized {
		return false
	}
	b := strings.ToLower(string(a.body))
	return strings.Contains(b, "access token invalid") || strings.Contains(b, "invalid access token")
}

// Get fetches path (which may hold a query) and returns the body of a 200.
// A token the FMC calls invalid is refreshed (or replaced by a new login)
// and the request made again, once.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	stale := ""
	for try := 0; ; try++ {
		var tok string
		a, err := c.send(ctx, http.MethodGet, path, func() (http.Header, error) {
			var err error
			if tok, _, err = c.token(ctx, stale); err != nil {
				return nil, err
			}
			h := http.Header{}
			h.Set(HeaderAccessToken, tok)
			return h, nil
		}, false)
		if err != nil {
			return nil, err
		}
		switch {
		case a.status == http.StatusOK:
			return a.body, nil
		case tokenInvalid(a) && try == 0:
			stale = tok
			continue
		}
		return nil, &StatusError{Method: http.MethodGet, Path: path, Status: a.status, Body: snippet(a.body)}
	}
}

// GetJSON fetches path and decodes the answer into v.
func (c *Client) GetJSON(ctx context.Context, path string, v any) error {
	body, err := c.Get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("fmc: GET %s: %w", path, err)
	}
	return nil
}

// List fetches every item of a list endpoint: limit=PageLimit with
// expanded=true, following paging.next until it is absent. A next link to
// another host is refused (it would receive the token).
func (c *Client) List(ctx context.Context, path string) ([]json.RawMessage, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	next := fmt.Sprintf("%s%soffset=0&limit=%d&expanded=true", path, sep, c.cfg.PageLimit)
	var items []json.RawMessage
	seen := map[string]bool{}
	for pages := 0; next != ""; pages++ {
		if pages >= maxPages || seen[next] {
			return nil, fmt.Errorf("fmc: GET %s: paging does not end (page %d: %s)", path, pages+1, next)
		}
		seen[next] = true
		var p page
		if err := c.GetJSON(ctx, next, &p); err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
		next = ""
		if len(p.Paging.Next) > 0 {
			var err error
			if next, err = c.sameHost(p.Paging.Next[0]); err != nil {
				return nil, fmt.Errorf("fmc: GET %s: %w", path, err)
			}
		}
	}
	return items, nil
}

// sameHost turns a next link into a path on this FMC.
func (c *Client) sameHost(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("paging.next %q: %w", link, err)
	}
	if u.Host != "" {
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), DefaultPort)
		}
		if !strings.EqualFold(host, c.host) || (u.Scheme != "" && u.Scheme != "https") {
			return "", fmt.Errorf("paging.next %q points away from %s: not followed", link, c.host)
		}
	}
	return u.RequestURI(), nil
}

// CloudEventsConfig reads integration/cloudeventsconfigs (FMC 6.4+).
func (c *Client) CloudEventsConfig(ctx context.Context) (CloudEventsConfig, error) {
	items, err := c.domainList(ctx, PathCloudEvents)
	if err != nil {
		return CloudEventsConfig{}, err
	}
	cfgs, err := decodeItems[CloudEventsConfig](items)
	if err != nil {
		return CloudEventsConfig{}, fmt.Errorf("fmc: cloudeventsconfigs: %w", err)
	}
	if len(cfgs) == 0 {
		return CloudEventsConfig{}, errors.New("fmc: cloudeventsconfigs: no item")
	}
	return cfgs[0], nil
}

// CloudRegions reads integration/cloudregions (FMC 6.5+).
func (c *Client) CloudRegions(ctx context.Context) ([]CloudRegion, error) {
	items, err := c.domainList(ctx, PathCloudRegions)
	if err != nil {
		return nil, err
	}
	rs, err := decodeItems[CloudRegion](items)
	if err != nil {
		return nil, fmt.Errorf("fmc: cloudregions: %w", err)
	}
	return rs, nil
}

// SmartLicense reads license/smartlicenses (no domain in the path).
func (c *Client) SmartLicense(ctx context.Context) (SmartLicense, error) {
	var p page
	if err := c.GetJSON(ctx, PathSmartLicenses, &p); err != nil {
		return SmartLicense{}, err
	}
	ls, err := decodeItems[SmartLicense](p.Items)
	if err != nil {
		return SmartLicense{}, fmt.Errorf("fmc: smartlicenses: %w", err)
	}
	if len(ls) == 0 {
		return SmartLicense{}, errors.New("fmc: smartlicenses: no item")
	}
	return ls[0], nil
}

// DeviceRecords reads every devicerecords page: the FTDs the FMC manages.
func (c *Client) DeviceRecords(ctx context.Context) ([]DeviceRecord, error) {
	items, err := c.domainList(ctx, PathDeviceRecords)
	if err != nil {
		return nil, err
	}
	ds, err := decodeItems[DeviceRecord](items)
	if err != nil {
		return nil, fmt.Errorf("fmc: devicerecords: %w", err)
	}
	return ds, nil
}

func (c *Client) domainList(ctx context.Context, suffix string) ([]json.RawMessage, error) {
	domain, err := c.Domain(ctx)
	if err != nil {
		return nil, err
	}
	return c.List(ctx, DomainPath(domain, suffix))
}
