package apiserver

import (
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
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

// Runs.

func runToWire(r runs.Run) api.Run {
	return api.Run{ID: r.ID, Kind: r.Kind, Status: r.Status, RequestedBy: r.RequestedBy,
		Selector: api.Selector(r.Selector), Checks: r.Checks, Schedule: r.Schedule,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Summary: api.RunSummary(r.Summary),
		Devices: mapSlice(r.Devices, func(d runs.DeviceResult) api.DeviceResult { return api.DeviceResult(d) })}
}

func deviceStatusToWire(s runs.DeviceStatus) api.DeviceStatus { return api.DeviceStatus(s) }

// Sweeps.

func scheduleToWire(s sweep.Schedule) api.Schedule {
	out := api.Schedule{Name: s.Name, Cron: s.Cron, Timezone: s.Timezone, Selector: api.Selector(s.Selector),
		Enabled: s.Enabled, EnabledBy: s.EnabledBy, EnabledAt: s.EnabledAt,
		CreateRemediationRequests: s.CreateRemediationRequests, NextRun: s.NextRun, LastSlot: s.LastSlot,
		LastError: s.LastError}
	if lr := s.LastRun; lr != nil {
		out.LastRun = &api.ScheduleLastRun{ID: lr.ID, StartedAt: lr.StartedAt, Status: lr.Status,
			Summary: api.RunSummary(lr.Summary)}
	}
	return out
}

func diffToWire(d sweep.Diff) api.RunDiff {
	dev := func(x sweep.DiffDevice) api.DiffDevice { return api.DiffDevice(x) }
	return api.RunDiff{RunID: d.RunID, Kind: d.Kind, Schedule: d.Schedule, Status: d.Status,
		Selector: api.Selector(d.Selector), CreatedAt: d.CreatedAt, PreviousRunID: d.PreviousRunID,
		PreviousFinished: d.PreviousFinished, Summary: api.DiffSummary(d.Summary),
		NewlyUnhealthy: mapSlice(d.NewlyUnhealthy, dev), Recovered: mapSlice(d.Recovered, dev),
		StillBroken: mapSlice(d.StillBroken, dev), Unreachable: mapSlice(d.Unreachable, dev),
		Truncated: d.Truncated}
}

// Remediation.

func createRequestFromWire(in api.CreateRemediationRequest) remediate.CreateRequest {
	return remediate.CreateRequest{Action: remediate.Action(in.Action), Devices: in.Devices, Site: in.Site,
		Diagnosis: in.Diagnosis, At: in.At, InWindow: in.InWindow, Reason: in.Reason}
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
