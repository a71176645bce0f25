package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/api"
)

func apiErr(t *testing.T, err error) *api.Error {
	t.Helper()
	var ae *api.Error
	require.True(t, errors.As(err, &ae), "want *api.Error, got %T: %v", err, err)
	return ae
}

func TestParseServerURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want, err string }{
		{in: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "https://fleetd.example.net/", want: "https://fleetd.example.net"},
		{in: "http://h:1/prefix/", want: "http://h:1/prefix"},
		{in: "", err: "no fleetd server given"},
		{in: "ftp://h", err: "scheme must be http or https"},
		{in: "http://user:pw@h", err: "without credentials"},
		{in: "http://h?x=1", err: "without credentials, query or fragment"},
	} {
		u, err := api.ParseServerURL(tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, u.String())
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	var gotAuth, gotUA, gotPath string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotUA, gotPath = r.Header.Get("Authorization"), r.Header.Get("User-Agent"), r.URL.EscapedPath()
		switch r.URL.EscapedPath() {
		case "/base/v1/whoami":
			w.Header().Set("X-Request-Id", "abc")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>upstream down</html>")
		case "/base/v1/devices/a%2Fb":
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":"forbidden","message":"needs role operator","request_id":"r1"}}`)
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer ts.Close()

	c, err := api.NewClient(ts.URL+"/base", "tok", api.WithUserAgent("fleetctl/test"))
	require.NoError(t, err)
	_, err = c.WhoAmI(context.Background())
	ae := apiErr(t, err)
	require.Equal(t, api.Error{Status: 502, Code: "http_502", Message: "<html>upstream down</html>", RequestID: "abc"}, *ae)
	require.Equal(t, "Bearer tok", gotAuth)
	require.Equal(t, "fleetctl/test", gotUA)

	_, err = c.GetDevice(context.Background(), "a/b")
	ae = apiErr(t, err)
	require.Equal(t, 403, ae.Status)
	require.Equal(t, "needs role operator", ae.Message)
	require.Equal(t, "needs role operator (HTTP 403 forbidden)", ae.Error())
	require.Equal(t, "/base/v1/devices/a%2Fb", gotPath, "the name is escaped once, as one path segment")

	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err = api.NewClient(addr, "tok")
	require.NoError(t, err)
	_, err = c.WhoAmI(context.Background())
	require.ErrorContains(t, err, "cannot reach fleetd at http://"+addr+": ")
	// Usually "connection refused"; another test binary may have taken the
	// freed port meanwhile and reset the connection: either is a network
	// error, which is what the message must report.
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
}
