package apiserver_test

import (
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/apiserver"
)

func zapString(k, v string) zap.Field { return zap.String(k, v) }

func newHTTPServer(t *testing.T, srv *apiserver.Server) string {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}
