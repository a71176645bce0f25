package apiserver

import (
	"context"
	"net/http"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/api"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 503 while the database is unreachable, so a load balancer
// stops sending fleetctl to a replica that cannot serve it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.DB.Ping(ctx); err != nil {
		s.log.Warn("readiness: database unreachable", zap.Error(err))
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "database unreachable")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r); err != nil {
		return err
	}
	id, _ := IdentityFrom(r.Context())
	writeJSON(w, http.StatusOK, api.Identity{Name: id.Name, Role: id.Role.String()})
	return nil
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r); err != nil {
		return err
	}
	sites, err := s.deps.Inventory.ListSites(r.Context())
	if err != nil {
		return err
	}
	out := make([]api.Site, 0, len(sites))
	for _, st := range sites {
		site := api.Site{Name: st.Name, Region: st.Region, Timezone: st.Timezone,
			HostKeyPolicy: st.HostKeyPolicy, Devices: st.Devices,
			MaintenanceWindow: api.MaintenanceWindow{Weekdays: []string{}}, AllowedNetworks: []string{}}
		if cs, ok := s.deps.Config.Sites[st.Name]; ok {
			for _, p := range cs.AllowedNetworks {
				site.AllowedNetworks = append(site.AllowedNetworks, p.String())
			}
			site.LegacySSH = cs.LegacySSH
			mw := cs.MaintenanceWindow
			if mw.Weekdays != nil {
				site.MaintenanceWindow.Weekdays = mw.Weekdays
			}
			site.MaintenanceWindow.Start = mw.Start
			if mw.Duration > 0 {
				site.MaintenanceWindow.Duration = mw.Duration.String()
			}
		}
		out = append(out, site)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
	return nil
}
