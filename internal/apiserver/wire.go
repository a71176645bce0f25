package apiserver

import (
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// The mapping from the services' domain types to pkg/api's wire types. Where
// a wire type has exactly the fields of its domain type, it is a Go
// conversion, not a field-by-field copy, so adding a field to one side alone
// stops the build; wire_test.go compares the JSON of both sides, so a
// renamed tag or a changed omitempty fails the tests.

// mapSlice keeps nil as nil: a nil list is "null" on the wire, an empty one
// "[]", and the contract says which one each field is.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// Runs, device status, schedules and sweep diffs need no mapping: pkg/runs
// and pkg/sweep build the contract objects themselves (runs.Run is
// api.Run, sweep.Schedule is api.Schedule, ...), so there is one definition
// of each. same is the mapping writeList takes for them.
func same[T any](v T) T { return v }

// Remediation.

func createRequestFromWire(in api.CreateRemediationRequest) remediate.CreateRequest {
	return remediate.CreateRequest{Action: remediate.Action(in.Action), Devices: in.Devices, Site: in.Site,
		Diagnosis: in.Diagnosis, FromRun: in.FromRun, At: in.At, InWindow: in.InWindow, Reason: in.Reason}
}

func remediationDeviceToWire(d remediate.DeviceResult) api.RemediationDeviceResult {
	return api.RemediationDeviceResult(d)
}

func previewDeviceToWire(d remediate.PreviewDevice) api.PreviewDevice { return api.PreviewDevice(d) }

func requestToWire(r remediate.Request) api.RemediationRequest {
	out := api.RemediationRequest{ID: r.ID, Action: api.RemediationAction(r.Action), Devices: r.Devices,
		State: api.RequestState(r.State), RequestedBy: r.RequestedBy, ApprovedBy: r.ApprovedBy, Reason: r.Reason,
		NotBefore: r.NotBefore, ExpiresAt: r.ExpiresAt,
		Selector: api.RemediationSelector(r.Selector), Schedule: string(r.Schedule), At: r.At,
		BatchSize: r.BatchSize, FailureThreshold: r.FailureThreshold, ParamsHash: r.ParamsHash,
		CreatedAt: r.CreatedAt, ApprovedAt: r.ApprovedAt, ApprovalComment: r.ApprovalComment,
		RejectedBy: r.RejectedBy, RejectReason: r.RejectReason, CancelledBy: r.CancelledBy,
		CancelReason: r.CancelReason, DecidedAt: r.DecidedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		ScheduleNote:  r.ScheduleNote,
		DeviceResults: mapSlice(r.DeviceResults, remediationDeviceToWire),
		Identities:    mapSlice(r.Identities, previewDeviceToWire),
		History: mapSlice(r.History, func(h remediate.HistoryEntry) api.RemediationHistoryEntry {
			return api.RemediationHistoryEntry(h)
		})}
	if res := r.Result; res != nil {
		out.Result = &api.RemediationResult{Summary: api.RemediationSummary(res.Summary), Message: res.Message,
			Recommended: res.Recommended, Devices: mapSlice(res.Devices, remediationDeviceToWire)}
	}
	if p := r.Preview; p != nil {
		out.Preview = &api.RemediationPreview{Batches: p.Batches,
			Devices:  mapSlice(p.Devices, previewDeviceToWire),
			Precheck: p.Precheck,
			Commands: mapSlice(p.Commands, func(c remediate.PreviewCommand) api.PreviewCommand {
				return api.PreviewCommand(c)
			}),
			Verify: p.Verify, Schedule: p.Schedule, StopRule: p.StopRule, SkipRule: p.SkipRule,
			FailureThreshold: p.FailureThreshold}
	}
	return out
}
