package apiserver

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
)

// The JSON contract (docs/design.md, docs/api.md) was written against the
// services' own types, which the API used to send as they are. These tests
// keep pkg/api's wire types encoding exactly like them: every mapped type, once
// with every field set (same names, same encodings) and once empty (same
// omitempty, same null versus []).

func requireSameJSON(t *testing.T, domain, wire any) {
	t.Helper()
	d, err := json.Marshal(domain)
	require.NoError(t, err)
	w, err := json.Marshal(wire)
	require.NoError(t, err)
	require.JSONEq(t, string(d), string(w))
}

// requireStrictlyDecodable proves a request body the domain type accepted is
// accepted, field for field, by the wire type the server now decodes
// (decodeJSON rejects unknown fields).
func requireStrictlyDecodable(t *testing.T, domain, wire any) {
	t.Helper()
	raw, err := json.Marshal(domain)
	require.NoError(t, err)
	r := httptest.NewRequest("POST", "/", strings.NewReader(string(raw)))
	r.Header.Set("Content-Type", "application/json")
	require.NoError(t, decodeJSON(r, wire))
}

var (
	t1   = time.Date(2024, 5, 1, 2, 3, 4, 567_000_000, time.FixedZone("CEST", 2*3600))
	t2   = time.Date(2024, 5, 1, 0, 10, 0, 0, time.UTC)
	id1  = uuid.MustParse("0b9b1f4e-1f0a-4c59-9d7b-6a3b7d6c1e01")
	id2  = uuid.MustParse("0b9b1f4e-1f0a-4c59-9d7b-6a3b7d6c1e02")
	tPtr = func(t time.Time) *time.Time { return &t }
)

func fullRunsSelector() runs.Selector {
	return runs.Selector{All: true, Site: "emea", Devices: []string{"ftd-1", "ftd-2"}, Tag: "role=edge"}
}

func TestWireStartRunRequestDecodesLikeBefore(t *testing.T) {
	t.Parallel()
	// Before, POST /v1/runs decoded {"selector": runs.Selector, "checks": [...]}.
	type before struct {
		Selector runs.Selector `json:"selector"`
		Checks   []string      `json:"checks,omitempty"`
	}
	full := before{Selector: fullRunsSelector(), Checks: []string{"pmtool"}}
	var in api.StartRunRequest
	requireStrictlyDecodable(t, full, &in)
	requireSameJSON(t, full, in)
	require.Equal(t, full.Selector, runs.Selector(in.Selector), "the selector the service gets")
	requireSameJSON(t, before{}, api.StartRunRequest{})
}

func fullRemediationDevice() remediate.DeviceResult {
	return remediate.DeviceResult{Device: "ftd-1", Site: "emea", Batch: 1, Outcome: remediate.OutcomeFailed,
		Step: "verify", DiagnosesBefore: []string{"a"}, DiagnosesAfter: []string{"b"}, Message: "m",
		Error: "e", ErrorClass: "timeout", Recommended: "reboot", StartedAt: tPtr(t1), FinishedAt: tPtr(t2)}
}

func fullRequest() remediate.Request {
	pd := remediate.PreviewDevice{Device: "ftd-1", ID: id2, Site: "emea", Address: "10.1.0.11:22",
		Credential: "lab", HostKey: "SHA256:abc"}
	return remediate.Request{ID: id1, Action: remediate.ActionReboot, Devices: []string{"ftd-1", "ftd-2"},
		State: remediate.StateFailed, RequestedBy: "ops", ApprovedBy: "lead", Reason: "INC-1",
		NotBefore: tPtr(t1), ExpiresAt: t2,
		Result: &remediate.Result{Summary: remediate.Summary{Devices: 6, Succeeded: 1, Skipped: 1, Failed: 1, NotRun: 2, Pending: 1},
			Message: "stopped", Recommended: "reboot", Devices: []remediate.DeviceResult{fullRemediationDevice()}},
		Selector: remediate.Selector{Devices: []string{"ftd-1"}, Site: "emea", Diagnosis: "eventhandler-disconnected"},
		Schedule: remediate.ScheduleWindow, At: tPtr(t1), BatchSize: 2, FailureThreshold: 1,
		ParamsHash: "sha256:0123", CreatedAt: t1, ApprovedAt: tPtr(t2), ApprovalComment: "go",
		RejectedBy: "r", RejectReason: "rr", CancelledBy: "c", CancelReason: "cr", DecidedAt: tPtr(t2),
		StartedAt: tPtr(t1), FinishedAt: tPtr(t2), ScheduleNote: "in emea's window",
		Preview: &remediate.Preview{Batches: [][]string{{"ftd-1"}, {"ftd-2"}}, Devices: []remediate.PreviewDevice{pd},
			Precheck: []string{"pmtool"}, Commands: []remediate.PreviewCommand{{Level: "clish", Command: "reboot", Note: "n"}, {Level: "root", Command: "x"}},
			Verify: []string{"pmtool"}, Schedule: "now", StopRule: "s", SkipRule: "k", FailureThreshold: 1},
		DeviceResults: []remediate.DeviceResult{fullRemediationDevice(), {}},
		Identities:    []remediate.PreviewDevice{pd},
		History: []remediate.HistoryEntry{{At: t1, Actor: "ops", Action: "remediation.request", From: "", To: "pending", Why: "w"},
			{At: t2, Actor: "lead", Action: "remediation.approve", From: "pending", To: "approved"}}}
}

func TestWireRemediationRequestEncodesLikeRemediateRequest(t *testing.T) {
	t.Parallel()
	requireSameJSON(t, fullRequest(), requestToWire(fullRequest()))
	requireSameJSON(t, remediate.Request{}, requestToWire(remediate.Request{}))
	empty := remediate.Request{Result: &remediate.Result{}, Preview: &remediate.Preview{}}
	requireSameJSON(t, empty, requestToWire(empty))
}

func TestWireCreateRemediationRequestDecodesLikeBefore(t *testing.T) {
	t.Parallel()
	full := remediate.CreateRequest{Action: remediate.ActionReboot, Devices: []string{"ftd-1"}, Site: "emea",
		Diagnosis: "eventhandler-disconnected", At: tPtr(t1), InWindow: true, Reason: "INC-1"}
	var in api.CreateRemediationRequest
	requireStrictlyDecodable(t, full, &in)
	requireSameJSON(t, full, in)
	got := createRequestFromWire(in)
	require.True(t, got.At.Equal(*full.At))
	got.At = full.At
	require.Equal(t, full, got, "the request the service gets")
	requireSameJSON(t, remediate.CreateRequest{}, api.CreateRemediationRequest{})
}

// The wire's states and actions are remediate's, and so is Final.
func TestWireRemediationEnumsMatchRemediate(t *testing.T) {
	t.Parallel()
	var states []string
	for _, s := range remediate.AllStates() {
		states = append(states, string(s))
		require.Equal(t, s.Final(), api.RequestState(s).Final(), "Final(%s)", s)
	}
	var wire []string
	for _, s := range api.RequestStates() {
		wire = append(wire, string(s))
	}
	require.Equal(t, states, wire)
	require.Equal(t, string(remediate.ActionRestartConnector), string(api.ActionRestartConnector))
	require.Equal(t, string(remediate.ActionReboot), string(api.ActionReboot))
}

// The older wire types (devices, host keys, audit events) were always pkg/api's
// own and differ from the stores' on purpose where a field is empty (tags {},
// pinned_by omitted); with every field set they encode alike.
func TestWireInventoryAndAuditTypesEncodeLikeTheStores(t *testing.T) {
	t.Parallel()
	dev := inventory.Device{ID: id1.String(), Name: "ftd-1", Kind: inventory.KindFTD, Site: "emea", Address: "10.1.0.11",
		Credential: "lab", Tags: map[string]string{"role": "edge"}, ManagedBy: "fmc-ams", CreatedAt: t1, UpdatedAt: t2}
	requireSameJSON(t, dev, deviceFromStore(dev))
	key := inventory.HostKey{Device: "ftd-1", Site: "emea", KeyType: "ssh-ed25519", Fingerprint: "SHA256:abc",
		PublicKey: "ssh-ed25519 AAAA", State: inventory.StatePinned, Address: "10.1.0.11:22", SeenCount: 3,
		FirstSeen: t1, LastSeen: t2, PinnedBy: "ops", PinnedAt: tPtr(t2)}
	requireSameJSON(t, key, hostKeyFromStore(key))
	ev := audit.Event{ID: 7, At: t1, Actor: "ops", Action: "device.add", TargetKind: "device", Target: "ftd-1",
		Details: map[string]any{"site": "emea", "n": 1.0}}
	requireSameJSON(t, ev, auditEventFromStore(ev))
}
