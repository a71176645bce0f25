package diagnose

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// RunsOptions are the inputs of the runs subcommands.
type RunsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	RunID        string
	Device       string
	Diff         bool // runs show --diff (diff.go)
	Limit        int
	PollInterval time.Duration
}

// NewCmdRuns builds `fleetctl runs list|show|watch`.
func NewCmdRuns(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs <command>",
		Short: "Inspect diagnose runs and sweeps",
		Args:  cmdutil.GroupArgs,
		RunE:  cmdutil.GroupRun,
	}
	newOpts := func() *RunsOptions {
		return &RunsOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat, PollInterval: 500 * time.Millisecond}
	}

	lo := newOpts()
	list := &cobra.Command{
		Use:   "list [--limit N]",
		Short: "List recent runs, newest first",
		Args:  cmdutil.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runsList(cmd.Context(), lo) },
	}
	list.Flags().IntVar(&lo.Limit, "limit", 20, "how many runs")

	so := newOpts()
	show := &cobra.Command{
		Use:   "show RUN_ID [--device NAME]",
		Short: "Show a run: per device, or one device's checks and transcript",
		Example: `  fleetctl runs show 4b0c...
  fleetctl runs show 4b0c... --device ftd-ams-01
  fleetctl runs show 4b0c... --diff
  fleetctl runs show 4b0c... -o json`,
		Args: cmdutil.ExactArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			so.RunID = args[0]
			return runsShow(cmd.Context(), so)
		},
	}
	show.Flags().StringVar(&so.Device, "device", "", "show this device's checks and transcript")
	show.Flags().BoolVar(&so.Diff, "diff", false, "what changed since the previous run of the same kind and selector")
	show.MarkFlagsMutuallyExclusive("device", "diff")

	wo := newOpts()
	watch := &cobra.Command{
		Use:   "watch RUN_ID",
		Short: "Follow a run until it ends, then show its summary",
		Args:  cmdutil.ExactArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			wo.RunID = args[0]
			return runsWatch(cmd.Context(), wo)
		},
	}
	cmd.AddCommand(list, show, watch)
	return cmd
}

func runsList(ctx context.Context, o *RunsOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	list, err := c.ListRuns(ctx, o.Limit)
	if err != nil {
		return err
	}
	return cmdutil.Render(o.IO, o.Format(), list, func(t *cmdutil.Table) {
		t.Header("id", "kind", "status", "requested_by", "selector", "devices", "healthy", "unhealthy", "error", "created")
		for _, r := range list {
			t.Row(r.ID.String(), r.Kind, r.Status, r.RequestedBy, selectorText(r.Selector),
				fmt.Sprint(r.Summary.Devices), fmt.Sprint(r.Summary.Healthy), fmt.Sprint(r.Summary.Unhealthy),
				fmt.Sprint(r.Summary.Error), cmdutil.FormatTime(o.IO, r.CreatedAt))
		}
	})
}

func selectorText(s api.Selector) string {
	var parts []string
	if s.All {
		parts = append(parts, "all")
	}
	if s.Site != "" {
		parts = append(parts, "site="+s.Site)
	}
	if s.Tag != "" {
		parts = append(parts, "tag="+s.Tag)
	}
	if len(s.Devices) > 0 {
		parts = append(parts, "devices="+abbreviate(append([]string(nil), s.Devices...), 3))
	}
	return strings.Join(parts, " ")
}

func runsShow(ctx context.Context, o *RunsOptions) error {
	id, err := parseRunID(o.RunID)
	if err != nil {
		return err
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	if o.Device != "" {
		return showDevice(ctx, o, c)
	}
	if o.Diff {
		return showDiff(ctx, o, c, id)
	}
	if o.Format() == cmdutil.FormatJSON {
		head, err := c.GetRun(ctx, id, api.RunQuery{})
		if err != nil {
			return err
		}
		if err := printRunJSON(ctx, o.IO, c, id, api.RunQuery{Devices: true, Checks: true}); err != nil {
			return err
		}
		return exitFor(head.Summary)
	}
	run, err := c.GetRun(ctx, id, api.RunQuery{Devices: true, Checks: o.Format() != cmdutil.FormatTable})
	if err != nil {
		return err
	}
	if o.Format() != cmdutil.FormatTable {
		if err := cmdutil.Render(o.IO, o.Format(), run, nil); err != nil {
			return err
		}
		return exitFor(run.Summary)
	}
	if err := RenderIncidents(o.IO, run.Incidents, explainedCount(run), run.Summary.Unhealthy+run.Summary.Error, false); err != nil {
		return err
	}
	t := cmdutil.NewTable(o.IO)
	t.Header("device", "site", "health", "diagnoses", "recommended", "error")
	for _, d := range run.Devices {
		health := d.Health
		if d.State == "pending" {
			health = "pending"
		}
		t.Row(d.Device, d.Site, health, strings.Join(d.Diagnoses, ","), recommendedText(d), d.Error)
	}
	if err := t.Render(); err != nil {
		return err
	}
	s := run.Summary
	fmt.Fprintf(o.IO.Out, "\nrun %s %s (%s, requested by %s): %d/%d done, %d healthy, %d unhealthy, %d not checked\n",
		run.ID, run.Status, run.Kind, run.RequestedBy, s.Done, s.Devices, s.Healthy, s.Unhealthy, s.Error)
	return exitFor(s)
}

func showDevice(ctx context.Context, o *RunsOptions, c *api.Client) error {
	id, _ := parseRunID(o.RunID)
	run, err := c.GetRun(ctx, id, api.RunQuery{Device: o.Device, Transcript: true})
	var apiErr *api.Error
	if err != nil && asAPIError(err, &apiErr) && apiErr.Status == 403 {
		// A viewer sees the checks but not the transcript.
		run, err = c.GetRun(ctx, id, api.RunQuery{Device: o.Device})
	}
	if err != nil {
		return err
	}
	if o.Format() != cmdutil.FormatTable {
		return cmdutil.Render(o.IO, o.Format(), run, nil)
	}
	if len(run.Devices) == 0 {
		return fmt.Errorf("device %s is not part of run %s", o.Device, run.ID)
	}
	d := run.Devices[0]
	fmt.Fprintf(o.IO.Out, "device %s (site %s): %s", d.Device, d.Site, d.Health)
	if len(d.Diagnoses) > 0 {
		fmt.Fprintf(o.IO.Out, ", %s", strings.Join(d.Diagnoses, ", "))
	}
	if d.Recommended != "" {
		fmt.Fprintf(o.IO.Out, "; recommended: %s", d.Recommended)
	}
	fmt.Fprintln(o.IO.Out)
	if d.Error != "" {
		fmt.Fprintf(o.IO.Out, "error: %s\n", d.Error)
	}
	checks, err := decodeChecks(d.Checks)
	if err != nil {
		return err
	}
	if len(checks) > 0 {
		fmt.Fprintln(o.IO.Out)
		t := cmdutil.NewTable(o.IO)
		t.Header("check", "verdict", "summary")
		for _, ch := range checks {
			t.Row(ch.ID, ch.Verdict, ch.Summary)
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if d.Transcript != "" {
		fmt.Fprintf(o.IO.Out, "\n--- transcript ---\n%s\n--- end of transcript ---\n", strings.TrimRight(d.Transcript, "\n"))
	}
	return nil
}

func runsWatch(ctx context.Context, o *RunsOptions) error {
	id, err := parseRunID(o.RunID)
	if err != nil {
		return err
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	run, err := c.GetRun(ctx, id, api.RunQuery{})
	if err != nil {
		return err
	}
	return waitAndReport(ctx, o.IO, c, o.Format(), run, o.PollInterval)
}
