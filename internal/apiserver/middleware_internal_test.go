package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/fleetd/fleetd/pkg/api"
)

func TestPanicBecomesJSON500(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	h := observe(zap.New(core), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	var env errorEnvelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
	require.Equal(t, api.CodeInternal, env.Error.Code)
	require.Contains(t, env.Error.Message, rec.Header().Get("X-Request-Id"))
	require.Equal(t, 1, logs.FilterMessage("panic in handler").Len())
	require.Equal(t, 1, logs.FilterMessage("request").Len(), "the access log still records the request")
}

func TestUnknownErrorsHideTheirCause(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	h := observe(zap.New(core), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errSecret)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "db01.internal")
	require.Contains(t, rec.Body.String(), "internal error (request id")
	entries := logs.FilterMessage("request").All()
	require.Len(t, entries, 1)
	require.Contains(t, entries[0].ContextMap()["error"], "db01.internal", "the cause is logged for the operator")
}

var errSecret = &secretErr{}

type secretErr struct{}

func (*secretErr) Error() string { return "dial tcp db01.internal:5432: refused" }
