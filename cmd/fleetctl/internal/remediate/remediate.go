// Package remediate holds fleetctl's remediation commands: `remediate`
// (request), `approvals list`, `approve`, `reject` and `requests show|cancel`.
// Every rule (who may approve, expiry, the binding of an approval to what was
// requested) is enforced by fleetd; these commands only ask and show.
package remediate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cmdutil"
	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// noValue marks an action flag given without devices (`--restart-connector
// --site emea ...`, or devices as arguments).
const noValue = "\x00"

// RequestOptions are `remediate`'s inputs.
type RequestOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*api.Client, error)
	Format func() cmdutil.Format

	Request api.CreateRemediationRequest
}

// NewCmdRemediate builds `remediate (--restart-connector | --reboot) ...`.
func NewCmdRemediate(f *cmdutil.Factory, runF func(context.Context, *RequestOptions) error) *cobra.Command {
	opts := &RequestOptions{IO: f.IOStreams, Client: f.APIClient, Format: f.OutputFormat}
	var restart, reboot []string
	var at string
	cmd := &cobra.Command{
		Use:   "remediate (--restart-connector | --reboot) (DEVICE... | --site S [--diagnosis CODE] | --from-run RUN_ID) [--at TIME | --in-window] [--reason TEXT]",
		Short: "Request a remediation; another person approves it before fleetd acts",
		Long: `Request a connector restart or a reboot. Nothing touches a device until a
different identity with the approver role runs ` + "`fleetctl approve ID`" + `.

The device list is frozen now: name devices, or select them by --site and/or
--diagnosis from the latest status (` + "`fleetctl status`" + `), or with --from-run
the devices of one run whose recommendation is restart-connector. The answer shows
exactly which commands will run on which devices: a canary first, then
batches; later batches stop when failures pass the configured threshold.

Reboots need a time: --at (RFC 3339) or --in-window (the site's maintenance
window; never outside it, even after a fleetd outage).`,
		Example: `  fleetctl remediate --restart-connector ftd-ams-01 --reason "INC-123 no events in XDR"
  fleetctl remediate --restart-connector --site emea --diagnosis eventhandler-disconnected
  fleetctl remediate --restart-connector --from-run 0b7e...   # what that run says a restart cures
  fleetctl remediate --reboot ftd-ams-01 --in-window
  fleetctl remediate --reboot ftd-ams-01 --at 2024-06-02T02:30:00+02:00`,
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &opts.Request
			switch {
			case len(restart) > 0 && len(reboot) > 0:
				return cmdutil.FlagErrorf("give --restart-connector or --reboot, not both")
			case len(restart) > 0:
				req.Action = api.ActionRestartConnector
				req.Devices = deviceList(restart, args)
			case len(reboot) > 0:
				req.Action = api.ActionReboot
				req.Devices = deviceList(reboot, args)
			default:
				return cmdutil.FlagErrorf("give an action: --restart-connector or --reboot")
			}
			switch {
			case req.FromRun != "" && req.Action != api.ActionRestartConnector:
				return cmdutil.FlagErrorf("--from-run selects the devices a connector restart cures: use it with --restart-connector")
			case req.FromRun != "" && (len(req.Devices) > 0 || req.Site != "" || req.Diagnosis != ""):
				return cmdutil.FlagErrorf("--from-run selects the devices itself: no devices, --site or --diagnosis with it")
			case req.FromRun != "":
				if _, err := uuid.Parse(req.FromRun); err != nil {
					return cmdutil.FlagErrorf("--from-run %q is not a run id (a UUID, see `fleetctl runs list`)", req.FromRun)
				}
			case len(req.Devices) > 0 && (req.Site != "" || req.Diagnosis != ""):
				return cmdutil.FlagErrorf("name devices or select them with --site/--diagnosis, not both")
			case len(req.Devices) == 0 && req.Site == "" && req.Diagnosis == "":
				return cmdutil.FlagErrorf("which devices? name them, or give --site and/or --diagnosis, or --from-run RUN_ID")
			}
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return cmdutil.FlagErrorf("--at %q: want an RFC 3339 time such as 2024-06-02T02:30:00+02:00", at)
				}
				req.At = &t
			}
			switch {
			case req.At != nil && req.InWindow:
				return cmdutil.FlagErrorf("give --at or --in-window, not both")
			case req.Action == api.ActionReboot && req.At == nil && !req.InWindow:
				return cmdutil.FlagErrorf("a reboot needs --at TIME or --in-window")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return requestRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&restart, "restart-connector", nil, "restart SSEConnector (pmtool disable+enable) on these devices")
	fl.StringSliceVar(&reboot, "reboot", nil, "reboot these devices (clish reboot, YES)")
	fl.Lookup("restart-connector").NoOptDefVal = noValue
	fl.Lookup("reboot").NoOptDefVal = noValue
	fl.StringVar(&opts.Request.Site, "site", "", "select the devices of this site (from the latest status)")
	fl.StringVar(&opts.Request.Diagnosis, "diagnosis", "", "select devices whose latest status has this diagnosis")
	fl.StringVar(&opts.Request.FromRun, "from-run", "", "select the devices of this run a connector restart cures (recommended restart-connector)")
	fl.StringVar(&at, "at", "", "run at this time (RFC 3339), after approval")
	fl.BoolVar(&opts.Request.InWindow, "in-window", false, "run only inside the site's maintenance window")
	fl.StringVar(&opts.Request.Reason, "reason", "", "why (ticket, incident); shown to the approver and audited")
	return cmd
}

// deviceList merges flag values (comma lists) and arguments.
func deviceList(flagVals, args []string) []string {
	var out []string
	for _, v := range append(append([]string{}, flagVals...), args...) {
		for _, d := range strings.Split(v, ",") {
			if d = strings.TrimSpace(d); d != "" && d != noValue {
				out = append(out, d)
			}
		}
	}
	return out
}

func requestRun(ctx context.Context, opts *RequestOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	r, err := c.CreateRemediation(ctx, opts.Request)
	if err != nil {
		return err
	}
	if opts.Format() != cmdutil.FormatTable {
		return cmdutil.Render(opts.IO, opts.Format(), r, nil)
	}
	printRequest(opts.IO, r, true)
	fmt.Fprintf(opts.IO.Out, "\nNothing runs until another person approves: fleetctl approve %s\n", r.ID)
	return nil
}

// printRequest shows a request for people: what, who, when, and the plan or
// the outcome.
func printRequest(ios *iostreams.IOStreams, r api.RemediationRequest, plan bool) {
	w := ios.Out
	fmt.Fprintf(w, "Request     %s\n", r.ID)
	fmt.Fprintf(w, "Action      %s\n", r.Action)
	fmt.Fprintf(w, "State       %s\n", r.State)
	fmt.Fprintf(w, "Requested   by %s at %s\n", r.RequestedBy, cmdutil.FormatTime(ios, r.CreatedAt))
	if r.Reason != "" {
		fmt.Fprintf(w, "Reason      %s\n", r.Reason)
	}
	switch {
	case r.ApprovedBy != "":
		line := "by " + r.ApprovedBy
		if r.ApprovedAt != nil {
			line += " at " + cmdutil.FormatTime(ios, *r.ApprovedAt)
		}
		if r.ApprovalComment != "" {
			line += ": " + r.ApprovalComment
		}
		fmt.Fprintf(w, "Approved    %s\n", line)
	case r.State == api.RequestPending:
		fmt.Fprintf(w, "Expires     %s (unapproved requests expire)\n", cmdutil.FormatTime(ios, r.ExpiresAt))
	}
	if r.RejectedBy != "" {
		fmt.Fprintf(w, "Rejected    by %s: %s\n", r.RejectedBy, r.RejectReason)
	}
	if r.CancelledBy != "" {
		fmt.Fprintf(w, "Cancelled   by %s %s\n", r.CancelledBy, r.CancelReason)
	}
	if r.NotBefore != nil && !r.State.Final() {
		fmt.Fprintf(w, "Not before  %s\n", cmdutil.FormatTime(ios, *r.NotBefore))
	}
	if r.ScheduleNote != "" {
		fmt.Fprintf(w, "Schedule    %s\n", r.ScheduleNote)
	}
	fmt.Fprintf(w, "Params hash %s\n", r.ParamsHash)
	if p := r.Preview; p != nil && plan {
		fmt.Fprintf(w, "\nWhen        %s\n", p.Schedule)
		fmt.Fprintf(w, "Devices     %d, in this order:\n", len(r.Devices))
		for i, b := range p.Batches {
			label := fmt.Sprintf("batch %d", i)
			if i == 0 {
				label = "canary"
			}
			fmt.Fprintf(w, "  %-9s %s\n", label, strings.Join(b, " "))
		}
		if len(p.Devices) > 0 {
			// What the approval binds: these boxes, reached this way. A device
			// that differs when its turn comes is refused, nothing sent.
			fmt.Fprintf(w, "Approves    exactly these boxes (a device that changes before it runs is refused):\n")
			t := cmdutil.NewTable(ios)
			t.Header("  device", "id", "address", "credential", "host key")
			for _, d := range p.Devices {
				t.Row("  "+d.Device, d.ID.String(), d.Address, d.Credential, d.HostKey)
			}
			_ = t.Render()
		}
		fmt.Fprintf(w, "On each device:\n")
		fmt.Fprintf(w, "  pre-check  %s (%s)\n", strings.Join(p.Precheck, ", "), p.SkipRule)
		for _, c := range p.Commands {
			line := fmt.Sprintf("  %-10s %s", c.Level+"#", c.Command)
			if c.Note != "" {
				line += "   # " + c.Note
			}
			fmt.Fprintln(w, line)
		}
		fmt.Fprintf(w, "  verify     %s\n", strings.Join(p.Verify, ", "))
		fmt.Fprintf(w, "Stops when  %s\n", p.StopRule)
	}
	if len(r.DeviceResults) > 0 && (r.State == api.RequestRunning || r.State.Final()) {
		fmt.Fprintln(w)
		t := cmdutil.NewTable(ios)
		t.Header("device", "batch", "outcome", "step", "before", "after", "message")
		for _, d := range r.DeviceResults {
			t.Row(d.Device, fmt.Sprint(d.Batch), d.Outcome, d.Step, strings.Join(d.DiagnosesBefore, ","),
				strings.Join(d.DiagnosesAfter, ","), d.Message)
		}
		_ = t.Render()
	}
	if r.Result != nil {
		fmt.Fprintf(w, "\nResult      %s\n", r.Result.Message)
		if r.Result.Recommended != "" {
			fmt.Fprintf(w, "Recommended %s\n", r.Result.Recommended)
		}
	}
}
