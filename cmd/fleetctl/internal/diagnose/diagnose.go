// Package diagnose holds fleetctl's diagnose, runs and status commands: the
// product's main job and the queries over its results.
package diagnose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// Options are diagnose's inputs.
type Options struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Site    string
	Tag     string
	Devices []string
	All     bool
	Checks  []string
	Detach  bool
	// Rerun checks again the devices of that run whose health Only names.
	Rerun string
	Only  string
	// PollInterval is how often progress is fetched.
	PollInterval time.Duration
}

// NewCmdDiagnose builds `fleetctl diagnose`.
func NewCmdDiagnose(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat, PollInterval: 500 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "diagnose (--site S | --device NAME... | --all | --rerun RUN_ID [--only unhealthy|error|not-healthy]) [--check ID]... [--detach]",
		Short: "Run the SSE connector checks on devices and show a verdict per device",
		Long: `diagnose runs the tech note's checks (SSE connectivity, connector.properties,
the connector process, EventHandler's socket, the cloud session, connector.log,
enrolment) on every selected device, over SSH, through fleetd. The run is
durable: it continues on the server if fleetctl is interrupted.

--rerun RUN_ID checks again just the devices of that run that were not
healthy (--only unhealthy: checks ran and found a fault; error: could not be
checked; not-healthy, the default: both), with that run's checks unless
--check is given.

Exit status: 0 every device healthy; 3 some device unhealthy or not checked
(unreachable, auth-failed, hostkey-*, timeout); 1 error; 2 bad usage.`,
		Example: `  fleetctl diagnose --site emea
  fleetctl diagnose --device ftd-ams-01 --device ftd-ams-02 -o json
  fleetctl diagnose --all --check sse.connectivity --detach
  fleetctl diagnose --rerun 0b7e... --only error`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			switch opts.Only {
			case "", onlyNotHealthy, "unhealthy", "error":
			default:
				return cmdutil.FlagErrorf("--only %q: want unhealthy, error or not-healthy", opts.Only)
			}
			if opts.Only != "" && opts.Rerun == "" {
				return cmdutil.FlagErrorf("--only goes with --rerun RUN_ID")
			}
			for _, set := range []bool{opts.Site != "" || opts.Tag != "", len(opts.Devices) > 0, opts.All, opts.Rerun != ""} {
				if set {
					n++
				}
			}
			if n != 1 {
				return cmdutil.FlagErrorf("give exactly one of --site (with optional --tag), --tag, --device, --all, --rerun")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return diagnoseRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Site, "site", "", "diagnose every device of this site")
	cmd.Flags().StringVar(&opts.Tag, "tag", "", "diagnose devices with this tag k=v (with --site: within the site)")
	cmd.Flags().StringArrayVar(&opts.Devices, "device", nil, "diagnose this device (repeat for several)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "diagnose the whole inventory")
	cmd.Flags().StringArrayVar(&opts.Checks, "check", nil, "run only this check (repeat); prerequisites are added")
	cmd.Flags().BoolVar(&opts.Detach, "detach", false, "print the run id and return without waiting")
	cmd.Flags().StringVar(&opts.Rerun, "rerun", "", "check again the devices of this run that were not healthy")
	cmd.Flags().StringVar(&opts.Only, "only", "", "with --rerun: unhealthy, error or not-healthy (default)")
	return cmd
}

func diagnoseRun(ctx context.Context, opts *Options) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	req := api.StartRunRequest{
		Selector: api.Selector{All: opts.All, Site: opts.Site, Tag: opts.Tag, Devices: opts.Devices},
		Checks:   opts.Checks,
	}
	if opts.Rerun != "" {
		var nothing bool
		if req, nothing, err = rerunRequest(ctx, opts, c); err != nil || nothing {
			return err
		}
	}
	run, err := c.StartRun(ctx, req)
	if err != nil {
		return err
	}
	if opts.Detach {
		if opts.Format() == cmdutil.FormatTable {
			fmt.Fprintln(opts.IO.Out, run.ID)
			if opts.IO.IsStderrTTY() {
				fmt.Fprintf(opts.IO.ErrOut, "follow it with: fleetctl runs watch %s\n", run.ID)
			}
			return nil
		}
		return cmdutil.Render(opts.IO, opts.Format(), run, nil)
	}
	return waitAndReport(ctx, opts.IO, c, opts.Format(), run, opts.PollInterval)
}

const onlyNotHealthy = "not-healthy"

// rerunRequest selects the devices of run opts.Rerun whose health opts.Only
// names. nothing is true (and a line printed) when there is none.
func rerunRequest(ctx context.Context, opts *Options, c *api.Client) (req api.StartRunRequest, nothing bool, err error) {
	id, err := parseRunID(opts.Rerun)
	if err != nil {
		return req, false, err
	}
	prev, err := c.GetRun(ctx, id, api.RunQuery{Devices: true})
	if err != nil {
		return req, false, err
	}
	only := opts.Only
	if only == "" {
		only = onlyNotHealthy
	}
	for _, d := range prev.Devices {
		if d.State == "done" && (d.Health == only || only == onlyNotHealthy && d.Health != "healthy") {
			req.Selector.Devices = append(req.Selector.Devices, d.Device)
		}
	}
	req.Checks = opts.Checks
	if len(req.Checks) == 0 {
		req.Checks = prev.Checks
	}
	if len(req.Selector.Devices) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no device of run %s is %s: nothing to check again\n", id, only)
		return req, true, nil
	}
	return req, false, nil
}

// waitAndReport follows a run to its end, then prints it and returns the
// exit status it deserves.
func waitAndReport(ctx context.Context, ios *iostreams.IOStreams, c *api.Client, format cmdutil.Format, run api.Run, poll time.Duration) error {
	final, err := Wait(ctx, ios, c, run, poll)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(ios.ErrOut, "\nstopped waiting; the run continues on the server: fleetctl runs watch %s\n", run.ID)
		}
		return err
	}
	if format == cmdutil.FormatJSON {
		if err := printRunJSON(ctx, ios, c, final.ID, api.RunQuery{Devices: true, Checks: true}); err != nil {
			return err
		}
		return exitFor(final.Summary)
	}
	full, err := c.GetRun(ctx, final.ID, api.RunQuery{Devices: true, Checks: format != cmdutil.FormatTable})
	if err != nil {
		return err
	}
	if err := RenderRun(ios, format, full); err != nil {
		return err
	}
	return exitFor(full.Summary)
}

func exitFor(s api.RunSummary) error {
	if bad := s.Unhealthy + s.Error; bad > 0 {
		return cmdutil.ErrUnhealthy(fmt.Sprintf("%d of %d devices unhealthy or not checked", bad, s.Devices))
	}
	return nil
}

// Wait polls the run until it is completed or cancelled, drawing progress on
// stderr when stderr is a terminal.
func Wait(ctx context.Context, ios *iostreams.IOStreams, c *api.Client, run api.Run, poll time.Duration) (api.Run, error) {
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	p := progress{w: ios.ErrOut, tty: ios.IsStderrTTY(), start: time.Now()}
	defer p.finish()
	for {
		if run.Status == "completed" || run.Status == "cancelled" {
			p.draw(run)
			return run, nil
		}
		p.draw(run)
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-time.After(poll):
		}
		next, err := c.GetRun(ctx, run.ID, api.RunQuery{})
		if err != nil {
			return run, err
		}
		run = next
	}
}

type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	drawn bool
}

func (p *progress) draw(r api.Run) {
	if !p.tty {
		return
	}
	s := r.Summary
	elapsed := time.Since(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(s.Done) / elapsed.Seconds()
	}
	eta := "-"
	if rate > 0 && s.Done < s.Devices {
		eta = (time.Duration(float64(s.Devices-s.Done)/rate) * time.Second).Round(time.Second).String()
	}
	const width = 24
	filled := 0
	if s.Devices > 0 {
		filled = width * s.Done / s.Devices
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.w, "\r\x1b[K[%s] %d/%d devices  %.1f/s  ETA %s  unhealthy %d  errors %d",
		bar, s.Done, s.Devices, rate, eta, s.Unhealthy, s.Error)
	p.drawn = true
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// RenderRun prints a finished run: the docs/design.md run object for json/yaml,
// for people a table grouped by diagnosis with the affected devices.
func RenderRun(ios *iostreams.IOStreams, format cmdutil.Format, run api.Run) error {
	if format != cmdutil.FormatTable {
		return cmdutil.Render(ios, format, run, nil)
	}
	type group struct {
		diagnosis, recommended string
		devices                []string
	}
	groups := map[string]*group{}
	for _, d := range run.Devices {
		keys := d.Diagnoses
		if len(keys) == 0 {
			keys = []string{d.Health}
			if d.State == "pending" {
				keys = []string{"pending"}
			}
		}
		for _, k := range keys {
			g := groups[k]
			if g == nil {
				g = &group{diagnosis: k}
				groups[k] = g
			}
			if g.recommended == "" {
				g.recommended = recommendedText(d)
			}
			g.devices = append(g.devices, d.Device)
		}
	}
	list := make([]*group, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool {
		hi, hj := list[i].diagnosis == "healthy", list[j].diagnosis == "healthy"
		if hi != hj {
			return hj // healthy last
		}
		if len(list[i].devices) != len(list[j].devices) {
			return len(list[i].devices) > len(list[j].devices)
		}
		return list[i].diagnosis < list[j].diagnosis
	})
	if err := RenderIncidents(ios, run.Incidents, explainedCount(run), run.Summary.Unhealthy+run.Summary.Error, false); err != nil {
		return err
	}
	t := cmdutil.NewTable(ios)
	t.Header("diagnosis", "devices", "recommended", "affected")
	for _, g := range list {
		affected := ""
		if g.diagnosis != "healthy" {
			affected = abbreviate(g.devices, 6)
		}
		t.Row(g.diagnosis, fmt.Sprint(len(g.devices)), g.recommended, affected)
	}
	if err := t.Render(); err != nil {
		return err
	}
	s := run.Summary
	took := ""
	if run.StartedAt != nil && run.FinishedAt != nil {
		took = " in " + run.FinishedAt.Sub(run.CreatedAt).Round(100*time.Millisecond).String()
	}
	fmt.Fprintf(ios.Out, "\nrun %s %s: %d devices, %d healthy, %d unhealthy, %d not checked%s\n",
		run.ID, run.Status, s.Devices, s.Healthy, s.Unhealthy, s.Error, took)
	if s.Unhealthy+s.Error > 0 {
		fmt.Fprintf(ios.Out, "details: fleetctl runs show %s [--device NAME]\n", run.ID)
	}
	return nil
}

func abbreviate(names []string, n int) string {
	sort.Strings(names)
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s (+%d more)", strings.Join(names[:n], ", "), len(names)-n)
}

func parseRunID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, cmdutil.FlagErrorf("%q is not a run id (a UUID, see `fleetctl runs list`)", s)
	}
	return id, nil
}

// printRunJSON prints the run as the server encoded it: a run of 10,000
// devices with their checks is tens of megabytes, and decoding it only to
// encode it again would double fleetctl's time. Indented for people on a
// terminal; compact (one line, as the server sent it) for pipes, as gh does.
func printRunJSON(ctx context.Context, ios *iostreams.IOStreams, c *api.Client, id uuid.UUID, q api.RunQuery) error {
	raw, err := c.GetRunJSON(ctx, id, q)
	if err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		return fmt.Errorf("run %s: the server's answer is not valid JSON", id)
	}
	if !ios.IsStdoutTTY() {
		_, err = ios.Out.Write(append(raw, '\n'))
		return err
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) + len(raw)/2)
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	buf.WriteByte('\n')
	_, err = buf.WriteTo(ios.Out)
	return err
}
