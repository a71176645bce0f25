package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/api"
)

// requestInfo travels in the request context so that the access log, written
// after the handler returns, knows who called and which route matched.
type requestInfo struct {
	ID    string
	Route string
	Actor string
	Role  string
	// err is the error a handler returned; logged once, by the access log.
	err error
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// RequestID returns the id fleetd gave the request (X-Request-Id), for
// handlers that log or record it.
func RequestID(ctx context.Context) string { return infoFrom(ctx).ID }

// A client-supplied id is echoed only if it is short and plain, so it cannot
// forge log lines.
var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status and size for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush on the real writer
// (streaming endpoints such as `runs watch` will need it).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe is the outermost middleware: request id, panic recovery and one
// access-log line per request. It never logs headers, so the Authorization
// header cannot leak into logs.
func observe(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !safeRequestID.MatchString(id) {
			id = newRequestID()
		}
		ri := &requestInfo{ID: id}
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic in handler", zap.String("request_id", id),
					zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
				if rec.status == 0 {
					writeError(rec, r, api.Errorf(http.StatusInternalServerError, api.CodeInternal,
						"internal error (request id %s)", id))
				}
			}
			fields := []zap.Field{
				zap.String("request_id", id),
				zap.String("method", r.Method),
				zap.String("path", r.URL.Path),
				zap.String("route", ri.Route),
				zap.Int("status", rec.status),
				zap.Int64("bytes", rec.bytes),
				zap.Duration("duration", time.Since(start)),
				zap.String("remote", r.RemoteAddr),
			}
			if ri.Actor != "" {
				fields = append(fields, zap.String("actor", ri.Actor), zap.String("role", ri.Role))
			}
			switch {
			case rec.status >= 500:
				log.Error("request", append(fields, zap.Error(ri.err))...)
			case ri.err != nil:
				log.Info("request", append(fields, zap.String("error", ri.err.Error()))...)
			default:
				log.Info("request", fields...)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// writeError sends err as {"error": {...}}. Errors that are not *Error are
// internal: the client gets a generic message with the request id, the
// details stay in the server log.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ri := infoFrom(r.Context())
	ri.err = err
	apiErr := toAPIError(err)
	if apiErr.Status == http.StatusInternalServerError && apiErr.Code == api.CodeInternal && apiErr.Message == "" {
		apiErr.Message = fmt.Sprintf("internal error (request id %s)", ri.ID)
	}
	out := *apiErr
	out.RequestID = ri.ID
	if out.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fleetd"`)
	}
	writeJSON(w, out.Status, errorEnvelope{Error: &out})
}
