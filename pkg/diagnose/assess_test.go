package diagnose

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAssess(t *testing.T) {
	t.Parallel()
	fail := func(id string, codes ...Diagnosis) CheckResult {
		return CheckResult{ID: id, Verdict: VerdictFail, Diagnoses: codes}
	}
	pass := func(id string) CheckResult { return CheckResult{ID: id, Verdict: VerdictPass} }
	for _, tc := range []struct {
		name    string
		results []CheckResult
		want    Assessment
	}{
		{"no results", nil, Assessment{Health: HealthError, Diagnoses: []Diagnosis{}}},
		{"all pass", []CheckResult{pass("a"), {ID: "b", Verdict: VerdictWarn}, {ID: "c", Verdict: VerdictSkip}},
			Assessment{Health: HealthHealthy, Diagnoses: []Diagnosis{}}},
		{"duplicates collapse", []CheckResult{fail("a", DiagEgressBlocked), fail("b", DiagEgressBlocked), fail("c", DiagEgressBlocked)},
			Assessment{Health: HealthUnhealthy, Diagnoses: []Diagnosis{DiagEgressBlocked}, Recommended: RecommendFixEgress}},
		{"sorted root cause first", []CheckResult{fail("a", DiagEventHandlerDisconnected), fail("b", DiagRegionMismatch), fail("c", DiagEgressBlocked)},
			Assessment{Health: HealthUnhealthy, Diagnoses: []Diagnosis{DiagEgressBlocked, DiagRegionMismatch, DiagEventHandlerDisconnected}, Recommended: RecommendFixEgress}},
		{"stopped explains the rest", []CheckResult{fail("a", DiagConnectorStopped), fail("b", DiagEventHandlerDisconnected), fail("c", DiagNotEnrolled)},
			Assessment{Health: HealthUnhealthy, Diagnoses: []Diagnosis{DiagConnectorStopped}, Recommended: RecommendRestartConnector}},
		{"not enrolled explains the socket", []CheckResult{fail("a", DiagEventHandlerDisconnected), fail("b", DiagNotEnrolled)},
			Assessment{Health: HealthUnhealthy, Diagnoses: []Diagnosis{DiagNotEnrolled}, Recommended: RecommendFMCCloudSettings}},
		{"codes on a non-failing result are ignored", []CheckResult{{ID: "a", Verdict: VerdictWarn, Diagnoses: []Diagnosis{DiagEgressBlocked}}},
			Assessment{Health: HealthHealthy, Diagnoses: []Diagnosis{}}},
		{"a failure outweighs an error", []CheckResult{{ID: "a", Verdict: VerdictError}, fail("b", DiagNotEnrolled)},
			Assessment{Health: HealthUnhealthy, Diagnoses: []Diagnosis{DiagNotEnrolled}, Recommended: RecommendFMCCloudSettings}},
		{"timeout error", []CheckResult{pass("a"), {ID: "b", Verdict: VerdictError, Diagnoses: []Diagnosis{DiagTimeout}}},
			Assessment{Health: HealthError, Diagnoses: []Diagnosis{DiagTimeout}}},
	} {
		require.Equal(t, tc.want, Assess(tc.results), tc.name)
	}
	require.Equal(t, Assessment{Health: HealthError, Diagnoses: []Diagnosis{DiagHostKeyMismatch}}, ErrorAssessment(DiagHostKeyMismatch))
}

func TestRecommendations(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[Diagnosis]Recommendation{
		DiagHostKeyMismatch: RecommendNone, DiagAuthFailed: RecommendNone, DiagUnreachable: RecommendNone, DiagTimeout: RecommendNone,
		DiagConnectorStopped: RecommendRestartConnector, DiagEgressBlocked: RecommendFixEgress,
		DiagCloudServicesOff: RecommendFMCCloudSettings, DiagNotEnrolled: RecommendFMCCloudSettings,
		DiagRegionMismatch: RecommendFMCRegionConfig, DiagEventHandlerDisconnected: RecommendRestartConnector,
	}, func() map[Diagnosis]Recommendation {
		m := map[Diagnosis]Recommendation{}
		for _, d := range AllDiagnoses() {
			m[d] = RecommendationFor(d)
		}
		return m
	}())
	require.Equal(t, []Diagnosis{DiagConnectorStopped, DiagNotEnrolled, "zz-new", "zzz-new"},
		SortDiagnoses([]Diagnosis{"zzz-new", DiagNotEnrolled, "zz-new", DiagConnectorStopped, DiagNotEnrolled}))
	require.Equal(t, []string{"egress-blocked"}, Assessment{Diagnoses: []Diagnosis{DiagEgressBlocked}}.Codes())
}
