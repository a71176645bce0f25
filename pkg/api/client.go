package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Client is the Go client of the fleetd API; fleetctl uses nothing else.
// Methods return *Error for any answer the server gave (use errors.As), and a
// wrapped transport error when it could not be reached.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	userAgent string
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// DefaultClientTimeout bounds one API call of the default client (a
// diagnose without --detach streams progress for minutes).
const DefaultClientTimeout = 5 * time.Minute

// WithHTTPClient replaces the default http.Client (tests, custom TLS roots).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithUserAgent sets the User-Agent header, e.g. "fleetctl/1.2.3".
func WithUserAgent(ua string) ClientOption { return func(c *Client) { c.userAgent = ua } }

// NewClient returns a client for the fleetd at server ("http://host:port",
// "https://...", or a bare "host:port" meaning http). The token may be empty
// for /healthz-style calls; every /v1 call needs one.
func NewClient(server, token string, opts ...ClientOption) (*Client, error) {
	base, err := ParseServerURL(server)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:      base,
		token:     token,
		http:      &http.Client{Timeout: DefaultClientTimeout},
		userAgent: "fleetd-go-client",
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// ParseServerURL accepts "host:port" as shorthand for "http://host:port" and
// rejects anything that is not a plain http(s) base URL.
func ParseServerURL(server string) (*url.URL, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return nil, errors.New("no fleetd server given (--server, FLEETCTL_SERVER or the config file)")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", server, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server %q: scheme must be http or https", server)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server %q: no host", server)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("server %q: must be a base URL without credentials, query or fragment", server)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// Server returns the base URL the client talks to.
func (c *Client) Server() string { return c.base.String() }

// do sends one request and decodes a 2xx JSON answer into out (if non-nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	// path is already escaped (names go through url.PathEscape), so it is
	// appended to the escaped base rather than assigned to URL.Path, which
	// would escape it twice.
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}

	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach fleetd at %s: %w", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeErrorResponse(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		// The caller wants the body as the server sent it.
		if *raw, err = io.ReadAll(resp.Body); err != nil {
			return fmt.Errorf("%s %s: read response: %w", method, path, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// unwrapURLError drops url.Error's `Get "http://...": ` prefix, which repeats
// what the caller's message already says.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func decodeErrorResponse(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env errorEnvelope
	if err := json.Unmarshal(raw, &env); err == nil && env.Error != nil && env.Error.Message != "" {
		env.Error.Status = resp.StatusCode
		return env.Error
	}
	// Not fleetd's JSON (a proxy, or not fleetd at all): keep a short excerpt.
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &Error{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode),
		Message: msg, RequestID: resp.Header.Get("X-Request-Id")}
}

// Health calls /healthz: nil when the process answers.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Ready calls /readyz: nil when fleetd can reach its database.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil, nil)
}

// WhoAmI returns the identity of the client's token.
func (c *Client) WhoAmI(ctx context.Context) (Identity, error) {
	var out Identity
	err := c.do(ctx, http.MethodGet, "/v1/whoami", nil, nil, &out)
	return out, err
}

// Sites lists the configured sites.
func (c *Client) Sites(ctx context.Context) ([]Site, error) {
	var out []Site
	err := c.do(ctx, http.MethodGet, "/v1/sites", nil, nil, &out)
	return out, err
}

// query returns the URL query of the name, value pairs whose value is set
// (a parameter left out is the server's default).
func query(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

// ListDevices lists devices matching every set field of f.
func (c *Client) ListDevices(ctx context.Context, f DeviceFilter) ([]Device, error) {
	q := query("site", f.Site, "kind", f.Kind)
	for _, k := range slices.Sorted(maps.Keys(f.Tags)) {
		q.Add("tag", k+"="+f.Tags[k])
	}
	var out []Device
	err := c.do(ctx, http.MethodGet, "/v1/devices", q, nil, &out)
	return out, err
}

// GetDevice returns one device by name.
func (c *Client) GetDevice(ctx context.Context, name string) (Device, error) {
	var out Device
	err := c.do(ctx, http.MethodGet, "/v1/devices/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// AddDevice adds one device; a name already in the inventory is a conflict.
func (c *Client) AddDevice(ctx context.Context, d NewDevice) (Device, error) {
	var out Device
	err := c.do(ctx, http.MethodPost, "/v1/devices", nil, d, &out)
	return out, err
}

// DeleteDevice removes one device by name and returns it as it was.
func (c *Client) DeleteDevice(ctx context.Context, name string) (Device, error) {
	var out Device
	err := c.do(ctx, http.MethodDelete, "/v1/devices/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// ImportDevices validates an inventory file and, unless req.DryRun, applies
// it in one transaction. Invalid rows come back as *Error with one Detail per
// problem, each with its line.
func (c *Client) ImportDevices(ctx context.Context, req ImportRequest) (ImportResult, error) {
	var out ImportResult
	err := c.do(ctx, http.MethodPost, "/v1/devices/import", nil, req, &out)
	return out, err
}

// SyncDevices reads the FTDs an FMC manages and upserts them (see DeviceSyncRequest).
func (c *Client) SyncDevices(ctx context.Context, req DeviceSyncRequest) (DeviceSyncResult, error) {
	var out DeviceSyncResult
	err := c.do(ctx, http.MethodPost, "/v1/devices/sync", nil, req, &out)
	return out, err
}

// ListHostKeys lists host keys matching f.
func (c *Client) ListHostKeys(ctx context.Context, f HostKeyFilter) ([]HostKey, error) {
	q := query("state", f.State, "site", f.Site, "kind", f.Kind)
	var out []HostKey
	err := c.do(ctx, http.MethodGet, "/v1/hostkeys", q, nil, &out)
	return out, err
}

// AcceptHostKeys pins the pending keys of the named devices, or every
// pending key (of a site).
func (c *Client) AcceptHostKeys(ctx context.Context, req AcceptHostKeysRequest) (AcceptHostKeysResult, error) {
	var out AcceptHostKeysResult
	err := c.do(ctx, http.MethodPost, "/v1/hostkeys/accept", nil, req, &out)
	return out, err
}

// ListAudit lists audit events, newest first.
func (c *Client) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	q := query("actor", f.Actor, "action", f.Action, "target_kind", f.TargetKind, "target", f.Target)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.BeforeID > 0 {
		q.Set("before_id", strconv.FormatInt(f.BeforeID, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out []AuditEvent
	err := c.do(ctx, http.MethodGet, "/v1/audit", q, nil, &out)
	return out, err
}
