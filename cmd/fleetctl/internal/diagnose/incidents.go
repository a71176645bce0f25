package diagnose

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// IncidentsOptions are `fleetctl incidents`'s inputs.
type IncidentsOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Site string
}

// NewCmdIncidents builds `fleetctl incidents`.
func NewCmdIncidents(f *cmdutil.Factory) *cobra.Command {
	opts := &IncidentsOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	cmd := &cobra.Command{
		Use:   "incidents [--site S]",
		Short: "Fleet-level root causes in the devices' latest results",
		Long: `incidents groups the devices whose latest result is unhealthy or not checked
by what they share: a site's upstream firewall (site-egress), their FMC's cloud
settings (fmc-rooted), a software version (upgrade), a credential (credential),
a site's or jump chain's network path (path). Each incident has its devices,
the shared evidence, a confidence and one fix. Devices no incident explains are
in fleetctl status.

Exit status 3 when there is an incident.`,
		Example: `  fleetctl incidents
  fleetctl incidents --site emea -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.Client()
			if err != nil {
				return err
			}
			list, err := c.Incidents(cmd.Context(), opts.Site)
			if err != nil {
				return err
			}
			if opts.Format() != cmdutil.FormatTable {
				err = cmdutil.Render(opts.IO, opts.Format(), list, nil)
			} else {
				err = RenderIncidents(opts.IO, list.Incidents, list.Explained, list.NotHealthy, true)
			}
			if err != nil {
				return err
			}
			if len(list.Incidents) > 0 {
				return cmdutil.ErrUnhealthy(fmt.Sprintf("%d incident(s)", len(list.Incidents)))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Site, "site", "", "only incidents naming devices of this site")
	return cmd
}

// RenderIncidents prints the incidents for people: one line saying how much
// they explain, then one row per incident with its fix. always prints the
// line when there is none too.
func RenderIncidents(ios *iostreams.IOStreams, incidents []api.Incident, explained, notHealthy int, always bool) error {
	if len(incidents) == 0 {
		if always {
			fmt.Fprintf(ios.Out, "no incidents (%d devices unhealthy or not checked)\n", notHealthy)
		}
		return nil
	}
	verb := "explain"
	if len(incidents) == 1 {
		verb = "explains"
	}
	fmt.Fprintf(ios.Out, "%s %s %d of %d unhealthy devices\n\n", plural(len(incidents), "incident"), verb, explained, notHealthy)
	t := cmdutil.NewTable(ios)
	t.Header("incident", "devices", "confidence", "what", "fix")
	for _, in := range incidents {
		t.Row(in.ID, fmt.Sprint(len(in.Devices)), in.Confidence, in.Summary, in.Fix)
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := io.WriteString(ios.Out, "\n")
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// explainedCount is how many of run's devices an incident names.
func explainedCount(run api.Run) int {
	n := 0
	for _, in := range run.Incidents {
		n += len(in.Devices)
	}
	return n
}

// recommendedText is a device's recommendation as people read it: with the
// device it acts on when that is another one (the FMC).
func recommendedText(d api.DeviceResult) string {
	if d.RecommendedOn != "" {
		return d.Recommended + " on " + d.RecommendedOn
	}
	return d.Recommended
}
