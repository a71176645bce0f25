package apiserver

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
)

// TestRunJSONPassesChecksThroughAndMeansTheSame: writeRunJSON, which
// splices each device's stored checks in instead of letting encoding/json
// re-scan them, says exactly what writeJSON says.
func TestRunJSONPassesChecksThroughAndMeansTheSame(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	run := api.Run{ID: uuid.New(), Kind: "diagnose", Status: "completed", RequestedBy: "ops", CreatedAt: now,
		StartedAt: &now, FinishedAt: &now, Summary: api.RunSummary{Devices: 3, Done: 3, Healthy: 1, Unhealthy: 2},
		Devices: []api.DeviceResult{
			{Device: "ftd-1", Site: "emea", Kind: "ftd", State: "done", Health: "unhealthy",
				Diagnoses: []string{"egress-blocked"}, Checks: json.RawMessage(`[{"id": "sse.reach", "verdict": "fail", "evidence": {"out": "a <b> & \"c\""}}]`),
				Incident: "site-egress/emea"},
			{Device: "ftd-2", Site: "emea", Kind: "ftd", State: "done", Health: "healthy", Diagnoses: []string{}},
			{Device: "ftd-3", Site: "emea", Kind: "ftd", State: "done", Health: "unhealthy", Diagnoses: []string{"egress-blocked"},
				Checks: json.RawMessage(`[]`), StartedAt: &now},
		},
		Incidents: []api.Incident{{ID: "site-egress/emea", Kind: "site-egress"}},
	}
	decode := func(write func(*httptest.ResponseRecorder)) (any, string) {
		rec := httptest.NewRecorder()
		write(rec)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		var v any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
		return v, rec.Body.String()
	}
	want, _ := decode(func(r *httptest.ResponseRecorder) { writeJSON(r, 200, run) })
	got, body := decode(func(r *httptest.ResponseRecorder) { writeRunJSON(r, 200, run) })
	require.Equal(t, want, got)
	require.Contains(t, body, `"checks":[{"id": "sse.reach"`, "the stored text, not re-encoded")
	require.Len(t, run.Devices, 3, "the caller's run is not changed")
	require.NotNil(t, run.Devices[0].Checks)
}
