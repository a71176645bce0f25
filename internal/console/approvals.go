package console

import (
	"net/http"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/remediate"
)

func (c *Console) remediation() (bool, error) {
	if c.deps.Remediation == nil {
		return false, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "remediation is not configured on this server")
	}
	return true, nil
}

// approvalsData is the Approvals page: each pending request (the first
// previewed ones with their full preview and the decision buttons, so that
// approving is two clicks: this page, Approve) and the recent decisions.
type approvalsData struct {
	Pending []requestData
	Recent  []remediate.Request
}

// previewed bounds the pending requests the Approvals page loads whole.
const previewed = 20

func (c *Console) approvalsPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if _, err := c.remediation(); err != nil {
		return err
	}
	var d approvalsData
	pending, err := c.deps.Remediation.List(r.Context(), remediate.ListFilter{State: remediate.StatePending, Limit: 200})
	if err != nil {
		return err
	}
	for i, rq := range pending {
		if i < previewed {
			if rq, err = c.deps.Remediation.Get(r.Context(), rq.ID); err != nil {
				return err
			}
		}
		d.Pending = append(d.Pending, decisionFor(v, rq))
	}
	all, err := c.deps.Remediation.List(r.Context(), remediate.ListFilter{Limit: 30})
	if err != nil {
		return err
	}
	for _, rq := range all {
		if rq.State != remediate.StatePending {
			d.Recent = append(d.Recent, rq)
		}
	}
	c.render(w, r, http.StatusOK, "approvals", v, d)
	return nil
}

// requestData is a request's page. CanDecide says the viewer may approve
// or reject; otherwise WhyNot says why not (shown instead of the buttons;
// the service refuses a forged POST all the same).
type requestData struct {
	V *viewer
	// Single: the request's own page (element ids are unique there).
	Single    bool
	Req       remediate.Request
	CanDecide bool
	WhyNot    string
	CanCancel bool
}

func (c *Console) requestPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if _, err := c.remediation(); err != nil {
		return err
	}
	id, err := parseUUID(r.PathValue("id"), "request id")
	if err != nil {
		return err
	}
	req, err := c.deps.Remediation.Get(r.Context(), id)
	if err != nil {
		return err
	}
	d := decisionFor(v, req)
	d.Single = true
	c.render(w, r, http.StatusOK, "request", v, d)
	return nil
}

// decisionFor says what the viewer may do with req, and why not.
func decisionFor(v *viewer, req remediate.Request) requestData {
	d := requestData{Req: req, V: v}
	switch {
	case req.State != remediate.StatePending:
		d.WhyNot = "This request is " + string(req.State) + ": only a pending request can be approved or rejected."
	case !v.May("POST", "/v1/remediations/{id}/approve"):
		d.WhyNot = "Approving needs role approver or admin; you (" + v.Name + ") are " + v.Role.String() + "."
	case auth.SameName(v.Name, req.RequestedBy):
		d.WhyNot = "You requested this: another approver must approve it (two-person rule)."
	default:
		d.CanDecide = true
	}
	d.CanCancel = req.State.Cancellable() && v.May("POST", "/v1/remediations/{id}/cancel") &&
		(auth.SameName(v.Name, req.RequestedBy) || v.Role.AtLeast(auth.RoleApprover))
	return d
}

// decide is approve, reject and cancel: the service decides, with the
// viewer as actor; its refusal (self-approval, expiry, a changed preview)
// is shown as the API would answer it.
func (c *Console) decide(w http.ResponseWriter, r *http.Request, v *viewer, done string,
	fn func(id [16]byte) (remediate.Request, error)) error {
	if _, err := c.remediation(); err != nil {
		return err
	}
	id, err := parseUUID(r.PathValue("id"), "request id")
	if err != nil {
		return err
	}
	if _, err := fn(id); err != nil {
		return err
	}
	http.Redirect(w, r, requestURL(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) approve(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return c.decide(w, r, v, "approved", func(id [16]byte) (remediate.Request, error) {
		// params_hash binds the approval to the preview this page showed.
		return c.deps.Remediation.Approve(r.Context(), v.actor(), id, r.PostForm.Get("comment"), r.PostForm.Get("params_hash"))
	})
}

func (c *Console) reject(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return c.decide(w, r, v, "rejected", func(id [16]byte) (remediate.Request, error) {
		return c.deps.Remediation.Reject(r.Context(), v.actor(), id, r.PostForm.Get("reason"))
	})
}

func (c *Console) cancel(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return c.decide(w, r, v, "cancelled", func(id [16]byte) (remediate.Request, error) {
		return c.deps.Remediation.Cancel(r.Context(), v.actor(), id, r.PostForm.Get("reason"))
	})
}
