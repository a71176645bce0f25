package api

import (
	"context"
	"net/url"
	"strconv"

	"github.com/google/uuid"
)

// CreateRemediation asks for a remediation (POST /v1/remediations). The
// answer is the pending request with its preview.
func (c *Client) CreateRemediation(ctx context.Context, req CreateRemediationRequest) (RemediationRequest, error) {
	var out RemediationRequest
	err := c.do(ctx, "POST", "/v1/remediations", nil, req, &out)
	return out, err
}

// ListRemediations lists requests, newest first (GET /v1/remediations);
// state "" lists all.
func (c *Client) ListRemediations(ctx context.Context, state string, limit int) ([]RemediationRequest, error) {
	v := url.Values{}
	if state != "" {
		v.Set("state", state)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var out []RemediationRequest
	err := c.do(ctx, "GET", "/v1/remediations", v, nil, &out)
	return out, err
}

// GetRemediation loads one request with its devices and history.
func (c *Client) GetRemediation(ctx context.Context, id uuid.UUID) (RemediationRequest, error) {
	var out RemediationRequest
	err := c.do(ctx, "GET", "/v1/remediations/"+id.String(), nil, nil, &out)
	return out, err
}

// ApproveRemediation approves a pending request as the token's identity.
func (c *Client) ApproveRemediation(ctx context.Context, id uuid.UUID, req ApproveRequest) (RemediationRequest, error) {
	var out RemediationRequest
	err := c.do(ctx, "POST", "/v1/remediations/"+id.String()+"/approve", nil, req, &out)
	return out, err
}

// RejectRemediation rejects a pending request.
func (c *Client) RejectRemediation(ctx context.Context, id uuid.UUID, reason string) (RemediationRequest, error) {
	var out RemediationRequest
	err := c.do(ctx, "POST", "/v1/remediations/"+id.String()+"/reject", nil, RejectRequest{Reason: reason}, &out)
	return out, err
}

// CancelRemediation withdraws a request that has not started running.
func (c *Client) CancelRemediation(ctx context.Context, id uuid.UUID, reason string) (RemediationRequest, error) {
	var out RemediationRequest
	err := c.do(ctx, "POST", "/v1/remediations/"+id.String()+"/cancel", nil, CancelRequest{Reason: reason}, &out)
	return out, err
}
