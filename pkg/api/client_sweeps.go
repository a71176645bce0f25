package api

import (
	"context"
	"net/url"

	"github.com/google/uuid"
)

// ListSchedules lists the sweep schedules with their last and next run
// (GET /v1/schedules).
func (c *Client) ListSchedules(ctx context.Context) ([]Schedule, error) {
	var out []Schedule
	err := c.do(ctx, "GET", "/v1/schedules", nil, nil, &out)
	return out, err
}

// SetScheduleEnabled enables or disables a schedule at run time
// (POST /v1/schedules/{name}/enable|disable).
func (c *Client) SetScheduleEnabled(ctx context.Context, name string, enabled bool) (Schedule, error) {
	verb := "disable"
	if enabled {
		verb = "enable"
	}
	var out Schedule
	err := c.do(ctx, "POST", "/v1/schedules/"+url.PathEscape(name)+"/"+verb, nil, nil, &out)
	return out, err
}

// RunDiff compares a run with the previous completed run of the same kind
// and selector (GET /v1/runs/{id}/diff).
func (c *Client) RunDiff(ctx context.Context, id uuid.UUID) (RunDiff, error) {
	var out RunDiff
	err := c.do(ctx, "GET", "/v1/runs/"+id.String()+"/diff", nil, nil, &out)
	return out, err
}
