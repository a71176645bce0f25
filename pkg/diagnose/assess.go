package diagnose

import "slices"

// Assessment is the verdict on one device from its check results.
type Assessment struct {
	Health Health `json:"health"`
	// Diagnoses are the device's codes, most severe (root cause) first.
	Diagnoses   []Diagnosis    `json:"diagnoses"`
	Recommended Recommendation `json:"recommended"`
}

// Codes returns the diagnoses as plain strings.
func (a Assessment) Codes() []string { return Strings(a.Diagnoses) }

// consequences lists, for a diagnosis, the codes it explains: when both are found only the
// cause is reported, because fixing it is the only useful action and may cure the others.
var consequences = map[Diagnosis][]Diagnosis{
	// Nothing that needs the running connector can be judged while it is stopped.
	DiagConnectorStopped: {DiagEventHandlerDisconnected, DiagNotEnrolled},
	// Enrolment needs the cloud: a blocked device cannot enrol, and re-enabling Cisco Cloud on
	// the FMC would not help.
	DiagEgressBlocked: {DiagNotEnrolled},
	// EventHandler is reconfigured to push to the connector only once the device is enrolled.
	DiagNotEnrolled: {DiagEventHandlerDisconnected},
}

// Assess turns check results into the device's health, diagnoses and recommended action.
//
//   - unhealthy: some check failed or named a diagnosis; Recommended is the remedy of the most
//     severe diagnosis ("" when a failure has no code, e.g. an unreadable connector.properties).
//   - error: no check failed but some could not run; Diagnoses holds "timeout" when a deadline
//     was the reason. No results at all is an error too.
//   - healthy: everything passed, warned or was skipped.
func Assess(results []CheckResult) Assessment {
	var found []Diagnosis
	failed, errored := false, false
	for _, r := range results {
		switch r.Verdict {
		case VerdictFail:
			failed = true
			found = append(found, r.Diagnoses...)
		case VerdictError:
			errored = true
		}
	}
	if !failed {
		if errored || len(results) == 0 {
			var codes []Diagnosis
			for _, r := range results {
				if r.Verdict == VerdictError {
					codes = append(codes, r.Diagnoses...)
				}
			}
			return Assessment{Health: HealthError, Diagnoses: nonNil(SortDiagnoses(codes))}
		}
		return Assessment{Health: HealthHealthy, Diagnoses: []Diagnosis{}}
	}
	explained := map[Diagnosis]bool{}
	for _, d := range found {
		for _, c := range consequences[d] {
			explained[c] = true
		}
	}
	found = slices.DeleteFunc(found, func(d Diagnosis) bool { return explained[d] })
	a := Assessment{Health: HealthUnhealthy, Diagnoses: nonNil(SortDiagnoses(found))}
	if len(a.Diagnoses) > 0 {
		a.Recommended = RecommendationFor(a.Diagnoses[0])
	}
	return a
}

// ErrorAssessment is the assessment of a device whose checks could not run at all (the runner
// could not reach it): code is unreachable, auth-failed, hostkey-mismatch or timeout.
func ErrorAssessment(code Diagnosis) Assessment {
	return Assessment{Health: HealthError, Diagnoses: []Diagnosis{code}}
}

func nonNil(ds []Diagnosis) []Diagnosis {
	if ds == nil {
		return []Diagnosis{}
	}
	return ds
}
