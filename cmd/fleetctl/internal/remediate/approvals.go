package remediate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// states are the --state values of approvals list ("all" = no filter).
func states() []string {
	out := []string{"all"}
	for _, s := range api.RequestStates() {
		out = append(out, string(s))
	}
	return out
}

// ListOptions are `approvals list`'s inputs.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	State string
	Limit int
}

// NewCmdApprovals is the `approvals` group.
func NewCmdApprovals(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approvals <command>",
		Short: "Remediation requests waiting for (or past) approval",
		Args:  cmdutil.GroupArgs,
		RunE:  cmdutil.GroupRun,
	}
	cmd.AddCommand(NewCmdList(f, nil))
	return cmd
}

// NewCmdList builds `approvals list [--state pending]`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:     "list [--state pending|approved|scheduled|running|succeeded|failed|rejected|expired|cancelled|all]",
		Aliases: []string{"ls"},
		Short:   "List remediation requests, newest first (pending ones by default)",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(states(), opts.State) {
				return cmdutil.FlagErrorf("--state %q: want one of %s", opts.State, strings.Join(states(), ", "))
			}
			if opts.Limit < 1 || opts.Limit > 1000 {
				return cmdutil.FlagErrorf("--limit %d: want 1 to 1000", opts.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.State, "state", string(api.RequestPending), "only requests in this state; all for every state")
	cmd.Flags().IntVar(&opts.Limit, "limit", 100, "at most this many requests")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(states(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	state := opts.State
	if state == "all" {
		state = ""
	}
	list, err := c.ListRemediations(ctx, state, opts.Limit)
	if err != nil {
		return err
	}
	if list == nil {
		list = []api.RemediationRequest{}
	}
	return cmdutil.Render(opts.IO, opts.Format(), list, func(t *cmdutil.Table) {
		t.Header("id", "state", "action", "devices", "requested by", "created", "expires", "approved by", "reason")
		for _, r := range list {
			t.Row(r.ID.String(), string(r.State), string(r.Action), summarizeBoxes(r), r.RequestedBy,
				cmdutil.FormatTime(opts.IO, r.CreatedAt), cmdutil.FormatTime(opts.IO, r.ExpiresAt), r.ApprovedBy, r.Reason)
		}
	})
}

// summarizeBoxes names the devices with where they are and which key they
// must present (the identity an approval binds), up to three.
func summarizeBoxes(r api.RemediationRequest) string {
	if len(r.Identities) == 0 || len(r.Devices) > 3 {
		return summarizeDevices(r.Devices)
	}
	parts := make([]string, len(r.Identities))
	for i, d := range r.Identities {
		parts[i] = fmt.Sprintf("%s@%s(%s)", d.Device, d.Address, shortKey(d.HostKey))
	}
	return strings.Join(parts, ",")
}

// shortKey abbreviates a SHA256 fingerprint for a table cell.
func shortKey(fp string) string {
	if fp == "" {
		return "no key"
	}
	if len(fp) > 19 {
		return fp[:19] + "…"
	}
	return fp
}

func summarizeDevices(ds []string) string {
	if len(ds) <= 3 {
		return strings.Join(ds, ",")
	}
	return fmt.Sprintf("%s,... (%d)", strings.Join(ds[:2], ","), len(ds))
}

// DecideOptions are the inputs of `approve` and `reject`.
type DecideOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	ID         uuid.UUID
	Comment    string // approve
	ParamsHash string // approve: the params_hash reviewed (requests show)
	Reason     string // reject
}

func parseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return id, cmdutil.FlagErrorf("%q is not a request id (a UUID, as `fleetctl approvals list` shows)", s)
	}
	return id, nil
}

// onRequest is the RunE of the commands that act on one request: it parses
// REQUEST_ID, runs check (flag rules), then runF (tests) or run.
func onRequest(opts *DecideOptions, check func() error, runF, run func(context.Context, *DecideOptions) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		id, err := parseID(args[0])
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		opts.ID = id
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
}

// NewCmdApprove builds `approve REQUEST_ID [--comment TEXT]`.
func NewCmdApprove(f *cmdutil.Factory, runF func(context.Context, *DecideOptions) error) *cobra.Command {
	opts := &DecideOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "approve REQUEST_ID [--comment TEXT]",
		Short: "Approve someone else's remediation request (approver or admin)",
		Long: `Approve a pending remediation request. fleetd refuses if you requested it
yourself, if your role is below approver, if it expired, or if it no longer
matches what was shown to you. Give --params-hash with the hash that
` + "`fleetctl requests show`" + ` printed to approve exactly what you reviewed; without
it fleetctl fetches the request and approves that version. fleetd also
refuses when a device changed in the inventory since the request was made
(deleted, re-added, another address, credential or host key): the request
then no longer describes the boxes it would act on; make a new one.`,
		Args: cmdutil.ExactArgs(1, "REQUEST_ID"),
		RunE: onRequest(opts, nil, runF, approveRun),
	}
	cmd.Flags().StringVar(&opts.Comment, "comment", "", "why you approve (audited)")
	cmd.Flags().StringVar(&opts.ParamsHash, "params-hash", "", "the params_hash you reviewed (from requests show); refused if the request differs")
	return cmd
}

func approveRun(ctx context.Context, opts *DecideOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	// Approve what was looked at, not whatever the request is by the time
	// the POST arrives: the hash the approver reviewed, or the one fetched now.
	hash := strings.TrimSpace(opts.ParamsHash)
	if hash == "" {
		seen, err := c.GetRemediation(ctx, opts.ID)
		if err != nil {
			return err
		}
		hash = seen.ParamsHash
	}
	r, err := c.ApproveRemediation(ctx, opts.ID, api.ApproveRequest{Comment: opts.Comment, ParamsHash: hash})
	if err != nil {
		return err
	}
	return show(opts.IO, opts.Format(), r, fmt.Sprintf("Approved %s %s on %s.", r.Action, r.ID, summarizeDevices(r.Devices)))
}

// NewCmdReject builds `reject REQUEST_ID --reason TEXT`.
func NewCmdReject(f *cmdutil.Factory, runF func(context.Context, *DecideOptions) error) *cobra.Command {
	opts := &DecideOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "reject REQUEST_ID --reason TEXT",
		Short: "Reject someone else's pending remediation request (approver or admin)",
		Args:  cmdutil.ExactArgs(1, "REQUEST_ID"),
		RunE: onRequest(opts, func() error {
			if strings.TrimSpace(opts.Reason) == "" {
				return cmdutil.FlagErrorf("--reason is required: say why, the requester reads it")
			}
			return nil
		}, runF, rejectRun),
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (required; audited)")
	return cmd
}

func rejectRun(ctx context.Context, opts *DecideOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.RejectRemediation(ctx, opts.ID, opts.Reason)
	if err != nil {
		return err
	}
	return show(opts.IO, opts.Format(), r, fmt.Sprintf("Rejected %s.", r.ID))
}

// show prints a request after a change: the object for scripts, a headline
// and the request for people.
func show(ios *iostreams.IOStreams, format cmdutil.Format, r api.RemediationRequest, headline string) error {
	if format != cmdutil.FormatTable {
		return cmdutil.Render(ios, format, r, nil)
	}
	fmt.Fprintln(ios.Out, headline)
	printRequest(ios, r, false)
	return nil
}
