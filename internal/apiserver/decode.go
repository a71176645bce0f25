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
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
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
