// Package cli assembles the fleetctl command tree and is the one place that
// turns a command's error into a message and an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/audit"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/device"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/diagnose"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/hostkey"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/remediate"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/schedule"
	"github.com/fleetd/fleetd/pkg/api"
)

// Version is set at build time: -ldflags "-X github.com/fleetd/fleetd/cmd/fleetctl/internal/cli.Version=v1.2.3".
var Version = "dev"

// Env is how fleetctl sees its environment; tests pass a map.
type Env struct {
	IO         *iostreams.IOStreams
	Getenv     func(string) string
	HTTPClient *http.Client // nil: the default client
}

// SystemEnv is the real process environment.
func SystemEnv() Env { return Env{IO: iostreams.System(), Getenv: os.Getenv} }

// Main runs fleetctl with args (without the program name) and returns the
// exit code. main is `os.Exit(cli.Main(ctx, os.Args[1:], cli.SystemEnv()))`.
func Main(ctx context.Context, args []string, env Env) int {
	f := &cmdutil.Factory{IOStreams: env.IO, Getenv: env.Getenv, Version: Version, HTTPClient: env.HTTPClient}
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(env.IO.In)
	root.SetOut(env.IO.Out)
	root.SetErr(env.IO.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		printError(env.IO.ErrOut, cmd, err)
	}
	return cmdutil.ExitCode(err)
}

// NewCmdRoot builds the whole command tree. Adding a noun = one AddCommand
// line here and a package beside device/.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "fleetctl <command> <subcommand> [flags]",
		Short: "Diagnose and remediate the Firepower SSE connector across a fleet",
		Long: `fleetctl talks to a fleetd server over HTTP/JSON. Server and token come from
--server/--token, FLEETCTL_SERVER/FLEETCTL_TOKEN, or ~/.config/fleetctl/config.yaml.

Exit codes: 0 ok; 1 error; 2 bad usage; 3 the command worked but found
unhealthy or unreachable devices.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cmdutil.GroupArgs,
		RunE:          cmdutil.GroupRun,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Annotations[skipSettings] == "true" {
				return nil
			}
			_, err := f.Resolve()
			return err
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	f.Globals.BindFlags(root.PersistentFlags())
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(cmdutil.Formats, cobra.ShellCompDirectiveNoFileComp))
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &cmdutil.FlagError{Err: err}
	})

	root.AddCommand(device.NewCmdDevice(f))
	root.AddCommand(hostkey.NewCmdHostKey(f))
	root.AddCommand(diagnose.NewCmdDiagnose(f, nil))
	root.AddCommand(diagnose.NewCmdRuns(f))
	root.AddCommand(diagnose.NewCmdStatus(f, nil))
	root.AddCommand(diagnose.NewCmdIncidents(f))
	root.AddCommand(remediate.NewCmdRemediate(f, nil))
	root.AddCommand(remediate.NewCmdApprovals(f))
	root.AddCommand(remediate.NewCmdApprove(f, nil))
	root.AddCommand(remediate.NewCmdReject(f, nil))
	root.AddCommand(remediate.NewCmdRequests(f))
	root.AddCommand(audit.NewCmdAudit(f))
	root.AddCommand(schedule.NewCmdSchedule(f))
	root.AddCommand(newCmdWhoAmI(f))
	root.AddCommand(newCmdCompletion(f))
	root.AddCommand(newCmdVersion(f))
	return root
}

// skipSettings marks commands that must work with a broken or missing
// config file (version, completion).
const skipSettings = "fleetctl/skip-settings"

// printError is the one place errors are worded for people.
// cmd is the command that failed (the root if parsing failed before one was found).
func printError(w io.Writer, cmd *cobra.Command, err error) {
	var (
		flagErr *cmdutil.FlagError
		exitErr *cmdutil.ExitCodeError
		apiErr  *api.Error
	)
	switch {
	case errors.Is(err, cmdutil.ErrSilent), errors.As(err, &exitErr):
		return
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(w, "interrupted")
	case errors.As(err, &flagErr):
		fmt.Fprintf(w, "error: %v\n", flagErr.Err)
		path := "fleetctl"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", path)
	case errors.As(err, &apiErr):
		fmt.Fprintf(w, "error: %s\n", apiErr.Message)
		for _, d := range apiErr.Details {
			fmt.Fprintf(w, "  %s\n", d)
		}
		if more := apiErr.Total - len(apiErr.Details); more > 0 {
			fmt.Fprintf(w, "  ... and %d more\n", more)
		}
		switch apiErr.Status {
		case http.StatusUnauthorized:
			fmt.Fprintln(w, "hint: check the token (--token, FLEETCTL_TOKEN or the config file)")
		case http.StatusInternalServerError:
			if apiErr.RequestID != "" && !strings.Contains(apiErr.Message, apiErr.RequestID) {
				fmt.Fprintf(w, "request id: %s (find it in fleetd's log)\n", apiErr.RequestID)
			}
		}
	default:
		fmt.Fprintf(w, "error: %v\n", err)
	}
}
