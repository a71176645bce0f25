package diagnose

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/pkg/api"
)

// showDiff prints `runs show RUN_ID --diff`: what changed since the previous
// completed run of the same kind and selector. The exit code is that of the
// run as it is now: 3 when devices are unhealthy or not checked.
func showDiff(ctx context.Context, o *RunsOptions, c *api.Client, id uuid.UUID) error {
	d, err := c.RunDiff(ctx, id)
	if err != nil {
		return err
	}
	s := d.Summary
	bad := s.NewlyUnhealthy + s.StillBroken + s.Unreachable
	exit := func() error {
		if bad > 0 {
			return cmdutil.ErrUnhealthy(fmt.Sprintf("%d of %d devices unhealthy or not checked", bad, s.Devices))
		}
		return nil
	}
	if o.Format() != cmdutil.FormatTable {
		if err := cmdutil.Render(o.IO, o.Format(), d, nil); err != nil {
			return err
		}
		return exit()
	}
	out := o.IO.Out
	if d.PreviousRunID == nil {
		fmt.Fprintf(out, "run %s (%s, %s): no earlier completed %s of this selector to compare with\n\n",
			d.RunID, d.Kind, d.Status, d.Kind)
	} else {
		fmt.Fprintf(out, "run %s (%s, %s) compared with %s\n\n", d.RunID, d.Kind, d.Status, d.PreviousRunID)
	}
	if len(d.NewIncidents)+len(d.ResolvedIncidents) > 0 {
		it := cmdutil.NewTable(o.IO)
		it.Header("incident", "change", "devices", "what", "fix")
		for _, in := range d.NewIncidents {
			it.Row(in.ID, "new", fmt.Sprint(len(in.Devices)), in.Summary, in.Fix)
		}
		for _, in := range d.ResolvedIncidents {
			it.Row(in.ID, "resolved", fmt.Sprint(len(in.Devices)), in.Summary, "")
		}
		if err := it.Render(); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	t := cmdutil.NewTable(o.IO)
	t.Header("change", "device", "site", "health", "diagnoses", "before", "runs in a row", "recommended")
	add := func(change string, list []api.DiffDevice) {
		for _, dd := range list {
			before := dd.PreviousHealth
			if before == "" {
				before = "-"
			} else if len(dd.PreviousDiagnoses) > 0 {
				before += " (" + strings.Join(dd.PreviousDiagnoses, ",") + ")"
			}
			streak := ""
			if dd.Consecutive > 0 {
				streak = fmt.Sprint(dd.Consecutive)
			}
			diags := strings.Join(dd.Diagnoses, ",")
			if dd.Error != "" && dd.Health == "error" {
				diags += ": " + dd.Error
			}
			t.Row(change, dd.Device, dd.Site, dd.Health, diags, before, streak, dd.Recommended)
		}
	}
	add("newly unhealthy", d.NewlyUnhealthy)
	add("unreachable", d.Unreachable)
	add("still broken", d.StillBroken)
	add("recovered", d.Recovered)
	if t.Len() > 0 {
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "%d devices: %d healthy, %d newly unhealthy, %d recovered, %d still broken, %d unreachable",
		s.Devices, s.Healthy, s.NewlyUnhealthy, s.Recovered, s.StillBroken, s.Unreachable)
	if s.Pending > 0 {
		fmt.Fprintf(out, ", %d not finished", s.Pending)
	}
	fmt.Fprintln(out)
	return exit()
}
