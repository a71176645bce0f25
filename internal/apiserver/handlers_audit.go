package apiserver

import (
	"net/http"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/audit"
)

func auditEventFromStore(e audit.Event) api.AuditEvent {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	return api.AuditEvent{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action,
		TargetKind: e.TargetKind, Target: e.Target, Details: details}
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "actor", "action", "target_kind", "target", "since", "until", "before_id", "limit")
	if err != nil {
		return err
	}
	f := audit.Filter{
		Actor:      q.str("actor"),
		Action:     q.str("action"),
		TargetKind: q.str("target_kind"),
		Target:     q.str("target"),
		Since:      q.time("since"),
		Until:      q.time("until"),
		BeforeID:   q.int("before_id", 1, 1<<62),
		Limit:      int(q.int("limit", 1, audit.MaxLimit)),
	}
	if err := q.done(); err != nil {
		return err
	}
	events, err := s.deps.Audit.List(r.Context(), f)
	if err != nil {
		return err
	}
	return writeList(w, events, auditEventFromStore)
}
