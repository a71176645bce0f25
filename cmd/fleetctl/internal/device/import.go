package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// ImportOptions are `device import`'s inputs.
type ImportOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	File   string // path, or "-" for stdin
	DryRun bool
}

// NewCmdImport builds `device import FILE [--dry-run]`.
func NewCmdImport(f *cmdutil.Factory, runF func(context.Context, *ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "import FILE [--dry-run]",
		Short: "Add or update devices from a CSV or YAML file (all or nothing)",
		Long: `Import an inventory file: CSV with a header row, or YAML (a list of devices).
Columns/keys: name, kind (fmc|ftd), site, address (host or host:port), credential,
tags (k=v;k=v), managed_by. Devices are matched by name: new ones are added, existing
ones updated. Every row is checked first; if any row is invalid, every problem is
printed with its line number and nothing is written. FILE "-" reads standard input.`,
		Example: `  fleetctl device import config/inventory.example.csv --dry-run
  fleetctl device import fleet.yaml`,
		Args: cmdutil.ExactArgs(1, "inventory FILE (or - for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return importRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "check the file and show what would change; write nothing")
	return cmd
}

func importRun(ctx context.Context, opts *ImportOptions) error {
	var (
		data []byte
		err  error
		name = filepath.Base(opts.File)
	)
	if opts.File == "-" {
		data, err = io.ReadAll(opts.IO.In)
		name = "stdin"
	} else {
		data, err = os.ReadFile(opts.File)
	}
	if err != nil {
		return fmt.Errorf("read inventory: %w", err)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ImportDevices(ctx, api.ImportRequest{Filename: name, Content: string(data), DryRun: opts.DryRun})
	if printProblems(opts.IO, opts.File, err) {
		return cmdutil.ErrSilent
	}
	if err != nil {
		return err
	}
	if opts.Format() != cmdutil.FormatTable {
		return cmdutil.Render(opts.IO, opts.Format(), res, nil)
	}
	t := cmdutil.NewTable(opts.IO)
	t.Header("action", "device", "changes")
	changeRows(t, res.Added, res.Changed)
	if err := t.Render(); err != nil {
		return err
	}
	verb := "Imported"
	if res.DryRun {
		verb = "Dry run, nothing written; would import"
	}
	_, err = fmt.Fprintf(summaryOut(opts.IO), "%s %s: %d added, %d changed, %d unchanged\n",
		verb, opts.File, len(res.Added), len(res.Changed), len(res.Unchanged))
	return err
}

// printProblems prints a validation error compiler style (where:line:
// problem) so editors can jump to each row; false for any other error.
func printProblems(ios *iostreams.IOStreams, where string, err error) bool {
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeValidation || len(apiErr.Details) == 0 {
		return false
	}
	fmt.Fprintf(ios.ErrOut, "error: %s\n", apiErr.Message)
	for _, d := range apiErr.Details {
		loc := where
		if d.Line > 0 {
			loc = fmt.Sprintf("%s:%d", where, d.Line)
		}
		msg := d.Message
		if d.Field != "" {
			msg = d.Field + ": " + msg
		}
		fmt.Fprintf(ios.ErrOut, "%s: %s\n", loc, msg)
	}
	if more := apiErr.Total - len(apiErr.Details); more > 0 {
		fmt.Fprintf(ios.ErrOut, "%s: ... and %d more problems (%d in all; fix these and run again)\n", where, more, apiErr.Total)
	}
	return true
}

// changeRows adds the add and change rows of an import or a sync.
func changeRows(t *cmdutil.Table, added []api.Device, changed []api.DeviceChange) {
	for _, d := range added {
		t.Row("add", d.Name, fmt.Sprintf("%s %s %s", d.Kind, d.Site, d.Address))
	}
	for _, c := range changed {
		parts := make([]string, len(c.Fields))
		for i, fc := range c.Fields {
			parts[i] = fmt.Sprintf("%s: %q → %q", fc.Field, fc.Old, fc.New)
		}
		t.Row("change", c.Device, strings.Join(parts, "; "))
	}
}

// summaryOut is where a summary for people goes: stdout on a terminal,
// stderr when piped so that the rows stay machine-readable.
func summaryOut(ios *iostreams.IOStreams) io.Writer {
	if ios.IsStdoutTTY() {
		return ios.Out
	}
	return ios.ErrOut
}
