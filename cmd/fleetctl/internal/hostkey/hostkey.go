// Package hostkey holds `fleetctl hostkey ...`: reviewing and pinning the
// SSH host keys fleetd has seen, and the FMCs' REST API certificates,
// which are pinned the same way (kind tls).
package hostkey

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// States are the accepted --state values.
var States = []string{"pending", "pinned", "mismatch"}

// NewCmdHostKey is the `hostkey` group.
func NewCmdHostKey(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "hostkey <command>",
		Aliases: []string{"hostkeys"},
		Short:   "Review and accept device SSH host keys and FMC REST certificates",
		Args:    cmdutil.GroupArgs,
		RunE:    cmdutil.GroupRun,
	}
	cmd.AddCommand(NewCmdList(f, nil))
	cmd.AddCommand(NewCmdAccept(f, nil))
	return cmd
}

// ListOptions are `hostkey list`'s inputs.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	State string
	Site  string
	Kind  string
}

// NewCmdList builds `hostkey list [--state S] [--site S] [--kind ssh|tls]`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:     "list [--state pending|pinned|mismatch] [--site S] [--kind ssh|tls]",
		Aliases: []string{"ls"},
		Short:   "List host keys",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.State != "" && !contains(States, opts.State) {
				return cmdutil.FlagErrorf("--state %q: want pending, pinned or mismatch", opts.State)
			}
			if opts.Kind != "" && opts.Kind != "ssh" && opts.Kind != "tls" {
				return cmdutil.FlagErrorf("--kind %q: want ssh (host keys) or tls (FMC REST certificates)", opts.Kind)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.State, "state", "", "only keys in this state: pending, pinned or mismatch")
	cmd.Flags().StringVar(&opts.Site, "site", "", "only devices of this site")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only ssh (host keys) or tls (FMC REST certificates)")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(States, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	keys, err := c.ListHostKeys(ctx, api.HostKeyFilter{State: opts.State, Site: opts.Site, Kind: opts.Kind})
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []api.HostKey{}
	}
	return cmdutil.Render(opts.IO, opts.Format(), keys, func(t *cmdutil.Table) {
		t.Header("device", "site", "state", "type", "fingerprint", "last seen")
		for _, k := range keys {
			t.Row(k.Device, k.Site, k.State, k.KeyType, k.Fingerprint, cmdutil.FormatTime(opts.IO, k.LastSeen))
		}
	})
}

// AcceptOptions are `hostkey accept`'s inputs.
type AcceptOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Devices    []string
	AllPending bool
	Site       string
}

// NewCmdAccept builds `hostkey accept NAME... | --all-pending [--site S]`.
func NewCmdAccept(f *cmdutil.Factory, runF func(context.Context, *AcceptOptions) error) *cobra.Command {
	opts := &AcceptOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "accept NAME... | --all-pending [--site S]",
		Short: "Pin the host key fleetd saw for devices",
		Long: `Pin the candidate host key of the named devices (a pending key, or the new key
of a device in mismatch after it was re-imaged), or every pending key with
--all-pending (of one site with --site). An FMC's REST API certificate (kind
tls, recorded on first contact over HTTPS) is accepted the same way, with its
SSH host key. Check fingerprints before accepting: accepting a key is trusting
that nobody is in the middle.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Devices = args
			}
			switch {
			case opts.AllPending && len(args) > 0:
				return cmdutil.FlagErrorf("give device names or --all-pending, not both")
			case !opts.AllPending && len(args) == 0:
				return cmdutil.FlagErrorf("give device names or --all-pending")
			case opts.Site != "" && !opts.AllPending:
				return cmdutil.FlagErrorf("--site only narrows --all-pending")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return acceptRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.AllPending, "all-pending", false, "accept every device with exactly one pending key")
	cmd.Flags().StringVar(&opts.Site, "site", "", "with --all-pending: only this site")
	return cmd
}

func acceptRun(ctx context.Context, opts *AcceptOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.AcceptHostKeys(ctx, api.AcceptHostKeysRequest{Devices: opts.Devices, AllPending: opts.AllPending, Site: opts.Site})
	if err != nil {
		return err
	}
	if opts.Format() != cmdutil.FormatTable {
		return cmdutil.Render(opts.IO, opts.Format(), res, nil)
	}
	t := cmdutil.NewTable(opts.IO)
	t.Header("device", "result", "fingerprint / reason")
	for _, k := range res.Accepted {
		t.Row(k.Device, "pinned", k.Fingerprint)
	}
	for _, s := range res.Skipped {
		t.Row(s.Device, "skipped", s.Reason)
	}
	if err := t.Render(); err != nil {
		return err
	}
	w := opts.IO.ErrOut
	if opts.IO.IsStdoutTTY() {
		w = opts.IO.Out
	}
	_, err = fmt.Fprintf(w, "%d accepted, %d skipped\n", len(res.Accepted), len(res.Skipped))
	return err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
