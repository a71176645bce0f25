package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/notify"
	"github.com/fleetd/fleetd/pkg/queues"
	"github.com/fleetd/fleetd/pkg/remediate/window"
)

// Audit actions and target kind of this package.
const (
	TargetRemediation = "remediation"

	AuditRequested   = "remediation.request"
	AuditApproved    = "remediation.approve"
	AuditScheduled   = "remediation.schedule"
	AuditRejected    = "remediation.reject"
	AuditExpired     = "remediation.expire"
	AuditCancelled   = "remediation.cancel"
	AuditRunning     = "remediation.start"
	AuditRescheduled = "remediation.reschedule"
	AuditSucceeded   = "remediation.succeed"
	AuditFailed      = "remediation.fail"
	// AuditDeviceRefused: a device of a running request was not the
	// approved box any more (deleted, re-added, moved, re-keyed); nothing
	// was sent to it.
	AuditDeviceRefused = "remediation.refuse-device"
)

// SystemActor is the audit actor of transitions fleetd makes on its own
// (expiry, start, finish, rescheduling).
const SystemActor = "fleetd"

// MaxDevices bounds one request; a bigger change is several requests.
const MaxDevices = 10000

// DeviceSource resolves what a request names into frozen devices.
type DeviceSource interface {
	// DevicesByName returns the named devices; names not in the inventory
	// make an error that lists them.
	DevicesByName(ctx context.Context, names []string) ([]Device, error)
	// DevicesByStatus returns the devices of a site (all sites if empty)
	// whose latest known status carries the diagnosis (any if empty).
	DevicesByStatus(ctx context.Context, site, diagnosis string) ([]Device, error)
	// DevicesRecommendedIn returns the devices of run found unhealthy with
	// recommended as their cure; the error wraps ErrInvalid when there is
	// no such run.
	DevicesRecommendedIn(ctx context.Context, run uuid.UUID, recommended string) ([]Device, error)
	// DeviceIdentities lets an approval check that the frozen devices are
	// still the boxes the request was made for.
	DeviceIdentities
}

// Inserter is the part of a River client the service needs.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Config tunes requests.
type Config struct {
	ApprovalTTL      time.Duration
	BatchSize        int
	FailureThreshold int
	// Sites gives time zones and maintenance windows.
	Sites map[string]Site
}

// Site is what remediation needs to know of a site (internal/app
// translates fleetd's configured sites).
type Site struct {
	// Location is the site's time zone; nil means UTC.
	Location *time.Location
	// Window is when in-window reboots may run; the zero value means none.
	Window window.Window
	// RebootTimeout bounds a reboot; 0 means WorkerConfig.RebootTimeout.
	RebootTimeout time.Duration
}

func (s Site) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// DefaultConfig returns the defaults, which are those of fleetd's config
// file (remediation.*); a test in internal/app holds the two together.
// FailureThreshold's zero is a real value (stop at the first failure), so
// a zero Config keeps it.
func DefaultConfig() Config {
	return Config{ApprovalTTL: 24 * time.Hour, BatchSize: 10, FailureThreshold: 3}
}

// WithDefaults returns c with its unset fields at their defaults.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.ApprovalTTL <= 0 {
		c.ApprovalTTL = d.ApprovalTTL
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.FailureThreshold < 0 {
		c.FailureThreshold = 0
	}
	return c
}

// Service creates requests and moves them through approval. Execution is the
// Worker's.
type Service struct {
	pool    *pgxpool.Pool
	river   Inserter
	devices DeviceSource
	clock   Clock
	cfg     Config
	log     *zap.Logger
	notify  Notifier // nil: no notifications
}

// ServiceDeps are a Service's collaborators.
type ServiceDeps struct {
	Queue   Inserter // the River client: an approval inserts the execution job
	Devices DeviceSource
	// Notifier, when set, is told of each new pending request
	// (approval.pending); nil sends nothing.
	Notifier Notifier
	Clock    Clock // nil: the system clock
}

// NewService returns a Service.
func NewService(pool *pgxpool.Pool, deps ServiceDeps, cfg Config, log *zap.Logger) *Service {
	cfg = cfg.WithDefaults()
	clock := deps.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	return &Service{pool: pool, river: deps.Queue, devices: deps.Devices, clock: clock, cfg: cfg, log: log,
		notify: deps.Notifier}
}

// CreateRequest asks for a remediation. Name devices, or select by Site
// and/or Diagnosis from the latest device status.
type CreateRequest struct {
	Action    Action   `json:"action"`
	Devices   []string `json:"devices,omitempty"`
	Site      string   `json:"site,omitempty"`
	Diagnosis string   `json:"diagnosis,omitempty"`
	// FromRun selects the devices of that run (a UUID) a connector restart
	// cures; only for restart-connector.
	FromRun  string     `json:"from_run,omitempty"`
	At       *time.Time `json:"at,omitempty"`
	InWindow bool       `json:"in_window,omitempty"`
	Reason   string     `json:"reason,omitempty"`
}

// Device names follow inventory's rule (inventory.CheckName), the one
// definition of it: a request can only name devices the inventory could hold.
var codeRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func cleanText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > max {
		return "", invalid("%s is longer than %d characters", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", invalid("%s must be one line of printable text", field)
		}
	}
	return s, nil
}

// Create validates the request, resolves and freezes its device list, and
// stores it as pending, with an audit event.
func (s *Service) Create(ctx context.Context, actor Actor, req CreateRequest) (Request, error) {
	if actor.Name == "" {
		return Request{}, fmt.Errorf("%w: no identity", ErrForbidden)
	}
	if actor.Role != "operator" && actor.Role != "approver" && actor.Role != "admin" {
		return Request{}, fmt.Errorf("%w: role %q cannot request remediations (operator or above)", ErrForbidden, actor.Role)
	}
	action, err := ParseAction(string(req.Action))
	if err != nil {
		return Request{}, invalid("%v", err)
	}
	reason, err := cleanText("reason", req.Reason, 500)
	if err != nil {
		return Request{}, err
	}
	now := s.clock.Now()

	sched := ScheduleNow
	switch {
	case req.At != nil && req.InWindow:
		return Request{}, invalid("give a time (at) or in_window, not both")
	case req.At != nil:
		sched = ScheduleAt
		if !req.At.After(now) {
			return Request{}, invalid("at %s is not in the future (now %s)", req.At.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if req.At.After(now.AddDate(1, 0, 0)) {
			return Request{}, invalid("at %s is more than a year ahead", req.At.UTC().Format(time.RFC3339))
		}
	case req.InWindow:
		sched = ScheduleWindow
	}
	if action == ActionReboot && sched == ScheduleNow {
		return Request{}, invalid("a reboot needs a time: give at (RFC 3339) or in_window")
	}

	sel, devs, err := s.resolve(ctx, req)
	if err != nil {
		return Request{}, err
	}
	if err := requirePinnedKeys(devs); err != nil {
		return Request{}, err
	}

	var notBefore *time.Time
	switch sched {
	case ScheduleAt:
		t := req.At.UTC()
		notBefore = &t
	case ScheduleWindow:
		site := devs[0].Site
		for _, d := range devs {
			if d.Site != site {
				return Request{}, invalid("in-window devices span sites %s and %s, whose windows differ: make one request per site", site, d.Site)
			}
		}
		start, _, err := s.window(site, now)
		if err != nil {
			return Request{}, err
		}
		if start.Before(now) {
			start = now // the window is open now
		}
		t := start.UTC()
		notBefore = &t
	}

	id := uuid.New()
	var at *time.Time
	if req.At != nil {
		t := req.At.UTC()
		at = &t
	}
	batchSize, threshold := s.cfg.BatchSize, s.cfg.FailureThreshold
	hash := paramsHash(paramsVersion, id, action, actor.Name, reason, sel, devs, sched, at, batchSize, threshold)
	created := now.UTC()
	expires := created.Add(s.cfg.ApprovalTTL)
	selJSON, _ := json.Marshal(sel)

	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO remediation_requests (id, action, state, requested_by, reason, selector,
				schedule, run_at, not_before, batch_size, failure_threshold, params_hash, params_version, created_at, expires_at, updated_at)
			VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())`,
			id, action, actor.Name, reason, selJSON, sched, at, notBefore, batchSize, threshold, hash, paramsVersion, created, expires); err != nil {
			return fmt.Errorf("insert request: %w", err)
		}
		rows := make([][]any, len(devs))
		for i, d := range devs {
			rows[i] = []any{id, d.ID, d.Name, d.Site, d.Kind, d.Address, d.Credential, d.HostKey, i, batchOf(i, batchSize)}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"remediation_devices"},
			[]string{"request_id", "device_id", "device", "site", "kind", "address", "credential", "host_key", "position", "batch"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("insert request devices: %w", err)
		}
		names := make([]string, len(devs))
		for i, d := range devs {
			names[i] = d.Name
		}
		if err := audit.Record(ctx, tx, audit.Event{Actor: actor.Name, Action: AuditRequested, TargetKind: TargetRemediation,
			Target: id.String(), Details: map[string]any{"to": StatePending, "action": action, "devices": names,
				"schedule": sched, "not_before": notBefore, "reason": reason, "params_hash": hash, "selector": sel,
				"expires_at": expires}}); err != nil {
			return err
		}
		if s.notify == nil {
			return nil
		}
		// In the transaction: approvers hear of a request only if it exists.
		return s.notify.NotifyTx(ctx, tx, notify.ApprovalPending(notify.ApprovalInfo{RequestID: id.String(),
			Action: string(action), Devices: names, RequestedBy: actor.Name, Reason: reason, ExpiresAt: expires}))
	})
	if err != nil {
		return Request{}, fmt.Errorf("create request: %w", err)
	}
	s.log.Info("remediation requested", zap.String("request_id", id.String()), zap.String("action", string(action)),
		zap.Int("devices", len(devs)), zap.String("requested_by", actor.Name))
	return s.Get(ctx, id)
}

// requirePinnedKeys refuses devices without a pinned host key: an approval
// is of one box, and without a pinned key nothing says which box answers at
// the address (under tofu the first one to answer would be trusted at run
// time, after the approval).
func requirePinnedKeys(devs []Device) error {
	var none []string
	for _, d := range devs {
		if d.HostKey == "" {
			none = append(none, d.Name)
		}
	}
	if len(none) == 0 {
		return nil
	}
	shown := none
	if len(shown) > 10 {
		shown = shown[:10]
	}
	more := ""
	if len(none) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(none)-len(shown))
	}
	return invalid("%d device(s) have no pinned host key, so an approval could not be bound to one box: %s%s; diagnose them first (fleetctl diagnose --device NAME) and, under strict host-key policy, accept their keys (fleetctl hostkey accept NAME)",
		len(none), strings.Join(shown, ", "), more)
}

// sameActor compares token names as the two-person rule must: `Lead1` is
// `lead1` (the database constraint compares lower()).
func sameActor(a, b string) bool { return strings.EqualFold(a, b) }

// errLegacy refuses a request stored before device identities were frozen.
func errLegacy(id fmt.Stringer, what string) error {
	return fmt.Errorf("%w: request %s was made before fleetd froze device identities into approvals (parameters v1), so nothing says which boxes were approved; it cannot be %s: cancel it and make a new request",
		ErrConflict, id, what)
}

// changedSinceRequest lists the frozen devices the inventory no longer
// matches, each with what changed.
func (s *Service) changedSinceRequest(ctx context.Context, devs []deviceRow) ([]string, error) {
	frozen := make([]Device, len(devs))
	for i, d := range devs {
		frozen[i] = d.Device
	}
	lives, err := s.devices.CurrentDevices(ctx, frozen)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, d := range devs {
		if ch := identityChanges(d.Device, lives[i]); len(ch) > 0 {
			out = append(out, d.Name+": "+strings.Join(ch, ", "))
			if len(out) == 10 {
				out = append(out, "...")
				break
			}
		}
	}
	return out, nil
}

// batchOf: position 0 is the canary (batch 0); then batches of size n.
func batchOf(position, n int) int {
	if position == 0 {
		return 0
	}
	return (position-1)/n + 1
}

func (s *Service) resolve(ctx context.Context, req CreateRequest) (Selector, []Device, error) {
	var sel Selector
	var devs []Device
	var err error
	switch {
	case req.FromRun != "" && (len(req.Devices) > 0 || req.Site != "" || req.Diagnosis != ""):
		return sel, nil, invalid("from_run selects the devices itself: no devices, site or diagnosis with it")
	case req.FromRun != "":
		if req.Action != ActionRestartConnector {
			return sel, nil, invalid("from_run selects the devices a connector restart cures: only with action %s", ActionRestartConnector)
		}
		id, perr := uuid.Parse(req.FromRun)
		if perr != nil {
			return sel, nil, invalid("from_run %q is not a run id", req.FromRun)
		}
		sel.FromRun = id.String()
		devs, err = s.devices.DevicesRecommendedIn(ctx, id, string(ActionRestartConnector)) // the recommendation is named after the action
		if err == nil && len(devs) == 0 {
			return sel, nil, invalid("no device of run %s is cured by a connector restart (recommended restart-connector)", id)
		}
	case len(req.Devices) > 0 && (req.Site != "" || req.Diagnosis != ""):
		return sel, nil, invalid("name devices or select them by site/diagnosis, not both")
	case len(req.Devices) > 0:
		if len(req.Devices) > MaxDevices {
			return sel, nil, invalid("%d devices is more than %d in one request", len(req.Devices), MaxDevices)
		}
		seen := map[string]bool{}
		for _, n := range req.Devices {
			if inventory.CheckName(n) != nil {
				return sel, nil, invalid("bad device name %q", n)
			}
			if !seen[n] {
				seen[n] = true
				sel.Devices = append(sel.Devices, n)
			}
		}
		slices.Sort(sel.Devices)
		devs, err = s.devices.DevicesByName(ctx, sel.Devices)
	case req.Site != "" || req.Diagnosis != "":
		if req.Site != "" {
			if _, ok := s.cfg.Sites[req.Site]; !ok && len(s.cfg.Sites) > 0 {
				return sel, nil, invalid("unknown site %q", req.Site)
			}
			if !codeRE.MatchString(req.Site) && inventory.CheckName(req.Site) != nil {
				return sel, nil, invalid("bad site name %q", req.Site)
			}
		}
		if req.Diagnosis != "" && !codeRE.MatchString(req.Diagnosis) {
			return sel, nil, invalid("bad diagnosis code %q", req.Diagnosis)
		}
		sel.Site, sel.Diagnosis = req.Site, req.Diagnosis
		devs, err = s.devices.DevicesByStatus(ctx, req.Site, req.Diagnosis)
	default:
		return sel, nil, invalid("no devices: name devices, or give a site and/or diagnosis")
	}
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return sel, nil, err
		}
		return sel, nil, fmt.Errorf("resolve devices: %w", err)
	}
	if len(devs) == 0 {
		return sel, nil, invalid("no device matches site %q diagnosis %q in the latest status", req.Site, req.Diagnosis)
	}
	if len(devs) > MaxDevices {
		return sel, nil, invalid("%d devices is more than %d in one request", len(devs), MaxDevices)
	}
	slices.SortFunc(devs, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })
	devs = slices.CompactFunc(devs, func(a, b Device) bool { return a.Name == b.Name })
	return sel, devs, nil
}

// window returns the site's window containing or following t.
func (s *Service) window(site string, t time.Time) (start, end time.Time, err error) {
	return siteWindow(s.cfg.Sites, site, t)
}

func siteWindow(sites map[string]Site, site string, t time.Time) (start, end time.Time, err error) {
	cfg, ok := sites[site]
	if !ok {
		return start, end, invalid("site %q is not configured, so it has no maintenance window", site)
	}
	start, end, ok = cfg.Window.Next(t, cfg.location())
	if !ok {
		return start, end, invalid("site %q has no maintenance window (sites.%s.maintenance_window)", site, site)
	}
	return start, end, nil
}

// Get returns a request with its preview and per-device progress. A pending
// request past its expiry is expired first.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Request, error) {
	if _, err := s.ExpireDue(ctx); err != nil {
		return Request{}, err
	}
	r, err := loadRequest(ctx, s.pool, id, false)
	if err != nil {
		return Request{}, err
	}
	devs, err := loadDevices(ctx, s.pool, id)
	if err != nil {
		return Request{}, err
	}
	out := s.present(r, devs)
	evs, err := s.History(ctx, id)
	if err != nil {
		return Request{}, err
	}
	for _, e := range evs {
		h := HistoryEntry{At: e.At, Actor: e.Actor, Action: e.Action}
		h.From, _ = e.Details["from"].(string)
		h.To, _ = e.Details["to"].(string)
		h.Why, _ = e.Details["why"].(string)
		out.History = append(out.History, h)
	}
	return out, nil
}

func (s *Service) present(r requestRow, devs []deviceRow) Request {
	out := r.Request
	out.Devices = make([]string, len(devs))
	out.DeviceResults = make([]DeviceResult, len(devs))
	for i, d := range devs {
		out.Devices[i] = d.Name
		out.DeviceResults[i] = d.result()
	}
	p := buildPreview(r.Request, devs, s.cfg.Sites)
	out.Preview = &p
	return out
}

// ListFilter narrows List.
type ListFilter struct {
	State State
	Limit int
}

// List returns requests newest first (without per-device details).
func (s *Service) List(ctx context.Context, f ListFilter) ([]Request, error) {
	if _, err := s.ExpireDue(ctx); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+requestColumns+`,
			(SELECT array_agg(device ORDER BY position) FROM remediation_devices d WHERE d.request_id = r.id),
			(SELECT json_agg(json_build_object('device', x.device, 'id', x.device_id, 'site', x.site, 'address', x.address,
					'credential', x.credential, 'host_key', x.host_key) ORDER BY x.position)
				FROM (SELECT * FROM remediation_devices d WHERE d.request_id = r.id ORDER BY position LIMIT $3) x)
		FROM remediation_requests r WHERE ($1 = '' OR state = $1) ORDER BY created_at DESC LIMIT $2`,
		string(f.State), f.Limit, listIdentities)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Request, error) {
		var names []string
		var ids []byte
		r, err := scanRequest(rowWithExtra{row, []any{&names, &ids}})
		if err != nil {
			return r.Request, err
		}
		r.Devices = names
		if r.Devices == nil {
			r.Devices = []string{}
		}
		if len(ids) > 0 {
			if err := json.Unmarshal(ids, &r.Identities); err != nil {
				return r.Request, fmt.Errorf("decode device identities of request %s: %w", r.ID, err)
			}
		}
		return r.Request, nil
	})
}

// listIdentities is how many frozen device identities List returns per
// request (what `approvals list` shows); Get returns them all (preview).
const listIdentities = 3

// rowWithExtra scans request columns plus trailing extra destinations.
type rowWithExtra struct {
	pgx.Row
	extra []any
}

func (r rowWithExtra) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// ExpireDue turns pending requests past their expiry into expired ones,
// with an audit event each, and returns how many.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	return expireDue(ctx, s.pool, s.clock, s.log)
}

func expireDue(ctx context.Context, pool *pgxpool.Pool, clock Clock, log *zap.Logger) (int, error) {
	now := clock.Now()
	var n int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE remediation_requests SET state = 'expired', decided_at = $1, updated_at = now()
			WHERE state = 'pending' AND expires_at <= $1 RETURNING id, expires_at`, now)
		if err != nil {
			return err
		}
		type exp struct {
			id uuid.UUID
			at time.Time
		}
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (exp, error) {
			var e exp
			return e, row.Scan(&e.id, &e.at)
		})
		if err != nil {
			return err
		}
		n = len(list)
		evs := make([]audit.Event, len(list))
		for i, e := range list {
			evs[i] = audit.Event{Actor: SystemActor, Action: AuditExpired, TargetKind: TargetRemediation, Target: e.id.String(),
				Details: map[string]any{"from": StatePending, "to": StateExpired,
					"why": "not approved before " + e.at.UTC().Format(time.RFC3339)}}
		}
		return audit.RecordMany(ctx, tx, evs)
	})
	if err != nil {
		return 0, fmt.Errorf("expire requests: %w", err)
	}
	if n > 0 {
		log.Info("remediation requests expired", zap.Int("count", n))
	}
	return n, nil
}

// decision is what Approve, Reject and Cancel do to a request, given to
// decide.
type decision struct {
	// authorize, when set, says whether the actor may decide on this
	// request at all; it runs first, before an expiry is recorded.
	authorize func(r requestRow) error
	// expired, when set, is the error returned when the request is found
	// pending past its expiry: the expiry (and its audit event) commits,
	// then the decision is refused with it. When nil, apply runs on the
	// request, now in state expired.
	expired func(r requestRow) error
	// apply checks the request's state (and the rules of the decision) and
	// makes the transition with its audit events, in the transaction.
	apply func(tx pgx.Tx, r requestRow) error
}

// decide runs d on request id in one transaction that holds the request's
// row lock throughout: lock and load; authorize; record the expiry of a
// request pending past its expires_at (a decision never acts on an expired
// request, and an expiry found is recorded even when the decision is then
// refused); then d's state checks, transition and audit events.
func (s *Service) decide(ctx context.Context, id uuid.UUID, now time.Time, d decision) error {
	var expiredErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := loadRequest(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if d.authorize != nil {
			if err := d.authorize(r); err != nil {
				return err
			}
		}
		if r.State == StatePending && !now.Before(r.ExpiresAt) {
			// Record the expiry (and commit it), then refuse or go on.
			if err := s.expireTx(ctx, tx, r); err != nil {
				return err
			}
			if d.expired != nil {
				expiredErr = d.expired(r)
				return nil
			}
			r.State = StateExpired
		}
		return d.apply(tx, r)
	})
	if err != nil {
		return err
	}
	return expiredErr
}

// Approve approves a pending request and schedules its job. The approver
// must be another identity than the requester and hold the approver or
// admin role. reviewedHash, when set, is the params_hash the approver was
// shown: the approval fails if the request no longer matches it.
func (s *Service) Approve(ctx context.Context, actor Actor, id uuid.UUID, comment, reviewedHash string) (Request, error) {
	comment, err := cleanText("comment", comment, 500)
	if err != nil {
		return Request{}, err
	}
	if !actor.canDecide() {
		return Request{}, fmt.Errorf("%w: role %q cannot approve; the approver or admin role is required", ErrForbidden, actor.Role)
	}
	now := s.clock.Now()
	expired := func(r requestRow) error {
		return fmt.Errorf("%w: request %s expired at %s without approval; it cannot be approved, make a new request",
			ErrExpired, id, r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	err = s.decide(ctx, id, now, decision{expired: expired, apply: func(tx pgx.Tx, r requestRow) error {
		if r.State == StateExpired {
			return expired(r)
		}
		if r.State != StatePending {
			return fmt.Errorf("%w: request %s is %s; only a pending request can be approved, and only once", ErrConflict, id, r.State)
		}
		if sameActor(actor.Name, r.RequestedBy) {
			as := ""
			if actor.Name != r.RequestedBy {
				as = " as " + r.RequestedBy + " (token names are compared without regard to case)"
			}
			return fmt.Errorf("%w: %s requested %s%s and cannot also approve it; another approver must", ErrSelfApproval, actor.Name, id, as)
		}
		devs, err := loadDevices(ctx, tx, id)
		if err != nil {
			return err
		}
		hash := recomputeHash(r, devs)
		if hash != r.ParamsHash {
			return fmt.Errorf("%w: request %s no longer matches what was requested (parameters hash differs); refusing to approve", ErrConflict, id)
		}
		if reviewedHash != "" && reviewedHash != hash {
			return fmt.Errorf("%w: request %s is not the one you reviewed (params_hash %s, you saw %s)", ErrConflict, id, short(hash), short(reviewedHash))
		}
		if r.paramsVersion < paramsVersion {
			return errLegacy(id, "approved")
		}
		// What the approver is shown is the frozen identity; if the
		// inventory moved on since, the preview is stale: refuse.
		changed, err := s.changedSinceRequest(ctx, devs)
		if err != nil {
			return err
		}
		if len(changed) > 0 {
			return fmt.Errorf("%w: request %s cannot be approved: its devices changed since it was requested (%s); cancel it and make a new request",
				ErrConflict, id, strings.Join(changed, "; "))
		}
		notBefore, why, err := s.startTime(r, devs, now)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE remediation_requests SET state = 'approved', approved_by = $2, approved_at = $3,
				approval_comment = $4, approved_hash = $5, updated_at = now() WHERE id = $1`,
			id, actor.Name, now.UTC(), comment, hash); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		if err := audit.Record(ctx, tx, audit.Event{Actor: actor.Name, Action: AuditApproved, TargetKind: TargetRemediation,
			Target: id.String(), Details: map[string]any{"from": StatePending, "to": StateApproved, "why": comment,
				"params_hash": hash, "role": actor.Role, "requested_by": r.RequestedBy}}); err != nil {
			return err
		}
		// The job starts now and sleeps (snoozes) until its time, looking at
		// the clock on every wake-up: a wait is always re-judged, never trusted.
		res, err := s.river.InsertTx(ctx, tx, RemediateArgs{RequestID: id}, &river.InsertOpts{
			Queue: queues.Remediate, MaxAttempts: MaxJobAttempts,
			UniqueOpts: river.UniqueOpts{ByArgs: true},
		})
		if err != nil {
			return fmt.Errorf("enqueue remediation job: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE remediation_requests SET state = 'scheduled', not_before = $2, schedule_note = $3,
				job_id = $4, updated_at = now() WHERE id = $1`, id, notBefore, why, res.Job.ID); err != nil {
			return fmt.Errorf("schedule: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{Actor: SystemActor, Action: AuditScheduled, TargetKind: TargetRemediation,
			Target: id.String(), Details: map[string]any{"from": StateApproved, "to": StateScheduled, "why": why,
				"not_before": notBefore, "job_id": res.Job.ID}})
	}})
	if err != nil {
		return Request{}, err
	}
	s.log.Info("remediation approved", zap.String("request_id", id.String()), zap.String("approved_by", actor.Name))
	return s.Get(ctx, id)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// startTime says when an approved request may start, and why.
func (s *Service) startTime(r requestRow, devs []deviceRow, now time.Time) (*time.Time, string, error) {
	switch r.Schedule {
	case ScheduleAt:
		if r.At == nil {
			return nil, "", fmt.Errorf("request %s: schedule 'at' without a time", r.ID)
		}
		if r.At.Before(now) {
			return nil, "", fmt.Errorf("%w: the requested time %s has passed; cancel this request and make a new one rather than act at an unplanned time",
				ErrConflict, r.At.UTC().Format(time.RFC3339))
		}
		t := r.At.UTC()
		return &t, "runs at the requested time " + t.Format(time.RFC3339), nil
	case ScheduleWindow:
		if len(devs) == 0 {
			return nil, "", fmt.Errorf("request %s has no devices", r.ID)
		}
		site := devs[0].Site
		start, end, err := s.window(site, now)
		if err != nil {
			return nil, "", err
		}
		if start.Before(now) {
			t := now.UTC()
			return &t, fmt.Sprintf("site %s maintenance window is open until %s", site, end.UTC().Format(time.RFC3339)), nil
		}
		t := start.UTC()
		return &t, fmt.Sprintf("waits for site %s maintenance window %s to %s", site, start.UTC().Format(time.RFC3339),
			end.UTC().Format(time.RFC3339)), nil
	default:
		return nil, "runs as soon as a worker takes it", nil
	}
}

func (s *Service) expireTx(ctx context.Context, tx pgx.Tx, r requestRow) error {
	now := s.clock.Now()
	if _, err := tx.Exec(ctx, `UPDATE remediation_requests SET state = 'expired', decided_at = $2, updated_at = now()
		WHERE id = $1 AND state = 'pending'`, r.ID, now.UTC()); err != nil {
		return fmt.Errorf("expire %s: %w", r.ID, err)
	}
	return audit.Record(ctx, tx, audit.Event{Actor: SystemActor, Action: AuditExpired, TargetKind: TargetRemediation,
		Target: r.ID.String(), Details: map[string]any{"from": StatePending, "to": StateExpired,
			"why": "not approved before " + r.ExpiresAt.UTC().Format(time.RFC3339)}})
}

// Reject refuses a pending request. Like approval, it is an approver's
// decision about someone else's request (a requester cancels their own).
func (s *Service) Reject(ctx context.Context, actor Actor, id uuid.UUID, reason string) (Request, error) {
	reason, err := cleanText("reason", reason, 500)
	if err != nil {
		return Request{}, err
	}
	if reason == "" {
		return Request{}, invalid("a reason is required to reject")
	}
	if !actor.canDecide() {
		return Request{}, fmt.Errorf("%w: role %q cannot reject; the approver or admin role is required", ErrForbidden, actor.Role)
	}
	now := s.clock.Now()
	expired := func(r requestRow) error {
		return fmt.Errorf("%w: request %s already expired at %s", ErrExpired, id, r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	err = s.decide(ctx, id, now, decision{expired: expired, apply: func(tx pgx.Tx, r requestRow) error {
		if r.State != StatePending {
			return fmt.Errorf("%w: request %s is %s; only a pending request can be rejected", ErrConflict, id, r.State)
		}
		if sameActor(actor.Name, r.RequestedBy) {
			return fmt.Errorf("%w: %s requested %s; use `fleetctl requests cancel` to withdraw your own request", ErrForbidden, actor.Name, id)
		}
		if _, err := tx.Exec(ctx, `UPDATE remediation_requests SET state = 'rejected', rejected_by = $2, reject_reason = $3,
				decided_at = $4, updated_at = now() WHERE id = $1`, id, actor.Name, reason, now.UTC()); err != nil {
			return fmt.Errorf("reject: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{Actor: actor.Name, Action: AuditRejected, TargetKind: TargetRemediation,
			Target: id.String(), Details: map[string]any{"from": StatePending, "to": StateRejected, "why": reason, "role": actor.Role}})
	}})
	if err != nil {
		return Request{}, err
	}
	return s.Get(ctx, id)
}

// Cancel withdraws a request until it starts running. The requester may
// cancel their own; approvers and admins may cancel any.
func (s *Service) Cancel(ctx context.Context, actor Actor, id uuid.UUID, reason string) (Request, error) {
	reason, err := cleanText("reason", reason, 500)
	if err != nil {
		return Request{}, err
	}
	now := s.clock.Now()
	authorize := func(r requestRow) error {
		if actor.Name != r.RequestedBy && !actor.canDecide() {
			return fmt.Errorf("%w: only the requester (%s), an approver or an admin can cancel %s", ErrForbidden, r.RequestedBy, id)
		}
		return nil
	}
	// An expired request is not refused in the transaction: its expiry
	// commits, and the refusal comes with the request as it now is.
	err = s.decide(ctx, id, now, decision{authorize: authorize, apply: func(tx pgx.Tx, r requestRow) error {
		if !r.State.Cancellable() {
			msg := fmt.Sprintf("request %s is %s", id, r.State)
			if r.State == StateRunning {
				msg += "; it has started and can no longer be cancelled"
			} else {
				msg += "; only pending, approved or scheduled requests can be cancelled"
			}
			if r.State == StateExpired {
				return nil // committed below as expired; reported after commit
			}
			return fmt.Errorf("%w: %s", ErrConflict, msg)
		}
		if _, err := tx.Exec(ctx, `UPDATE remediation_requests SET state = 'cancelled', cancelled_by = $2, cancel_reason = $3,
				decided_at = $4, updated_at = now() WHERE id = $1`, id, actor.Name, reason, now.UTC()); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{Actor: actor.Name, Action: AuditCancelled, TargetKind: TargetRemediation,
			Target: id.String(), Details: map[string]any{"from": r.State, "to": StateCancelled, "why": reason, "role": actor.Role}})
	}})
	if err != nil {
		return Request{}, err
	}
	out, err := s.Get(ctx, id)
	if err == nil && out.State == StateExpired {
		return out, fmt.Errorf("%w: request %s expired before it was approved; nothing to cancel", ErrConflict, id)
	}
	return out, err
}

// History returns the request's audit events, oldest first.
func (s *Service) History(ctx context.Context, id uuid.UUID) ([]audit.Event, error) {
	evs, err := audit.List(ctx, s.pool, audit.Filter{TargetKind: TargetRemediation, Target: id.String(), Limit: audit.MaxLimit})
	if err != nil {
		return nil, err
	}
	slices.Reverse(evs)
	return evs, nil
}
