package device

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// AddOptions are `device add`'s inputs.
type AddOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Device api.NewDevice
}

// NewCmdAdd builds `device add NAME --kind --site --address --credential`.
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	opts := &AddOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	var tags []string
	cmd := &cobra.Command{
		Use:     "add NAME --kind fmc|ftd --site S --address HOST[:PORT] --credential C [--tag k=v]...",
		Short:   "Add one device (use `device import` to add or update many)",
		Example: `  fleetctl device add ftd-ams-01 --kind ftd --site emea --address 10.1.0.11 --credential lab --tag role=edge`,
		Args:    cmdutil.ExactArgs(1, "device NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device.Name = args[0]
			for flag, v := range map[string]string{"kind": opts.Device.Kind, "site": opts.Device.Site,
				"address": opts.Device.Address, "credential": opts.Device.Credential} {
				if v == "" {
					return cmdutil.FlagErrorf("--%s is required", flag)
				}
			}
			if !validKind(opts.Device.Kind) {
				return cmdutil.FlagErrorf("--kind %q: want fmc or ftd", opts.Device.Kind)
			}
			var err error
			if opts.Device.Tags, err = cmdutil.ParseTags(tags); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return addRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Device.Kind, "kind", "", "fmc or ftd (required)")
	fl.StringVar(&opts.Device.Site, "site", "", "site name from fleetd's config (required)")
	fl.StringVar(&opts.Device.Address, "address", "", "host or host:port of the device's SSH (required)")
	fl.StringVar(&opts.Device.Credential, "credential", "", "credential name from fleetd's config (required)")
	fl.StringArrayVar(&tags, "tag", nil, "tag key=value (repeat)")
	fl.StringVar(&opts.Device.ManagedBy, "managed-by", "", "name of the FMC managing this FTD")
	fl.StringVar(&opts.Device.APIAddress, "api-address", "", "an FMC's REST API (host or host:port) when not its address on port 443")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(Kinds, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func addRun(ctx context.Context, opts *AddOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	d, err := c.AddDevice(ctx, opts.Device)
	if err != nil {
		return err
	}
	if opts.Format() != cmdutil.FormatTable {
		return cmdutil.Render(opts.IO, opts.Format(), d, nil)
	}
	_, err = fmt.Fprintf(opts.IO.Out, "Added device %s (%s, site %s, %s)\n", d.Name, d.Kind, d.Site, d.Address)
	return err
}
