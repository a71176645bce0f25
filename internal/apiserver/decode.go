package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/fleetd/fleetd/pkg/api"
)

// decodeJSON reads exactly one JSON value from the request body into v,
// strictly: unknown fields, trailing data, wrong types and bodies over the
// limit are rejected with a message that names the problem, so a typo in a
// script fails loudly instead of being silently ignored.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return api.Errorf(http.StatusUnsupportedMediaType, api.CodeUnsupportedMedia,
				"request body must be application/json, got %q", ct)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonDecodeError(err)
	}
	// A second value (or garbage) after the object is a malformed request,
	// not something to ignore.
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return jsonDecodeError(err)
		}
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidJSON,
			"request body must contain a single JSON object")
	}
	return nil
}

func jsonDecodeError(err error) *api.Error {
	var (
		tooBig    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge,
			"request body is larger than the server's limit of %d bytes (api.max_body_bytes)", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidJSON, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidJSON, "malformed JSON: unexpected end of body")
	case errors.As(err, &syntaxErr):
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidJSON,
			"malformed JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return api.Errorf(http.StatusBadRequest, api.CodeInvalidJSON,
				"request body must be a JSON %s, got %s", typeName(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return &api.Error{Status: http.StatusBadRequest, Code: api.CodeInvalidJSON,
			Message: fmt.Sprintf("field %q must be a %s, got %s", field, typeName(typeErr.Type.Kind().String()), typeErr.Value),
			Details: []api.ErrorDetail{{Field: field, Message: "wrong type"}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &api.Error{Status: http.StatusBadRequest, Code: api.CodeInvalidJSON,
			Message: fmt.Sprintf("unknown field %q in request body", field),
			Details: []api.ErrorDetail{{Field: field, Message: "unknown field"}}}
	default:
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidJSON, "malformed JSON: %v", err)
	}
}

func typeName(kind string) string {
	switch kind {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	case "bool":
		return "boolean"
	default:
		return kind
	}
}

// writeJSON writes v with the given status. Encoding errors after the header
// is sent cannot be reported to the client; they only mean a broken
// connection, which the access log shows.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONHeader(w, status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// writeList writes a store's list as wire types (200). The list is never
// null on the wire: an empty list is [].
func writeList[T, W any](w http.ResponseWriter, list []T, toWire func(T) W) error {
	out := make([]W, len(list))
	for i, v := range list {
		out[i] = toWire(v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// writeRunJSON writes a run as writeJSON would, except that each device's
// checks go out as stored. encoding/json compacts and re-escapes every
// json.RawMessage it writes: for a 10,000-device run that is 30 MB of
// checks scanned byte by byte, 0.3–0.45 s of fleetd's CPU for each
// `diagnose -o json` and `runs show -o json` (issue 15's profile). The
// checks come from a jsonb column, so PostgreSQL has already validated
// them; each device's object carries them last.
func writeRunJSON(w http.ResponseWriter, status int, run api.Run) {
	if len(run.Devices) == 0 {
		writeJSON(w, status, run)
		return
	}
	devices, incidents := run.Devices, run.Incidents
	run.Devices, run.Incidents = nil, nil
	head, err := json.Marshal(run)
	if err != nil {
		run.Devices, run.Incidents = devices, incidents
		writeJSON(w, status, run)
		return
	}
	writeJSONHeader(w, status)
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, head[:len(head)-1]...) // without its closing brace
	buf = append(buf, `,"devices":[`...)
	for i, d := range devices {
		checks := d.Checks
		d.Checks = nil
		b, err := json.Marshal(d)
		if err != nil {
			return // a struct of strings, ints and times: cannot fail
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, b[:len(b)-1]...)
		if len(checks) > 0 {
			buf = append(append(buf, `,"checks":`...), checks...)
		}
		buf = append(buf, '}')
		if len(buf) > 48<<10 {
			if _, err := w.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
	}
	buf = append(buf, ']')
	if len(incidents) > 0 {
		b, _ := json.Marshal(incidents)
		buf = append(append(buf, `,"incidents":`...), b...)
	}
	buf = append(buf, "}\n"...)
	_, _ = w.Write(buf)
}

// writeJSONHeader starts a JSON answer with status.
func writeJSONHeader(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
}
