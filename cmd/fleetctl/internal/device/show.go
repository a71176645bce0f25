package device

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// ShowOptions are `device show`'s inputs.
type ShowOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Name string
}

// NewCmdShow builds `device show NAME`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:               "show NAME",
		Short:             "Show one device",
		Args:              cmdutil.ExactArgs(1, "device NAME"),
		ValidArgsFunction: completeDeviceNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	d, err := c.GetDevice(ctx, opts.Name)
	if err != nil {
		return err
	}
	return cmdutil.Render(opts.IO, opts.Format(), d, func(t *cmdutil.Table) {
		t.Row("name:", d.Name)
		t.Row("kind:", d.Kind)
		t.Row("site:", d.Site)
		t.Row("address:", d.Address)
		t.Row("credential:", d.Credential)
		t.Row("tags:", cmdutil.FormatTags(d.Tags))
		t.Row("managed_by:", d.ManagedBy)
		if d.APIAddress != "" {
			t.Row("api_address:", d.APIAddress)
		}
		t.Row("model:", d.Model)
		t.Row("sw_version:", d.SWVersion)
		if d.SyncedFrom != "" {
			t.Row("synced_from:", d.SyncedFrom)
		}
		t.Row("created_at:", cmdutil.FormatTime(opts.IO, d.CreatedAt))
		t.Row("updated_at:", cmdutil.FormatTime(opts.IO, d.UpdatedAt))
	})
}
