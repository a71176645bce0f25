// Package device holds `fleetctl device ...`: the inventory commands.
package device

import (
	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
)

// Kinds are the accepted --kind values.
var Kinds = []string{"fmc", "ftd"}

// NewCmdDevice is the `device` group.
func NewCmdDevice(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device <command>",
		Short: "Manage the device inventory",
		Args:  cmdutil.GroupArgs,
		RunE:  cmdutil.GroupRun,
	}
	cmd.AddCommand(NewCmdImport(f, nil))
	cmd.AddCommand(NewCmdSync(f, nil))
	cmd.AddCommand(NewCmdList(f, nil))
	cmd.AddCommand(NewCmdShow(f, nil))
	cmd.AddCommand(NewCmdAdd(f, nil))
	cmd.AddCommand(NewCmdRm(f, nil))
	return cmd
}

// completeDeviceNames completes NAME arguments from the server's inventory;
// any failure just means no suggestions.
func completeDeviceNames(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c, err := f.APIClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		devs, err := c.ListDevices(cmd.Context(), apiFilter("", "", nil))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(devs))
		for _, d := range devs {
			names = append(names, d.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func validKind(k string) bool {
	return k == "" || k == "fmc" || k == "ftd"
}
