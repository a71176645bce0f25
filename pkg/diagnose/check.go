package diagnose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Executor runs one command on a device at the root prompt and returns what the terminal
// showed (the runner's Session implements it; tests use a map). err is for failures to run the
// command at all (transport, timeout), not for the command's own complaints, which are output.
type Executor interface {
	Run(ctx context.Context, cmd string) (output string, err error)
}

// ExecutorFunc adapts a function to Executor, e.g.
// diagnose.ExecutorFunc(func(ctx context.Context, cmd string) (string, error) { return s.Run(ctx, runner.LevelRoot, cmd) }).
type ExecutorFunc func(ctx context.Context, cmd string) (string, error)

// Run calls f.
func (f ExecutorFunc) Run(ctx context.Context, cmd string) (string, error) { return f(ctx, cmd) }

// Defaults for Env.
const (
	DefaultLogWindow   = 15 * time.Minute
	DefaultCurlMaxTime = 10 * time.Second
)

// Env is what the checks need to know about one device.
type Env struct {
	Device string
	Site   string
	// Region is the SSE region the site maps to; Endpoints are its hosts (what gets curled, and
	// the API host connector_fqdn must equal).
	Region    string
	Endpoints Endpoints
	// Regions is the whole table, used to recognise another region's API host (region-mismatch).
	// Nil means DefaultRegions().
	Regions RegionTable
	// Now is the time connector.log is judged at (zero: time.Now()); LogWindow how far back an
	// error still counts (zero: DefaultLogWindow).
	Now       time.Time
	LogWindow time.Duration
	// CurlMaxTime bounds each connectivity curl on the device (zero: DefaultCurlMaxTime). The
	// runner's per-command timeout must be longer.
	CurlMaxTime time.Duration
}

// NewEnv builds the Env of a device in region from a validated table.
func NewEnv(device, site, region string, regions RegionTable) (Env, error) {
	e, ok := regions[region]
	if !ok {
		return Env{}, fmt.Errorf("region %q of site %q is not in the region table (known: %s)",
			region, site, strings.Join(regions.Names(), ", "))
	}
	env := Env{Device: device, Site: site, Region: region, Endpoints: e, Regions: regions}
	return env, env.Validate()
}

// Validate checks everything that ends up in a command.
func (e Env) Validate() error {
	if err := e.Endpoints.Validate(); err != nil {
		return fmt.Errorf("endpoints of region %q: %w", e.Region, err)
	}
	if e.Regions != nil {
		if err := e.Regions.Validate(); err != nil {
			return err
		}
	}
	if e.LogWindow < 0 || e.CurlMaxTime < 0 {
		return errors.New("log window and curl max time must not be negative")
	}
	return nil
}

func (e Env) withDefaults() Env {
	if e.Regions == nil {
		e.Regions = DefaultRegions()
	}
	if e.Now.IsZero() {
		e.Now = time.Now()
	}
	if e.LogWindow == 0 {
		e.LogWindow = DefaultLogWindow
	}
	if e.CurlMaxTime == 0 {
		e.CurlMaxTime = DefaultCurlMaxTime
	}
	return e
}

// CheckResult is the outcome of one check on one device.
type CheckResult struct {
	ID       string         `json:"id"`
	Verdict  Verdict        `json:"verdict"`
	Summary  string         `json:"summary"`
	Evidence map[string]any `json:"evidence"`
	// Diagnoses are the codes this result is evidence for (only on fail, or on error for a
	// timeout). Assess turns them into the device's diagnoses.
	Diagnoses []Diagnosis   `json:"-"`
	Duration  time.Duration `json:"-"`
}

// Check is one entry of the catalog.
type Check struct {
	ID    string
	Title string
	// Requires lists checks that must not have failed for this one to mean anything; when one
	// did, this check is skipped. RunChecks runs them first even if they were not asked for.
	Requires []string

	commands func(Env) ([]string, error)
	run      func(ctx context.Context, r *checkRun) CheckResult
}

// Commands lists the commands the check sends for env, in order (sse.connectivity may stop
// early and send fewer).
func (c Check) Commands(env Env) ([]string, error) { return c.commands(env.withDefaults()) }

// Check ids.
const (
	CheckSSEConnectivity     = "sse.connectivity"
	CheckConnectorProperties = "connector.properties"
	CheckConnectorProcess    = "connector.process"
	CheckEventHandlerSocket  = "connector.eventhandler-socket"
	CheckCloudSession        = "connector.cloud-session"
	CheckConnectorLog        = "connector.log"
	CheckConnectorEnrollment = "connector.enrollment"
)

// Catalog returns every check in the order RunChecks runs them (prerequisites first).
func Catalog() []Check { return slices.Clone(catalog) }

// Lookup finds a check by id.
func Lookup(id string) (Check, bool) {
	i := slices.IndexFunc(catalog, func(c Check) bool { return c.ID == id })
	if i < 0 {
		return Check{}, false
	}
	return catalog[i], true
}

// CheckIDs lists the catalog's ids in order.
func CheckIDs() []string {
	ids := make([]string, len(catalog))
	for i, c := range catalog {
		ids[i] = c.ID
	}
	return ids
}

// ValidateCheckIDs rejects unknown ids, for API handlers to answer 400 before any work starts.
func ValidateCheckIDs(ids []string) error {
	for _, id := range ids {
		if _, ok := Lookup(id); !ok && !IsFMCCheck(id) {
			return fmt.Errorf("unknown check %q (known: %s)", id, strings.Join(append(CheckIDs(), FMCCheckIDs()...), ", "))
		}
	}
	return nil
}

// Plan returns the checks RunChecks runs for ids (nil or empty: all): the requested ones plus
// their prerequisites, in catalog order, without duplicates. Unknown ids are returned separately.
func Plan(ids []string) (checks []Check, unknown []string) {
	if len(ids) == 0 {
		return Catalog(), nil
	}
	want := map[string]bool{}
	var add func(id string)
	add = func(id string) {
		c, ok := Lookup(id)
		if !ok {
			if !slices.Contains(unknown, id) {
				unknown = append(unknown, id)
			}
			return
		}
		if want[id] {
			return
		}
		want[id] = true
		for _, r := range c.Requires {
			add(r)
		}
	}
	for _, id := range ids {
		add(id)
	}
	for _, c := range catalog {
		if want[c.ID] {
			checks = append(checks, c)
		}
	}
	return checks, unknown
}

// RunChecks runs the checks named by ids (nil or empty: the whole catalog; see Plan)
// sequentially on one device: for each, its commands, its parser, its verdict. A check whose prerequisite failed is skipped; once ctx is done the remaining
// checks are reported as errors without sending anything. It never returns an error: every
// problem is a result, so that a device always gets one result per check. Unknown ids get an
// error result at the end.
func RunChecks(ctx context.Context, exec Executor, env Env, ids []string) []CheckResult {
	checks, unknown := Plan(ids)
	env = env.withDefaults()
	envErr := env.Validate()
	results := make([]CheckResult, 0, len(checks)+len(unknown))
	prior := make(map[string]CheckResult, len(checks))
	for _, c := range checks {
		var res CheckResult
		start := time.Now()
		switch {
		case envErr != nil:
			res = errorResult("invalid device environment, nothing sent: "+envErr.Error(), nil)
		case ctx.Err() != nil:
			res = errorResult("not run: "+ctx.Err().Error(), nil)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				res.Diagnoses = []Diagnosis{DiagTimeout}
			}
		default:
			if reason := skipReason(c, prior); reason != "" {
				res = CheckResult{Verdict: VerdictSkip, Summary: reason}
			} else {
				res = c.run(ctx, &checkRun{exec: exec, env: env, prior: prior})
			}
		}
		res.ID = c.ID
		res.Duration = time.Since(start)
		if res.Evidence == nil {
			res.Evidence = map[string]any{}
		}
		prior[c.ID] = res
		results = append(results, res)
	}
	for _, id := range unknown {
		results = append(results, CheckResult{
			ID: id, Verdict: VerdictError, Evidence: map[string]any{},
			Summary: fmt.Sprintf("unknown check %q", id),
		})
	}
	return results
}

func skipReason(c Check, prior map[string]CheckResult) string {
	for _, id := range c.Requires {
		if p, ok := prior[id]; ok && (p.Verdict == VerdictFail || p.Verdict == VerdictSkip) {
			return fmt.Sprintf("skipped: %s failed (%s)", id, p.Summary)
		}
	}
	return ""
}

// checkRun is what one check sees while it runs.
type checkRun struct {
	exec  Executor
	env   Env
	prior map[string]CheckResult
}

// cmd runs one command; a failure becomes the check's error result.
func (r *checkRun) cmd(ctx context.Context, cmd string) (string, *CheckResult) {
	out, err := r.exec.Run(ctx, cmd)
	if err != nil {
		res := errorResult(fmt.Sprintf("running %q: %v", cmd, err), map[string]any{"command": cmd})
		if errors.Is(err, context.DeadlineExceeded) {
			res.Diagnoses = []Diagnosis{DiagTimeout}
		}
		return out, &res
	}
	if p := commandProblem(out); p != "" {
		res := errorResult(fmt.Sprintf("the device could not run %q: %s", cmd, p), map[string]any{"command": cmd})
		return out, &res
	}
	return out, nil
}

// verdictOf is the verdict of an earlier check in this run ("" when it did not run).
func (r *checkRun) verdictOf(id string) Verdict { return r.prior[id].Verdict }

func errorResult(summary string, evidence map[string]any) CheckResult {
	return CheckResult{Verdict: VerdictError, Summary: summary, Evidence: evidence}
}

func result(v Verdict, summary string, evidence map[string]any, codes ...Diagnosis) CheckResult {
	return CheckResult{Verdict: v, Summary: summary, Evidence: evidence, Diagnoses: codes}
}
