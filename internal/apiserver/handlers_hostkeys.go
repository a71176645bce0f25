package apiserver

import (
	"net/http"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/auth"
	"github.com/fleetd/fleetd/pkg/inventory"
)

func hostKeyFromStore(k inventory.HostKey) api.HostKey {
	return api.HostKey{Device: k.Device, Site: k.Site, Address: k.Address, Kind: k.Kind, KeyType: k.KeyType,
		Fingerprint: k.Fingerprint, PublicKey: k.PublicKey, State: string(k.State), SeenCount: k.SeenCount,
		FirstSeen: k.FirstSeen, LastSeen: k.LastSeen, PinnedBy: k.PinnedBy, PinnedAt: k.PinnedAt}
}

func (s *Server) listHostKeys(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "state", "site", "device", "kind")
	if err != nil {
		return err
	}
	f := inventory.HostKeyFilter{
		State: inventory.HostKeyState(q.oneOf("state",
			string(inventory.StatePending), string(inventory.StatePinned), string(inventory.StateMismatch))),
		Site:   q.str("site"),
		Device: q.str("device"),
		Kind:   q.oneOf("kind", inventory.KeyKindSSH, inventory.KeyKindTLS),
	}
	if err := q.done(); err != nil {
		return err
	}
	if err := s.checkSite(r, f.Site); err != nil {
		return err
	}
	keys, err := s.deps.Inventory.ListHostKeys(r.Context(), f)
	if err != nil {
		return err
	}
	return writeList(w, keys, hostKeyFromStore)
}

func (s *Server) acceptHostKeys(w http.ResponseWriter, r *http.Request) error {
	var in api.AcceptHostKeysRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	switch {
	case len(in.Devices) > 0 && in.AllPending:
		return errBadRequest("give either devices or all_pending, not both")
	case len(in.Devices) == 0 && !in.AllPending:
		return errBadRequest("give devices (names) or all_pending: true")
	case in.Site != "" && !in.AllPending:
		return errBadRequest("site only narrows all_pending")
	}
	// The route admits operators; the store decides per key whether the
	// caller's role and identity may accept it (two-person rule) and answers
	// 403 with the reason otherwise.
	id, _ := IdentityFrom(r.Context())
	by := inventory.Accepter{Name: id.Name, Approver: id.Role.AtLeast(auth.RoleApprover)}
	res, err := s.deps.Inventory.AcceptHostKeys(r.Context(), by,
		inventory.AcceptSelector{Devices: in.Devices, AllPending: in.AllPending, Site: in.Site})
	if err != nil {
		return err
	}
	out := api.AcceptHostKeysResult{Accepted: make([]api.HostKey, 0, len(res.Accepted)),
		Skipped: make([]api.SkippedHostKey, 0, len(res.Skipped))}
	for _, k := range res.Accepted {
		out.Accepted = append(out.Accepted, hostKeyFromStore(k))
	}
	for _, sk := range res.Skipped {
		out.Skipped = append(out.Skipped, api.SkippedHostKey{Device: sk.Device, Reason: sk.Reason})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
