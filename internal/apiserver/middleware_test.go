package apiserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/auth"
)

type errBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		Details   []struct {
			Line    int    `json:"line"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

func decodeErr(t *testing.T, raw string) errBody {
	t.Helper()
	var b errBody
	require.NoError(t, json.Unmarshal([]byte(raw), &b), "error body must be JSON: %s", raw)
	return b
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	op := e.tokens[auth.RoleOperator]
	huge := fmt.Sprintf(`{"filename":"big.csv","content":%q}`, strings.Repeat("x", testMaxBody+1))

	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
		wantMsg     string
	}{
		{"oversized", "/v1/devices/import", "application/json", huge, 413, "payload_too_large",
			fmt.Sprintf("larger than the server's limit of %d bytes", testMaxBody)},
		{"truncated JSON", "/v1/devices", "application/json", `{"name": "x"`, 400, "invalid_json", "malformed JSON"},
		{"syntax error", "/v1/devices", "application/json", `{"name": x}`, 400, "invalid_json", "malformed JSON at byte"},
		{"unknown field", "/v1/devices", "application/json", `{"nmae": "x"}`, 400, "invalid_json", `unknown field "nmae"`},
		{"wrong type", "/v1/devices", "application/json", `{"name": 5}`, 400, "invalid_json", `field "name" must be a string`},
		{"not an object", "/v1/devices", "application/json", `[1,2]`, 400, "invalid_json", "must be a JSON object"},
		{"two objects", "/v1/devices", "application/json", `{"name":"a"} {"name":"b"}`, 400, "invalid_json", "single JSON object"},
		{"empty", "/v1/devices", "application/json", ``, 400, "invalid_json", "request body is empty"},
		{"not JSON media type", "/v1/devices/import", "text/csv", "name,kind\n", 415, "unsupported_media_type", "application/json"},
		{"empty import content", "/v1/devices/import", "application/json", `{"filename":"a.csv","content":"  "}`, 400,
			"validation_failed", "content is empty"},
		{"accept without selector", "/v1/hostkeys/accept", "application/json", `{}`, 400, "bad_request", "give devices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, raw := e.raw(t, "POST", tt.path, op, tt.contentType, tt.body)
			require.Equal(t, tt.wantStatus, resp.StatusCode, raw)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			b := decodeErr(t, raw)
			require.Equal(t, tt.wantCode, b.Error.Code)
			require.Contains(t, b.Error.Message, tt.wantMsg)
			require.Equal(t, resp.Header.Get("X-Request-Id"), b.Error.RequestID)
		})
	}
}

func TestBadQueriesAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	v := e.tokens[auth.RoleAdmin]
	tests := []struct {
		method, path string
		wantStatus   int
		wantMsg      string
	}{
		{"GET", "/v1/devices?stie=emea", 400, `unknown query parameter "stie"`},
		{"GET", "/v1/devices?kind=asa", 400, `kind="asa": want one of fmc, ftd`},
		{"GET", "/v1/devices?tag=novalue", 400, `tag="novalue": want key=value`},
		{"GET", "/v1/devices?site=a&site=b", 400, `"site" given 2 times`},
		{"GET", "/v1/hostkeys?state=trusted", 400, `state="trusted"`},
		{"GET", "/v1/audit?limit=0", 400, "limit=\"0\": want an integer from 1 to 1000"},
		{"GET", "/v1/audit?since=yesterday", 400, "RFC 3339"},
		{"GET", "/v1/whoami?x=1", 400, "takes none"},
		{"GET", "/v1/nope", 404, "no such endpoint: GET /v1/nope"},
		{"GET", "/v1/devices/ghost", 404, `device "ghost"`},
		{"PUT", "/v1/devices", 405, "PUT is not allowed on /v1/devices (allowed: GET, POST)"},
		{"POST", "/v1/devices/x", 405, "allowed: GET, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			resp, raw := e.raw(t, tt.method, tt.path, v, "", "")
			require.Equal(t, tt.wantStatus, resp.StatusCode, raw)
			require.Contains(t, decodeErr(t, raw).Error.Message, tt.wantMsg)
			if tt.wantStatus == 405 {
				require.NotEmpty(t, resp.Header.Get("Allow"))
			}
		})
	}
}

func TestAuthorizationHeaderForms(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.tokens[auth.RoleViewer]
	for _, tt := range []struct {
		header string
		want   int
		msg    string
	}{
		{"Bearer " + tok, 200, ""},
		{"bearer " + tok, 200, ""},
		{"Basic " + tok, 401, "malformed Authorization header"},
		{tok, 401, "malformed Authorization header"},
		{"Bearer ", 401, "malformed Authorization header"},
		{"Bearer " + tok + "x", 401, "invalid or revoked token"},
	} {
		req, err := http.NewRequest("GET", e.ts.URL+"/v1/whoami", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", tt.header)
		resp, err := e.ts.Client().Do(req)
		require.NoError(t, err)
		var b errBody
		_ = json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		require.Equal(t, tt.want, resp.StatusCode, tt.header)
		require.Contains(t, b.Error.Message, tt.msg)
	}
}

// The access log names the actor and route but never carries the token.
func TestAccessLogNeverHoldsTheToken(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tok := e.tokens[auth.RoleOperator]
	req, err := http.NewRequest("GET", e.ts.URL+"/v1/devices/ghost", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "trace-42", resp.Header.Get("X-Request-Id"), "a plain client request id is echoed")

	entries := e.logs.FilterMessage("request").FilterField(zapString("request_id", "trace-42")).All()
	require.Len(t, entries, 1)
	fields := entries[0].ContextMap()
	require.Equal(t, "t-operator", fields["actor"])
	require.Equal(t, "operator", fields["role"])
	require.Equal(t, "GET /v1/devices/{name}", fields["route"])
	require.EqualValues(t, 404, fields["status"])
	for _, en := range e.logs.All() {
		for k, v := range en.ContextMap() {
			require.NotContains(t, fmt.Sprint(v), tok, "log field %s carries the token", k)
		}
	}

	// A request id that is not short and plain is replaced, not echoed or logged.
	req, _ = http.NewRequest("GET", e.ts.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", `id" level=error msg="forged`)
	resp, err = e.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Regexp(t, `^[0-9a-f]{16}$`, resp.Header.Get("X-Request-Id"))
}
