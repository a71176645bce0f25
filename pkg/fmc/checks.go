package fmc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetd/fleetd/pkg/diagnose"
)

// Site is what the FMC's settings are judged against.
type Site struct {
	// Region is the site's SSE region name ("eu") and APIHost its API host
	// ("api.eu.sse.itd.cisco.com"): the FMC's current cloud region must name it.
	Region, APIHost string
}

// The fixes the FMC checks recommend, in the operator's words.
const (
	FixCloudEvents = "On the FMC: System > Integration > Cloud Services: enable Cisco Cloud Event Configuration " +
		"(send intrusion events to the cloud) and save; its FTDs then enrol on their own."
	FixLicense = "On the FMC: System > Licenses > Smart Licenses: register the FMC to the Smart Account " +
		"(an evaluation or unregistered licence keeps cloud services off)."
	FixRegion = "On the FMC: System > Integration > Cloud Services: set the Cisco Cloud region to the site's region " +
		"(%s) and save; its FTDs follow it."
	SatelliteReason = "skipped: Smart Software Satellite vs direct connection is not visible over the FMC REST API; " +
		"verify by hand in System > Integration > Smart Software Satellite (direct connection expected)."
)

// RunChecks makes the REST checks named by ids (nil or empty: all of them,
// in diagnose.FMCCheckIDs order) against the FMC. Like diagnose.RunChecks
// it never fails: every problem is a check result. The login comes first;
// when it fails (certificate not pinned, credentials refused, FMC down),
// every check that needed it is an error naming why.
func RunChecks(ctx context.Context, c *Client, site Site, ids []string) []diagnose.CheckResult {
	all := diagnose.FMCCheckIDs()
	if len(ids) == 0 {
		ids = all
	}
	var loginErr error
	if slices.ContainsFunc(ids, func(id string) bool { return id != diagnose.CheckFMCSmartSatellite }) {
		_, loginErr = c.Domain(ctx)
	}
	out := make([]diagnose.CheckResult, 0, len(ids))
	for _, id := range all {
		if !slices.Contains(ids, id) {
			continue
		}
		var r diagnose.CheckResult
		switch {
		case id == diagnose.CheckFMCSmartSatellite:
			r = diagnose.CheckResult{Verdict: diagnose.VerdictSkip, Summary: SatelliteReason}
		case loginErr != nil:
			r = errorResult(ctx, "no REST session to the FMC: "+Explain(loginErr), loginErr)
		case id == diagnose.CheckFMCCloudEvents:
			r = checkCloudEvents(ctx, c)
		case id == diagnose.CheckFMCCloudRegion:
			r = checkCloudRegion(ctx, c, site)
		case id == diagnose.CheckFMCSmartLicense:
			r = checkSmartLicense(ctx, c)
		}
		r.ID = id
		if r.Evidence == nil {
			r.Evidence = map[string]any{}
		}
		out = append(out, r)
	}
	return out
}

// Explain is err with what to do about the causes an operator can fix.
func Explain(err error) string {
	switch {
	case errors.Is(err, ErrCertificateUnknown):
		return err.Error() + " (compare the fingerprint with the FMC's own first)"
	case errors.Is(err, ErrCertificateMismatch):
		return err.Error() + " (nothing was sent; if the FMC's certificate was replaced, accept the new one by name)"
	case errors.Is(err, ErrLoginFailed):
		return err.Error() + " (check the API user's credential; use a dedicated API user)"
	}
	return err.Error()
}

func errorResult(ctx context.Context, summary string, err error) diagnose.CheckResult {
	r := diagnose.CheckResult{Verdict: diagnose.VerdictError, Summary: summary, Evidence: map[string]any{}}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		r.Diagnoses = []diagnose.Diagnosis{diagnose.DiagTimeout}
	}
	return r
}

func checkCloudEvents(ctx context.Context, c *Client) diagnose.CheckResult {
	cfg, err := c.CloudEventsConfig(ctx)
	if err != nil {
		return errorResult(ctx, "reading cloudeventsconfigs: "+err.Error(), err)
	}
	ev := map[string]any{"sendIntrusionEvents": cfg.SendIntrusionEvents, "sendFileEvents": cfg.SendFileEvents,
		"sendConnectionEvents": cfg.SendConnectionEvents, "sendAllConnectionEvents": cfg.SendAllConnectionEvents}
	if !cfg.SendIntrusionEvents {
		ev["fix"] = FixCloudEvents
		return diagnose.CheckResult{Verdict: diagnose.VerdictFail, Evidence: ev,
			Summary:   "Cisco Cloud events are off on the FMC (sendIntrusionEvents false): its FTDs cannot enrol",
			Diagnoses: []diagnose.Diagnosis{diagnose.DiagCloudServicesOff}}
	}
	return diagnose.CheckResult{Verdict: diagnose.VerdictPass, Evidence: ev, Summary: "intrusion events are sent to the cloud"}
}

func checkCloudRegion(ctx context.Context, c *Client, site Site) diagnose.CheckResult {
	regions, err := c.CloudRegions(ctx)
	if err != nil {
		return errorResult(ctx, "reading cloudregions: "+err.Error(), err)
	}
	names := make([]string, 0, len(regions))
	current := -1
	for i, r := range regions {
		names = append(names, r.Name)
		if r.Current {
			current = i
		}
	}
	ev := map[string]any{"regions": names, "site_region": site.Region, "expected_api_host": site.APIHost}
	if current < 0 {
		return diagnose.CheckResult{Verdict: diagnose.VerdictWarn, Evidence: ev,
			Summary: "the FMC names no current cloud region"}
	}
	cur := regions[current]
	ev["current"] = cur.Name
	if !strings.EqualFold(cur.APIHost(), site.APIHost) {
		ev["fix"] = fmt.Sprintf(FixRegion, site.Region)
		return diagnose.CheckResult{Verdict: diagnose.VerdictFail, Evidence: ev,
			Summary: fmt.Sprintf("the FMC's cloud region is %s, the site's region %s is %s: its FTDs register in the wrong region",
				cur.Name, site.Region, site.APIHost),
			Diagnoses: []diagnose.Diagnosis{diagnose.DiagRegionMismatch}}
	}
	return diagnose.CheckResult{Verdict: diagnose.VerdictPass, Evidence: ev,
		Summary: "the FMC's cloud region is " + cur.Name}
}

func checkSmartLicense(ctx context.Context, c *Client) diagnose.CheckResult {
	l, err := c.SmartLicense(ctx)
	if err != nil {
		return errorResult(ctx, "reading smartlicenses: "+err.Error(), err)
	}
	ev := map[string]any{"regStatus": l.RegStatus, "authStatus": l.Metadata.AuthStatus, "evalUsed": l.Metadata.EvalUsed,
		"evalExpiresInDays": l.Metadata.EvalExpiresInDays, "virtualAccount": l.Metadata.VirtualAccount}
	switch l.RegStatus {
	case RegRegistered:
		return diagnose.CheckResult{Verdict: diagnose.VerdictPass, Evidence: ev, Summary: "the smart licence is registered"}
	case RegEvaluation, RegUnregistered:
		ev["fix"] = FixLicense
		return diagnose.CheckResult{Verdict: diagnose.VerdictFail, Evidence: ev,
			Summary:   fmt.Sprintf("the smart licence is %s: cloud services cannot work", l.RegStatus),
			Diagnoses: []diagnose.Diagnosis{diagnose.DiagCloudServicesOff}}
	}
	return diagnose.CheckResult{Verdict: diagnose.VerdictWarn, Evidence: ev,
		Summary: fmt.Sprintf("unknown smart licence state %q", l.RegStatus)}
}
