package device

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// ListOptions are `device list`'s inputs.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Site string
	Kind string
	Tags map[string]string
}

// NewCmdList builds `device list`. runF replaces the run step in tests.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	var tags []string
	cmd := &cobra.Command{
		Use:     "list [--site S] [--kind fmc|ftd] [--tag k=v]...",
		Aliases: []string{"ls"},
		Short:   "List devices",
		Example: `  fleetctl device list --site emea
  fleetctl device list --kind ftd --tag role=edge -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validKind(opts.Kind) {
				return cmdutil.FlagErrorf("--kind %q: want fmc or ftd", opts.Kind)
			}
			var err error
			if opts.Tags, err = cmdutil.ParseTags(tags); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Site, "site", "", "only devices of this site")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only devices of this kind: fmc or ftd")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "only devices with tag key=value (repeat: all must match)")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(Kinds, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func apiFilter(site, kind string, tags map[string]string) api.DeviceFilter {
	return api.DeviceFilter{Site: site, Kind: kind, Tags: tags}
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	devs, err := c.ListDevices(ctx, apiFilter(opts.Site, opts.Kind, opts.Tags))
	if err != nil {
		return err
	}
	if devs == nil {
		devs = []api.Device{} // `[]`, not `null`, for scripts
	}
	return cmdutil.Render(opts.IO, opts.Format(), devs, func(t *cmdutil.Table) {
		t.Header("name", "kind", "site", "address", "credential", "model", "version", "tags")
		for _, d := range devs {
			t.Row(d.Name, d.Kind, d.Site, d.Address, d.Credential, d.Model, d.SWVersion, cmdutil.FormatTags(d.Tags))
		}
	})
}
