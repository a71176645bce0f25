package diagnose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// StatusOptions are `fleetctl status`'s inputs.
type StatusOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format
	Now    func() time.Time

	Site      string
	Diagnosis string
	Health    string
}

// NewCmdStatus builds `fleetctl status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "status [--site S] [--diagnosis CODE] [--health H]",
		Short: "Latest known health of every device, with its age",
		Long: `status shows each device's most recent diagnosis (from any run or sweep).
Exit status 3 when a listed device is unhealthy or could not be checked.`,
		Example: `  fleetctl status --site emea
  fleetctl status --diagnosis eventhandler-disconnected -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.Health {
			case "", "healthy", "unhealthy", "error", "unknown":
			default:
				return cmdutil.FlagErrorf("--health %q: want healthy, unhealthy, error or unknown", opts.Health)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Site, "site", "", "only devices of this site")
	cmd.Flags().StringVar(&opts.Diagnosis, "diagnosis", "", "only devices with this diagnosis code")
	cmd.Flags().StringVar(&opts.Health, "health", "", "only devices with this health")
	return cmd
}

func statusRun(ctx context.Context, o *StatusOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	list, err := c.Status(ctx, api.StatusFilter{Site: o.Site, Diagnosis: o.Diagnosis, Health: o.Health})
	if err != nil {
		return err
	}
	bad := 0
	for _, d := range list {
		if d.Health == "unhealthy" || d.Health == "error" {
			bad++
		}
	}
	now := o.Now()
	err = cmdutil.Render(o.IO, o.Format(), list, func(t *cmdutil.Table) {
		t.Header("device", "site", "kind", "health", "diagnoses", "recommended", "checked")
		for _, d := range list {
			age := "never"
			if d.CheckedAt != nil {
				age = Age(now.Sub(*d.CheckedAt)) + " ago"
				if !o.IO.IsStdoutTTY() {
					age = d.CheckedAt.UTC().Format(time.RFC3339)
				}
			}
			t.Row(d.Device, d.Site, d.Kind, d.Health, strings.Join(d.Diagnoses, ","), d.Recommended, age)
		}
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		return cmdutil.ErrUnhealthy(fmt.Sprintf("%d devices unhealthy or not checked", bad))
	}
	return nil
}

// Age renders a duration the way people read ages: 42s, 5m, 3h, 2d.
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

type checkView struct {
	ID      string `json:"id"`
	Verdict string `json:"verdict"`
	Summary string `json:"summary"`
}

func decodeChecks(raw json.RawMessage) ([]checkView, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var out []checkView
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode checks: %w", err)
	}
	return out, nil
}

func asAPIError(err error, target **api.Error) bool { return errors.As(err, target) }
