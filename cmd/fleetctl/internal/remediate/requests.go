package remediate

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
)

// NewCmdRequests is the `requests` group.
func NewCmdRequests(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "requests <command>",
		Aliases: []string{"request"},
		Short:   "Show or cancel remediation requests",
		Args:    cmdutil.GroupArgs,
		RunE:    cmdutil.GroupRun,
	}
	cmd.AddCommand(NewCmdShow(f, nil))
	cmd.AddCommand(NewCmdCancel(f, nil))
	return cmd
}

// NewCmdShow builds `requests show ID`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *DecideOptions) error) *cobra.Command {
	opts := &DecideOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "show REQUEST_ID",
		Short: "A request: its devices, plan, per-device progress, result and history",
		Args:  cmdutil.ExactArgs(1, "REQUEST_ID"),
		RunE:  onRequest(opts, nil, runF, showRun),
	}
	return cmd
}

func showRun(ctx context.Context, opts *DecideOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.GetRemediation(ctx, opts.ID)
	if err != nil {
		return err
	}
	if opts.Format() != cmdutil.FormatTable {
		return cmdutil.Render(opts.IO, opts.Format(), r, nil)
	}
	printRequest(opts.IO, r, true)
	if len(r.History) > 0 {
		fmt.Fprintln(opts.IO.Out, "\nHistory")
		t := cmdutil.NewTable(opts.IO)
		t.Header("at", "who", "what", "from", "to", "why")
		for _, h := range r.History {
			t.Row(cmdutil.FormatTime(opts.IO, h.At), h.Actor, h.Action, h.From, h.To, h.Why)
		}
		return t.Render()
	}
	return nil
}

// NewCmdCancel builds `requests cancel ID [--reason TEXT]`.
func NewCmdCancel(f *cmdutil.Factory, runF func(context.Context, *DecideOptions) error) *cobra.Command {
	opts := &DecideOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "cancel REQUEST_ID [--reason TEXT]",
		Short: "Cancel a request before it starts running (requester, approver or admin)",
		Args:  cmdutil.ExactArgs(1, "REQUEST_ID"),
		RunE:  onRequest(opts, nil, runF, cancelRun),
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (audited)")
	return cmd
}

func cancelRun(ctx context.Context, opts *DecideOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.CancelRemediation(ctx, opts.ID, opts.Reason)
	if err != nil {
		return err
	}
	return show(opts.IO, opts.Format(), r, fmt.Sprintf("Cancelled %s.", r.ID))
}
