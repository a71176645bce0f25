package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/google/uuid"
)

// StartRun asks fleetd to diagnose the selected devices (POST /v1/runs).
func (c *Client) StartRun(ctx context.Context, req StartRunRequest) (Run, error) {
	var out Run
	err := c.do(ctx, "POST", "/v1/runs", nil, req, &out)
	return out, err
}

// RunQuery says how much of a run GetRun loads.
type RunQuery struct {
	Devices    bool
	Checks     bool
	Device     string
	Transcript bool
}

// GetRun loads one run (GET /v1/runs/{id}).
func (c *Client) GetRun(ctx context.Context, id uuid.UUID, q RunQuery) (Run, error) {
	var out Run
	err := c.do(ctx, "GET", "/v1/runs/"+id.String(), q.values(), nil, &out)
	return out, err
}

func (q RunQuery) values() url.Values {
	v := url.Values{}
	if q.Devices {
		v.Set("devices", "true")
	}
	if q.Checks {
		v.Set("checks", "true")
	}
	if q.Device != "" {
		v.Set("device", q.Device)
	}
	if q.Transcript {
		v.Set("transcript", "true")
	}
	return v
}

// GetRunJSON returns the run exactly as the server encoded it. fleetctl
// prints large runs (-o json over 10,000 devices and their checks) from it
// without decoding and re-encoding every check.
func (c *Client) GetRunJSON(ctx context.Context, id uuid.UUID, q RunQuery) (json.RawMessage, error) {
	var out []byte
	err := c.do(ctx, "GET", "/v1/runs/"+id.String(), q.values(), nil, &out)
	return out, err
}

// ListRuns lists recent runs, newest first (GET /v1/runs).
func (c *Client) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	v := url.Values{}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var out []Run
	err := c.do(ctx, "GET", "/v1/runs", v, nil, &out)
	return out, err
}

// StatusFilter narrows Status.
type StatusFilter struct {
	Site      string
	Diagnosis string
	Health    string
}

// Status returns the latest health of every device (GET /v1/status).
func (c *Client) Status(ctx context.Context, f StatusFilter) ([]DeviceStatus, error) {
	v := query("site", f.Site, "diagnosis", f.Diagnosis, "health", f.Health)
	var out []DeviceStatus
	err := c.do(ctx, "GET", "/v1/status", v, nil, &out)
	return out, err
}

// Incidents lists the fleet-level incidents in every device's latest
// result, narrowed to site when given (GET /v1/incidents).
func (c *Client) Incidents(ctx context.Context, site string) (IncidentList, error) {
	var out IncidentList
	err := c.do(ctx, "GET", "/v1/incidents", query("site", site), nil, &out)
	return out, err
}
