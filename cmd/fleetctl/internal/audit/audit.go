// Package audit holds `fleetctl audit ...`: reading the audit trail.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// NewCmdAudit is the `audit` group.
func NewCmdAudit(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit <command>",
		Short: "Read the audit trail",
		Args:  cmdutil.GroupArgs,
		RunE:  cmdutil.GroupRun,
	}
	cmd.AddCommand(NewCmdList(f, nil))
	return cmd
}

// ListOptions are `audit list`'s inputs.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format
	Now    func() time.Time

	Filter api.AuditFilter
	Since  string // RFC 3339 or a duration back from now ("24h")
}

// NewCmdList builds `audit list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat, Now: time.Now}
	cmd := &cobra.Command{
		Use:     "list [--actor A] [--action A] [--target T] [--since 24h|RFC3339] [--limit N]",
		Aliases: []string{"ls"},
		Short:   "List audit events, newest first",
		Example: `  fleetctl audit list --since 24h
  fleetctl audit list --action device.delete -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Since != "" {
				t, err := parseSince(opts.Since, opts.Now())
				if err != nil {
					return cmdutil.FlagErrorf("--since %q: %v", opts.Since, err)
				}
				opts.Filter.Since = t
			}
			if opts.Filter.Limit < 0 || opts.Filter.Limit > 1000 {
				return cmdutil.FlagErrorf("--limit %d: want 1 to 1000", opts.Filter.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Filter.Actor, "actor", "", "only events by this token name")
	fl.StringVar(&opts.Filter.Action, "action", "", "only this action, e.g. device.add, hostkey.accept")
	fl.StringVar(&opts.Filter.TargetKind, "target-kind", "", "only targets of this kind: device, token, site")
	fl.StringVar(&opts.Filter.Target, "target", "", "only events about this target (e.g. a device name)")
	fl.StringVar(&opts.Since, "since", "", "only events after this time: RFC 3339, or a duration back from now (24h)")
	fl.IntVar(&opts.Filter.Limit, "limit", 50, "at most this many events (1-1000)")
	return cmd
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("duration must be positive")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a duration (24h) or an RFC 3339 time")
	}
	return t, nil
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	events, err := c.ListAudit(ctx, opts.Filter)
	if err != nil {
		return err
	}
	if events == nil {
		events = []api.AuditEvent{}
	}
	return cmdutil.Render(opts.IO, opts.Format(), events, func(t *cmdutil.Table) {
		t.Header("at", "actor", "action", "target", "details")
		for _, e := range events {
			details := ""
			if len(e.Details) > 0 {
				b, _ := json.Marshal(e.Details)
				details = string(b)
			}
			t.Row(cmdutil.FormatTime(opts.IO, e.At), e.Actor, e.Action, e.TargetKind+"/"+e.Target, details)
		}
	})
}
