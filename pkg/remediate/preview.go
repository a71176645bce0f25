package remediate

import (
	"fmt"
	"time"

	"github.com/fleetd/fleetd/pkg/diagnose"
)

// CheckIDs are the diagnose checks run before acting (pre-check) and after
// (verify). connector.log is left out on purpose: the error lines a fault
// wrote in the last minutes stay in the log window after a cure, so the log
// cannot tell whether a restart worked; the process and socket checks can.
var CheckIDs = []string{diagnose.CheckConnectorProcess, diagnose.CheckEventHandlerSocket}

// targeted lists the diagnoses an action can cure; verify requires them gone.
var targeted = []string{string(diagnose.DiagEventHandlerDisconnected), string(diagnose.DiagConnectorStopped)}

// Commands returns the device commands of an action, in order, for previews
// and documentation; the executor sends exactly these.
func Commands(a Action) []PreviewCommand {
	switch a {
	case ActionRestartConnector:
		return []PreviewCommand{
			{Level: "root", Command: diagnose.CmdDisableConnector},
			{Level: "root", Command: diagnose.CmdConnectorStatus, Note: `repeated until SSEConnector shows "User Disabled"`},
			{Level: "root", Command: diagnose.CmdEnableConnector},
			{Level: "root", Command: diagnose.CmdConnectorStatus, Note: `repeated until SSEConnector shows "Running <pid>"`},
		}
	case ActionReboot:
		return []PreviewCommand{
			{Level: "clish", Command: diagnose.CmdReboot, Note: fmt.Sprintf("answers %q with %s; then waits for SSH to come back within the site's reboot_timeout",
				diagnose.RebootConfirmPrompt, diagnose.RebootConfirmAnswer)},
		}
	}
	return nil
}

func buildPreview(r Request, devs []deviceRow, sites map[string]Site) Preview {
	p := Preview{
		Precheck:         CheckIDs,
		Commands:         Commands(r.Action),
		Verify:           CheckIDs,
		FailureThreshold: r.FailureThreshold,
		SkipRule:         "a device whose pre-check finds it healthy is skipped (nothing to do, counted as a success)",
		StopRule: fmt.Sprintf("the canary (batch 0) runs alone first; later batches (up to %d devices each) start only while the canary succeeded and failed devices (unreachable included) number at most %d",
			r.BatchSize, r.FailureThreshold),
	}
	p.Devices = make([]PreviewDevice, len(devs))
	for i, d := range devs {
		for len(p.Batches) <= d.Batch {
			p.Batches = append(p.Batches, []string{})
		}
		p.Batches[d.Batch] = append(p.Batches[d.Batch], d.Name)
		p.Devices[i] = PreviewDevice{Device: d.Name, ID: d.ID, Site: d.Site, Address: d.Address,
			Credential: d.Credential, HostKey: d.HostKey}
	}
	if p.Batches == nil {
		p.Batches = [][]string{}
	}
	switch r.Schedule {
	case ScheduleAt:
		if r.At != nil {
			p.Schedule = "at " + r.At.UTC().Format(time.RFC3339) + " (after approval)"
		}
	case ScheduleWindow:
		site := ""
		if len(devs) > 0 {
			site = devs[0].Site
		}
		w := sites[site].Window
		p.Schedule = fmt.Sprintf("only inside site %s maintenance window (%v at %s for %v, %s)", site, w.Weekdays, w.Start,
			w.Duration, sites[site].location())
		if r.NotBefore != nil {
			p.Schedule += "; next start " + r.NotBefore.UTC().Format(time.RFC3339)
		}
	default:
		p.Schedule = "as soon as approved"
	}
	return p
}
