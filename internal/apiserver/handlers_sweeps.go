package apiserver

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sweep"
)

// Sweeps is what the schedule and diff routes need (*sweep.Service).
type Sweeps interface {
	List(ctx context.Context) ([]sweep.Schedule, error)
	SetEnabled(ctx context.Context, actor, name string, enabled bool) (sweep.Schedule, error)
	Diff(ctx context.Context, runID uuid.UUID) (sweep.Diff, error)
}

var scheduleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (s *Server) sweepsConfigured() error {
	if s.deps.Sweeps == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "schedules are not configured on this server")
	}
	return nil
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	if err := s.sweepsConfigured(); err != nil {
		return err
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	if err := q.done(); err != nil {
		return err
	}
	list, err := s.deps.Sweeps.List(r.Context())
	if err != nil {
		return err
	}
	return writeList(w, list, same[sweep.Schedule])
}

func (s *Server) enableSchedule(w http.ResponseWriter, r *http.Request) error {
	return s.setScheduleEnabled(w, r, true)
}

func (s *Server) disableSchedule(w http.ResponseWriter, r *http.Request) error {
	return s.setScheduleEnabled(w, r, false)
}

func (s *Server) setScheduleEnabled(w http.ResponseWriter, r *http.Request, enabled bool) error {
	if err := s.sweepsConfigured(); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !scheduleNameRE.MatchString(name) {
		return errBadRequest("%q is not a schedule name", name)
	}
	sc, err := s.deps.Sweeps.SetEnabled(r.Context(), actor(r), name, enabled)
	if errors.Is(err, sweep.ErrUnknownSchedule) {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "%s (schedules come from fleetd's config)", err.Error())
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}

func (s *Server) runDiff(w http.ResponseWriter, r *http.Request) error {
	if err := s.sweepsConfigured(); err != nil {
		return err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return errBadRequest("run id %q is not a UUID", r.PathValue("id"))
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	if err := q.done(); err != nil {
		return err
	}
	d, err := s.deps.Sweeps.Diff(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// metrics serves Prometheus metrics (behind the viewer role, like every
// route: Prometheus sends a viewer token).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Metrics == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "metrics are not enabled on this server")
	}
	s.deps.Metrics.ServeHTTP(w, r)
	return nil
}
