package diagnose

import (
	"slices"
	"strings"
)

// Verdict is the outcome of one check.
type Verdict string

// Check verdicts, as they appear in `diagnose -o json`.
const (
	// VerdictPass: the device shows what a healthy connector shows.
	VerdictPass Verdict = "pass"
	// VerdictWarn: something is off but not broken (an unknown API host, old log errors being
	// the only noise, no cloud session right now). A warn alone leaves the device healthy.
	VerdictWarn Verdict = "warn"
	// VerdictFail: the device is broken in the way the check looks for; the result usually names
	// a diagnosis.
	VerdictFail Verdict = "fail"
	// VerdictError: the check could not run or its output was not understood.
	VerdictError Verdict = "error"
	// VerdictSkip: the check was not run because a check it depends on failed
	// (e.g. no socket check when the connector is not running).
	VerdictSkip Verdict = "skip"
)

// Health is the verdict on a whole device.
type Health string

// Device health values, as they appear in `diagnose -o json` and `status -o
// json`: the one definition of them (pkg/runs re-exports them as the strings
// it stores, which pkg/remediate, pkg/sweep and pkg/metrics use).
const (
	HealthHealthy   Health = "healthy"   // every check passed or warned
	HealthUnhealthy Health = "unhealthy" // checks ran and something is wrong
	HealthError     Health = "error"     // checks could not run
	// HealthUnknown is never the verdict of checks: `status` reports it for a
	// device that has no result yet.
	HealthUnknown Health = "unknown"
)

// Diagnosis is a code saying why a device is unhealthy (docs/firepower.md §1).
type Diagnosis string

// Diagnosis codes produced from the device's output.
const (
	DiagEgressBlocked            Diagnosis = "egress-blocked"
	DiagEventHandlerDisconnected Diagnosis = "eventhandler-disconnected"
	DiagConnectorStopped         Diagnosis = "connector-stopped"
	DiagNotEnrolled              Diagnosis = "not-enrolled"
	DiagRegionMismatch           Diagnosis = "region-mismatch"
	// DiagCloudServicesOff is only visible through the FMC REST API; no SSH check produces it.
	DiagCloudServicesOff Diagnosis = "cloud-services-off"
)

// Diagnosis codes for devices whose checks could not run (Health error). The runner classifies
// these; they are defined here so that every code lives in one place.
const (
	DiagUnreachable     Diagnosis = "unreachable"
	DiagAuthFailed      Diagnosis = "auth-failed"
	DiagHostKeyMismatch Diagnosis = "hostkey-mismatch"
	DiagTimeout         Diagnosis = "timeout"
)

// Recommendation names the remediation an operator should take for a device.
type Recommendation string

// Recommendations. The first two are actions pkg/remediate performs on the device; the others
// are changes outside the device, named so that an operator can filter and act on them.
const (
	RecommendNone             Recommendation = ""
	RecommendRestartConnector Recommendation = "restart-connector"
	// RecommendReboot is never produced by Assess: remediation escalates to it when a connector
	// restart did not cure the device.
	RecommendReboot           Recommendation = "reboot"
	RecommendFixEgress        Recommendation = "fix-egress"
	RecommendFMCCloudSettings Recommendation = "fmc-cloud-settings"
	RecommendFMCRegionConfig  Recommendation = "fmc-region-config"
)

// severity orders diagnoses root cause first: a code earlier in the list can explain, or must be
// fixed before one can judge, the codes after it. Transport failures come first because nothing
// else is known about such a device.
var severity = []Diagnosis{
	DiagHostKeyMismatch,
	DiagAuthFailed,
	DiagUnreachable,
	DiagTimeout,
	DiagConnectorStopped,
	DiagEgressBlocked,
	DiagCloudServicesOff,
	DiagNotEnrolled,
	DiagRegionMismatch,
	DiagEventHandlerDisconnected,
}

// AllDiagnoses lists every diagnosis code, most severe first.
func AllDiagnoses() []Diagnosis { return slices.Clone(severity) }

// Severity ranks a diagnosis: lower is more severe. Unknown codes rank after all known ones.
func Severity(d Diagnosis) int {
	if i := slices.Index(severity, d); i >= 0 {
		return i
	}
	return len(severity)
}

// SortDiagnoses sorts codes most severe first (unknown codes last, alphabetically) and removes
// duplicates.
func SortDiagnoses(ds []Diagnosis) []Diagnosis {
	out := slices.Clone(ds)
	slices.SortFunc(out, func(a, b Diagnosis) int {
		if sa, sb := Severity(a), Severity(b); sa != sb {
			return sa - sb
		}
		return strings.Compare(string(a), string(b))
	})
	return slices.Compact(out)
}

// RecommendationFor is the remediation for one diagnosis.
func RecommendationFor(d Diagnosis) Recommendation {
	switch d {
	case DiagConnectorStopped, DiagEventHandlerDisconnected:
		return RecommendRestartConnector
	case DiagEgressBlocked:
		return RecommendFixEgress
	case DiagNotEnrolled, DiagCloudServicesOff:
		return RecommendFMCCloudSettings
	case DiagRegionMismatch:
		return RecommendFMCRegionConfig
	default:
		return RecommendNone
	}
}

// Strings converts codes for APIs that carry them as plain strings.
func Strings(ds []Diagnosis) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d)
	}
	return out
}
