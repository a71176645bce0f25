package apiserver

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/incident"
	"github.com/fleetd/fleetd/pkg/runs"
)

// Incidents is what the incident routes need (*runs.Incidents).
type Incidents interface {
	ForRun(ctx context.Context, id uuid.UUID) (incident.Result, error)
	Current(ctx context.Context) (incident.Result, error)
}

// withIncidents puts the run's incidents on run (and on its devices when
// they were asked for).
func (s *Server) withIncidents(ctx context.Context, run *runs.Run) error {
	if s.deps.Incidents == nil {
		return nil
	}
	res, err := s.deps.Incidents.ForRun(ctx, run.ID)
	if err != nil {
		return err
	}
	runs.Annotate(run, res)
	return nil
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "site")
	if err != nil {
		return err
	}
	site := q.str("site")
	if err := q.done(); err != nil {
		return err
	}
	if err := s.checkSite(r, site); err != nil {
		return err
	}
	if s.deps.Incidents == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "incidents are not configured on this server")
	}
	// Found over the whole fleet, then narrowed: an FMC of another site
	// can explain this site's FTDs.
	res, err := s.deps.Incidents.Current(r.Context())
	if err != nil {
		return err
	}
	if site != "" {
		res = res.ForSite(site)
	}
	writeJSON(w, http.StatusOK, api.IncidentList{Incidents: append([]api.Incident{}, res.Incidents...),
		NotHealthy: res.NotHealthy, Explained: res.Explained})
	return nil
}
