package diagnose

import "slices"

// The checks made on an FMC through its REST API (pkg/fmc runs them; they
// are named here so that a run's --check list is validated in one place).
const (
	CheckFMCCloudEvents    = "fmc.cloud-events"
	CheckFMCCloudRegion    = "fmc.cloud-region"
	CheckFMCSmartLicense   = "fmc.smart-license"
	CheckFMCSmartSatellite = "fmc.smart-satellite"
)

// fmcChecks is the REST catalog in run order, with titles for docs and UIs.
var fmcChecks = []struct{ ID, Title string }{
	{CheckFMCCloudEvents, "Cisco Cloud events are on: intrusion events are sent to the cloud (cloudeventsconfigs)"},
	{CheckFMCCloudRegion, "The FMC's current cloud region is the site's region (cloudregions)"},
	{CheckFMCSmartLicense, "The smart licence is registered, not in evaluation or unregistered (smartlicenses)"},
	{CheckFMCSmartSatellite, "Smart Software Satellite or direct connection: not visible over REST (skipped, with what to check by hand)"},
}

// FMCCheckIDs lists the REST checks in run order.
func FMCCheckIDs() []string {
	ids := make([]string, len(fmcChecks))
	for i, c := range fmcChecks {
		ids[i] = c.ID
	}
	return ids
}

// FMCCheckTitle is the title of a REST check ("" for another id).
func FMCCheckTitle(id string) string {
	for _, c := range fmcChecks {
		if c.ID == id {
			return c.Title
		}
	}
	return ""
}

// IsFMCCheck reports whether id is a REST check.
func IsFMCCheck(id string) bool { return slices.Contains(FMCCheckIDs(), id) }

// SplitCheckIDs separates a run's check list into the SSH checks and the
// REST checks. Both nil means all of each; when the list names only one
// kind, the other comes back as an empty, non-nil slice: none of it runs.
func SplitCheckIDs(ids []string) (ssh, rest []string) {
	if len(ids) == 0 {
		return nil, nil
	}
	ssh, rest = []string{}, []string{}
	for _, id := range ids {
		if IsFMCCheck(id) {
			rest = append(rest, id)
		} else {
			ssh = append(ssh, id)
		}
	}
	return ssh, rest
}
