package apiserver

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runs"
)

// Runs is what the run and status routes need (*runs.Service).
type Runs interface {
	Start(ctx context.Context, req runs.StartRequest) (runs.Run, error)
	Get(ctx context.Context, id uuid.UUID, opt runs.GetOptions) (runs.Run, error)
	List(ctx context.Context, limit int) ([]runs.Run, error)
	Status(ctx context.Context, f runs.StatusFilter) ([]runs.DeviceStatus, error)
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9._-]+=[A-Za-z0-9._:/-]*$`)

func (s *Server) startRun(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r); err != nil {
		return err
	}
	var req api.StartRunRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	sel := req.Selector
	n := 0
	for _, set := range []bool{sel.All, sel.Site != "" || sel.Tag != "", len(sel.Devices) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errBadRequest("selector: give exactly one of all, site (optionally with tag), tag, devices")
	}
	if sel.Site != "" {
		if _, ok := s.deps.Config.Sites[sel.Site]; !ok {
			return errBadRequest("selector.site: unknown site %q", sel.Site)
		}
	}
	if sel.Tag != "" && !tagRE.MatchString(sel.Tag) {
		return errBadRequest("selector.tag: want k=v, got %q", sel.Tag)
	}
	for _, d := range sel.Devices {
		if inventory.CheckName(d) != nil { // the inventory's name rule
			return errBadRequest("selector.devices: %q is not a valid device name", d)
		}
	}
	if err := diagnose.ValidateCheckIDs(req.Checks); err != nil {
		return errBadRequest("checks: %v", err)
	}
	run, err := s.deps.Runs.Start(r.Context(), runs.StartRequest{
		Kind: runs.KindDiagnose, RequestedBy: actor(r), Selector: runs.Selector(sel), Checks: req.Checks,
	})
	var selErr *runs.SelectionError
	if errors.As(err, &selErr) {
		if len(selErr.Unknown) > 0 {
			return api.Errorf(http.StatusNotFound, api.CodeNotFound, "%s", selErr.Error())
		}
		return errBadRequest("%s", selErr.Error())
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "limit")
	if err != nil {
		return err
	}
	limit := q.int("limit", 1, 1000)
	if err := q.done(); err != nil {
		return err
	}
	list, err := s.deps.Runs.List(r.Context(), int(limit))
	if err != nil {
		return err
	}
	return writeList(w, list, same[runs.Run])
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return errBadRequest("run id %q is not a UUID", r.PathValue("id"))
	}
	q, err := parseQuery(r, "devices", "checks", "device", "transcript")
	if err != nil {
		return err
	}
	opt := runs.GetOptions{
		Devices:     q.oneOf("devices", "true", "false") == "true",
		Checks:      q.oneOf("checks", "true", "false") == "true",
		Device:      q.str("device"),
		Transcripts: q.oneOf("transcript", "true", "false") == "true",
	}
	if err := q.done(); err != nil {
		return err
	}
	if opt.Transcripts {
		// Transcripts show what the device printed as root: more than a
		// viewer gets.
		if id, _ := IdentityFrom(r.Context()); !id.Role.AtLeast(TranscriptRole) {
			return api.Errorf(http.StatusForbidden, api.CodeForbidden, "transcripts need role %s or higher", TranscriptRole)
		}
		if opt.Device == "" {
			return errBadRequest("transcript=true needs device=NAME")
		}
	}
	run, err := s.deps.Runs.Get(r.Context(), id, opt)
	if err != nil {
		return err
	}
	// Incidents with the devices, or once the run is over: progress polls
	// of a running 10,000-device run do not regroup it twice a second.
	final := run.Status == runs.StatusCompleted || run.Status == runs.StatusCancelled
	if opt.Device == "" && (opt.Devices || final) {
		if err := s.withIncidents(r.Context(), &run); err != nil {
			return err
		}
	}
	writeRunJSON(w, http.StatusOK, run)
	return nil
}

func (s *Server) deviceStatus(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "site", "diagnosis", "health")
	if err != nil {
		return err
	}
	f := runs.StatusFilter{Site: q.str("site"), Diagnosis: q.str("diagnosis"),
		Health: q.oneOf("health", runs.HealthHealthy, runs.HealthUnhealthy, runs.HealthError, runs.HealthUnknown)}
	if err := q.done(); err != nil {
		return err
	}
	// A misspelt site is an error, not "no devices": a script would read
	// an empty answer as "all healthy".
	if err := s.checkSite(r, f.Site); err != nil {
		return err
	}
	list, err := s.deps.Runs.Status(r.Context(), f)
	if err != nil {
		return err
	}
	return writeList(w, list, same[runs.DeviceStatus])
}
