package device

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// SyncOptions are `device sync`'s inputs.
type SyncOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	From       string
	DryRun     bool
	Prune      bool
	Credential string
}

// NewCmdSync builds `device sync --from FMC [--dry-run] [--prune] [--credential NAME]`.
func NewCmdSync(f *cmdutil.Factory, runF func(context.Context, *SyncOptions) error) *cobra.Command {
	opts := &SyncOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "sync --from FMC [--dry-run] [--prune] [--credential NAME]",
		Short: "Add or update the FTDs an FMC manages, from its REST API (all or nothing)",
		Long: `Read the FMC's device records over its REST API (its site needs
fmc_api.enabled) and upsert the FTDs it lists: kind ftd, the FMC's site,
managed_by the FMC, address, model and software version from the FMC. Tags
stay as they are. Devices synced from this FMC that it no longer lists are
reported as gone; --prune removes them (audited). Devices added or imported by
hand, and devices of another FMC, are never removed. Every record is checked
first; if any is invalid (a bad name or address), every problem is printed and
nothing is written. --credential is the SSH credential of the FTDs (default:
an existing device keeps its own, a new one gets the FMC's).`,
		Example: `  fleetctl device sync --from fmc-emea-00001 --dry-run
  fleetctl device sync --from fmc-emea-00001 --prune`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.From == "" {
				return cmdutil.FlagErrorf("--from FMC is required")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return syncRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "the FMC (device name) whose devices to read")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show what would change; write nothing")
	cmd.Flags().BoolVar(&opts.Prune, "prune", false, "remove devices synced from this FMC that it no longer lists")
	cmd.Flags().StringVar(&opts.Credential, "credential", "", "SSH credential of the synced FTDs")
	_ = cmd.RegisterFlagCompletionFunc("from", completeDeviceNames(f))
	return cmd
}

func syncRun(ctx context.Context, opts *SyncOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.SyncDevices(ctx, api.DeviceSyncRequest{From: opts.From, DryRun: opts.DryRun, Prune: opts.Prune,
		Credential: opts.Credential})
	if printProblems(opts.IO, "devicerecords of "+opts.From, err) {
		return cmdutil.ErrSilent
	}
	if err != nil {
		return err
	}
	if opts.Format() != cmdutil.FormatTable {
		return cmdutil.Render(opts.IO, opts.Format(), res, nil)
	}
	removed := map[string]bool{}
	for _, n := range res.Removed {
		removed[n] = true
	}
	t := cmdutil.NewTable(opts.IO)
	t.Header("action", "device", "changes")
	changeRows(t, res.Added, res.Changed)
	for _, g := range res.Gone {
		action, what := "gone", g.Address+": no longer listed by the FMC; kept (--prune removes it)"
		if removed[g.Device] {
			action, what = "remove", g.Address+": no longer listed by the FMC"
		} else if res.Prune {
			what = g.Address + ": no longer listed by the FMC; would be removed"
		}
		if g.Hint != "" {
			what += " (" + g.Hint + ")"
		}
		t.Row(action, g.Device, what)
	}
	if err := t.Render(); err != nil {
		return err
	}
	verb := "Synced from"
	if res.DryRun {
		verb = "Dry run, nothing written; would sync from"
	}
	var extra []string
	if n := len(res.Removed); n > 0 {
		extra = append(extra, fmt.Sprintf("%d removed", n))
	}
	if n := len(res.Disconnected); n > 0 {
		extra = append(extra, fmt.Sprintf("%d not connected to the FMC", n))
	}
	tail := ""
	if len(extra) > 0 {
		tail = " (" + strings.Join(extra, ", ") + ")"
	}
	_, err = fmt.Fprintf(summaryOut(opts.IO), "%s %s: %d devices listed; %d added, %d changed, %d unchanged, %d gone%s\n",
		verb, res.FMC, res.Records, len(res.Added), len(res.Changed), len(res.Unchanged), len(res.Gone), tail)
	return err
}
