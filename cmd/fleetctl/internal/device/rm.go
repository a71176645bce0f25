package device

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// RmOptions are `device rm`'s inputs.
type RmOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Name string
}

// NewCmdRm builds `device rm NAME`.
func NewCmdRm(f *cmdutil.Factory, runF func(context.Context, *RmOptions) error) *cobra.Command {
	opts := &RmOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:               "rm NAME",
		Aliases:           []string{"delete"},
		Short:             "Remove a device from the inventory",
		Args:              cmdutil.ExactArgs(1, "device NAME"),
		ValidArgsFunction: completeDeviceNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rmRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func rmRun(ctx context.Context, opts *RmOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	d, err := c.DeleteDevice(ctx, opts.Name)
	if err != nil {
		return err
	}
	if opts.Format() != cmdutil.FormatTable {
		return cmdutil.Render(opts.IO, opts.Format(), d, nil)
	}
	_, err = fmt.Fprintf(opts.IO.Out, "Removed device %s\n", d.Name)
	return err
}
