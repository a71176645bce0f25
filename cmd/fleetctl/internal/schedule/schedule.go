// Package schedule holds `fleetctl schedule ...`: the sweep schedules fleetd
// runs on its own, with their last and next run, switched on and off at run
// time.
package schedule

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// NewCmdSchedule is the `schedule` group.
func NewCmdSchedule(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule <command>",
		Short: "List sweep schedules; enable or disable one",
		Long: `Schedules come from fleetd's config (schedules:). Each slot runs once across all fleetd
replicas; a sweep missed while fleetd was down runs once when it is back. enable and
disable (operator role) last across restarts until the config changes the schedule's
enabled value.`,
		Args: cmdutil.GroupArgs,
		RunE: cmdutil.GroupRun,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdSetEnabled(f, true, nil), NewCmdSetEnabled(f, false, nil))
	return cmd
}

// Options are the inputs of the schedule subcommands.
type Options struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Name    string
	Enabled bool
}

// NewCmdList builds `schedule list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List schedules with their last and next run",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

// NewCmdSetEnabled builds `schedule enable NAME` or `schedule disable NAME`.
func NewCmdSetEnabled(f *cmdutil.Factory, enabled bool, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat, Enabled: enabled}
	verb, short := "disable", "Stop a schedule's sweeps until it is enabled again"
	if enabled {
		verb, short = "enable", "Resume a schedule's sweeps (nights it was off are not caught up)"
	}
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return setRun(cmd.Context(), opts)
		},
	}
}

func listRun(ctx context.Context, o *Options) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	list, err := c.ListSchedules(ctx)
	if err != nil {
		return err
	}
	return cmdutil.Render(o.IO, o.Format(), list, func(t *cmdutil.Table) {
		t.Header("name", "cron", "timezone", "selector", "enabled", "next run", "last run", "last status", "last run id")
		for _, s := range list {
			t.Row(rowOf(o.IO, s)...)
		}
	})
}

func rowOf(ios *iostreams.IOStreams, s api.Schedule) []string {
	enabled := "yes"
	if !s.Enabled {
		enabled = "no"
		if s.EnabledBy != "config" {
			enabled += " (by " + s.EnabledBy + ")"
		}
	}
	next, last, status, id := "-", "-", "-", "-"
	if s.NextRun != nil {
		next = cmdutil.FormatTime(ios, *s.NextRun)
	}
	if s.LastRun != nil {
		last = cmdutil.FormatTime(ios, s.LastRun.StartedAt)
		status, id = s.LastRun.Status, s.LastRun.ID.String()
		if status == "" {
			status = "deleted"
		} else if status == "completed" {
			sm := s.LastRun.Summary
			status = fmt.Sprintf("completed: %d healthy, %d unhealthy, %d not checked", sm.Healthy, sm.Unhealthy, sm.Error)
		}
	}
	if s.LastError != "" {
		status = "skipped: " + s.LastError
	}
	return []string{s.Name, s.Cron, s.Timezone, selectorText(s.Selector), enabled, next, last, status, id}
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
	return strings.Join(parts, " ")
}

func setRun(ctx context.Context, o *Options) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	s, err := c.SetScheduleEnabled(ctx, o.Name, o.Enabled)
	if err != nil {
		return err
	}
	if o.Format() != cmdutil.FormatTable {
		return cmdutil.Render(o.IO, o.Format(), s, nil)
	}
	if s.Enabled {
		next := "never"
		if s.NextRun != nil {
			next = s.NextRun.Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(o.IO.Out, "schedule %s enabled; next run %s\n", s.Name, next)
	} else {
		fmt.Fprintf(o.IO.Out, "schedule %s disabled\n", s.Name)
	}
	return nil
}
