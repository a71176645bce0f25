package apiserver

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetd/fleetd/pkg/api"
)

// query reads URL parameters strictly, like decodeJSON reads bodies: a
// parameter the route does not know is an error, so `?stie=emea` does not
// silently list every device.
type query struct {
	v   url.Values
	err *api.Error
}

func parseQuery(r *http.Request, allowed ...string) (*query, error) {
	v := r.URL.Query()
	for k := range v {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			if len(allowed) == 0 {
				return nil, errBadRequest("unknown query parameter %q (this endpoint takes none)", k)
			}
			return nil, errBadRequest("unknown query parameter %q (known: %s)", k, strings.Join(allowed, ", "))
		}
	}
	return &query{v: v}, nil
}

// str returns the single value of a parameter; repeating it is an error.
func (q *query) str(name string) string {
	vals := q.v[name]
	if len(vals) > 1 && q.err == nil {
		q.err = errBadRequest("query parameter %q given %d times", name, len(vals))
	}
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

func (q *query) all(name string) []string { return q.v[name] }

func (q *query) oneOf(name string, choices ...string) string {
	s := q.str(name)
	if s == "" {
		return ""
	}
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	if q.err == nil {
		q.err = errBadRequest("query parameter %s=%q: want one of %s", name, s, strings.Join(choices, ", "))
	}
	return ""
}

func (q *query) time(name string) time.Time {
	s := q.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && q.err == nil {
		q.err = errBadRequest("query parameter %s=%q: want an RFC 3339 time such as 2024-05-01T00:00:00Z", name, s)
	}
	return t
}

func (q *query) int(name string, min, max int64) int64 {
	s := q.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if (err != nil || n < min || n > max) && q.err == nil {
		q.err = errBadRequest("query parameter %s=%q: want an integer from %d to %d", name, s, min, max)
	}
	return n
}

// tags parses repeated tag=k=v parameters.
func (q *query) tags(name string) map[string]string {
	vals := q.all(name)
	if len(vals) == 0 {
		return nil
	}
	out := make(map[string]string, len(vals))
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if (!ok || k == "") && q.err == nil {
			q.err = errBadRequest("query parameter %s=%q: want key=value", name, v)
			continue
		}
		out[k] = val
	}
	return out
}

// done returns the first problem met while reading parameters.
func (q *query) done() error {
	if q.err != nil {
		return q.err
	}
	return nil
}
