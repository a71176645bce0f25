package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
)

func newCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:         "version",
		Short:       "Print fleetctl's version",
		Args:        cmdutil.NoArgs,
		Annotations: map[string]string{skipSettings: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(f.IOStreams.Out, "fleetctl %s (%s, %s/%s)\n", f.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

func newCmdCompletion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script. For example:

  bash:  source <(fleetctl completion bash)
  zsh:   fleetctl completion zsh > "${fpath[1]}/_fleetctl"
  fish:  fleetctl completion fish > ~/.config/fish/completions/fleetctl.fish`,
		ValidArgs:   []string{"bash", "zsh", "fish"},
		Args:        cmdutil.ExactArgs(1, "shell (bash, zsh or fish)"),
		Annotations: map[string]string{skipSettings: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			out := f.IOStreams.Out
			switch args[0] {
			case "bash":
				return cmd.Root().GenBashCompletionV2(out, true)
			case "zsh":
				return cmd.Root().GenZshCompletion(out)
			case "fish":
				return cmd.Root().GenFishCompletion(out, true)
			default:
				return cmdutil.FlagErrorf("unsupported shell %q (want bash, zsh or fish)", args[0])
			}
		},
	}
}

// whoami is the quickest way to check server, token and role.
func newCmdWhoAmI(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the identity and role of your token",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.APIClient()
			if err != nil {
				return err
			}
			id, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return err
			}
			return cmdutil.Render(f.IOStreams, f.OutputFormat(), id, func(t *cmdutil.Table) {
				t.Header("name", "role", "server")
				t.Row(id.Name, id.Role, c.Server())
			})
		},
	}
}
