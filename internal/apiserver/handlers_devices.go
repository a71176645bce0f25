package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/inventory"
)

func deviceFromStore(d inventory.Device) api.Device {
	tags := d.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return api.Device{ID: d.ID, Name: d.Name, Kind: string(d.Kind), Site: d.Site, Address: d.Address,
		Credential: d.Credential, Tags: tags, ManagedBy: d.ManagedBy, APIAddress: d.APIAddress,
		Model: d.Model, SWVersion: d.SWVersion, SyncedFrom: d.SyncedFrom,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "site", "kind", "tag")
	if err != nil {
		return err
	}
	f := inventory.Filter{
		Site: q.str("site"),
		Kind: inventory.Kind(q.oneOf("kind", string(inventory.KindFMC), string(inventory.KindFTD))),
		Tags: q.tags("tag"),
	}
	if err := q.done(); err != nil {
		return err
	}
	if err := s.checkSite(r, f.Site); err != nil {
		return err
	}
	devs, err := s.deps.Inventory.List(r.Context(), f)
	if err != nil {
		return err
	}
	return writeList(w, devs, deviceFromStore)
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r); err != nil {
		return err
	}
	d, err := s.deps.Inventory.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceFromStore(d))
	return nil
}

func (s *Server) addDevice(w http.ResponseWriter, r *http.Request) error {
	var in api.NewDevice
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	d, err := s.deps.Inventory.Add(r.Context(), actor(r), inventory.Device{
		Name: in.Name, Kind: inventory.Kind(in.Kind), Site: in.Site, Address: in.Address,
		Credential: in.Credential, Tags: in.Tags, ManagedBy: in.ManagedBy, APIAddress: in.APIAddress,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/devices/"+d.Name)
	writeJSON(w, http.StatusCreated, deviceFromStore(d))
	return nil
}

// deleteDevice answers with the device as it was, so the caller can show
// (or script) exactly what went away.
func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	d, err := s.deps.Inventory.Get(r.Context(), name)
	if err != nil {
		return err
	}
	if err := s.deps.Inventory.Delete(r.Context(), actor(r), name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceFromStore(d))
	return nil
}

func (s *Server) importDevices(w http.ResponseWriter, r *http.Request) error {
	var in api.ImportRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Content) == "" {
		return &api.Error{Status: http.StatusBadRequest, Code: api.CodeValidation,
			Message: "content is empty: send the inventory file's text",
			Details: []api.ErrorDetail{{Field: "content", Message: "required"}}}
	}
	// Only the base name: it picks the format and prefixes error messages;
	// a client's directory layout means nothing here.
	filename := path.Base(strings.ReplaceAll(in.Filename, "\\", "/"))
	if filename == "." || filename == "/" {
		filename = "inventory"
	}
	plan, err := s.deps.Inventory.ImportFile(r.Context(), actor(r), filename, []byte(in.Content), in.DryRun)
	if err != nil {
		return err
	}
	out := api.ImportResult{DryRun: plan.DryRun, Added: make([]api.Device, 0, len(plan.Added)),
		Changed: make([]api.DeviceChange, 0, len(plan.Changed)), Unchanged: plan.Unchanged}
	if out.Unchanged == nil {
		out.Unchanged = []string{}
	}
	for _, d := range plan.Added {
		out.Added = append(out.Added, deviceFromStore(d))
	}
	out.Changed = changesFromStore(plan.Changed)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func changesFromStore(changes []inventory.Change) []api.DeviceChange {
	out := make([]api.DeviceChange, 0, len(changes))
	for _, c := range changes {
		dc := api.DeviceChange{Device: c.Device, Fields: make([]api.FieldChange, 0, len(c.Fields))}
		for _, fc := range c.Fields {
			dc.Fields = append(dc.Fields, api.FieldChange{Field: fc.Field, Old: fc.Old, New: fc.New})
		}
		out = append(out, dc)
	}
	return out
}

// syncDevices reads the FMC's devicerecords over its REST API, then upserts
// them in one transaction (inventory.Store.Sync).
func (s *Server) syncDevices(w http.ResponseWriter, r *http.Request) error {
	var in api.DeviceSyncRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.From) == "" {
		return &api.Error{Status: http.StatusBadRequest, Code: api.CodeValidation, Message: "from is empty: name the FMC",
			Details: []api.ErrorDetail{{Field: "from", Message: "required"}}}
	}
	if s.deps.FMCs == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "the FMC REST API is not configured on this server")
	}
	fmcDev, recs, err := s.deps.FMCs.DeviceRecords(r.Context(), in.From)
	if err != nil {
		if errors.Is(err, inventory.ErrNotFound) {
			return err
		}
		// The FMC's answer (or its absence) is not a server fault: say why.
		return api.Errorf(http.StatusBadGateway, api.CodeUpstream, "%s", err.Error())
	}
	plan, err := s.deps.Inventory.Sync(r.Context(), actor(r), fmcDev, recs,
		inventory.SyncOptions{DryRun: in.DryRun, Prune: in.Prune, Credential: in.Credential})
	if err != nil {
		return err
	}
	out := api.DeviceSyncResult{FMC: plan.FMC, DryRun: plan.DryRun, Prune: plan.Prune, Records: plan.Records,
		Added: make([]api.Device, 0, len(plan.Added)), Changed: changesFromStore(plan.Changed), Unchanged: plan.Unchanged,
		Gone: make([]api.GoneDevice, 0, len(plan.Gone)), Removed: plan.Removed, Disconnected: plan.Disconnected}
	for _, d := range plan.Added {
		out.Added = append(out.Added, deviceFromStore(d))
	}
	for _, g := range plan.Gone {
		out.Gone = append(out.Gone, api.GoneDevice{Device: g.Device, Address: g.Address, Hint: g.Hint})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkSite answers 400 naming the known sites for a site filter that names
// none: an empty list would read as "that site has no devices".
func (s *Server) checkSite(r *http.Request, site string) error {
	if site == "" {
		return nil
	}
	sites, err := s.deps.Inventory.ListSites(r.Context())
	if err != nil {
		return err
	}
	names := make([]string, len(sites))
	for i, st := range sites {
		if st.Name == site {
			return nil
		}
		names[i] = st.Name
	}
	known := strings.Join(names, ", ")
	if known == "" {
		known = "none configured"
	}
	return &api.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest,
		Message: fmt.Sprintf("unknown site %q (known: %s)", site, known),
		Details: []api.ErrorDetail{{Field: "site", Message: "unknown site"}}}
}
