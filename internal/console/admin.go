package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/sweep"
)

const auditPerPage = 100

type auditData struct {
	Events        []audit.Event
	Actor, Action string
	Older         string
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	in := r.URL.Query()
	f := audit.Filter{Actor: in.Get("actor"), Action: in.Get("action"), Limit: auditPerPage}
	if b := in.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return badRequest("before: want an event id, got %q", b)
		}
		f.BeforeID = n
	}
	events, err := c.deps.Audit.List(r.Context(), f)
	if err != nil {
		return err
	}
	d := auditData{Events: events, Actor: f.Actor, Action: f.Action}
	if len(events) == auditPerPage {
		q := in
		q.Set("before", strconv.FormatInt(events[len(events)-1].ID, 10))
		d.Older = "/ui/audit?" + q.Encode()
	}
	c.render(w, r, http.StatusOK, "audit", v, d)
	return nil
}

func (c *Console) sweeps() error {
	if c.deps.Sweeps == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "schedules are not configured on this server")
	}
	return nil
}

func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if err := c.sweeps(); err != nil {
		return err
	}
	list, err := c.deps.Sweeps.List(r.Context())
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "schedules", v, list)
	return nil
}

func (c *Console) enableSchedule(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return c.setSchedule(w, r, v, true)
}

func (c *Console) disableSchedule(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return c.setSchedule(w, r, v, false)
}

func (c *Console) setSchedule(w http.ResponseWriter, r *http.Request, v *viewer, enabled bool) error {
	if err := c.sweeps(); err != nil {
		return err
	}
	_, err := c.deps.Sweeps.SetEnabled(r.Context(), v.Name, r.PathValue("name"), enabled)
	if errors.Is(err, sweep.ErrUnknownSchedule) {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "%s (schedules come from fleetd's config)", err.Error())
	}
	if err != nil {
		return err
	}
	done := "disabled"
	if enabled {
		done = "enabled"
	}
	http.Redirect(w, r, "/ui/schedules?done="+done, http.StatusSeeOther)
	return nil
}
