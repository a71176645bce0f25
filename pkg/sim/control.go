package sim

import (
	"encoding/json"
	"net/http"

	"golang.org/x/crypto/ssh"
)

var marshalAuthorizedKey = ssh.MarshalAuthorizedKey

// DeviceInfo is a device as the control API lists it.
type DeviceInfo struct {
	Name        string `json:"name"`
	Kind        Kind   `json:"kind"`
	Site        string `json:"site"`
	Region      string `json:"region"`
	Address     string `json:"address"`
	Model       string `json:"model"`
	Version     string `json:"version"`
	Fingerprint string `json:"fingerprint"`
	// ManagedBy is an FTD's FMC; APIAddress and APIFingerprint an FMC's
	// REST API and its certificate.
	ManagedBy      string      `json:"managed_by,omitempty"`
	APIAddress     string      `json:"api_address,omitempty"`
	APIFingerprint string      `json:"api_fingerprint,omitempty"`
	Faults         []Fault     `json:"faults"`
	State          DeviceState `json:"state"`
}

// DeviceDetail adds the counters and the command log.
type DeviceDetail struct {
	DeviceInfo
	PresentedFingerprint string         `json:"presented_fingerprint"`
	Counters             Counters       `json:"counters"`
	APICounters          *APICounters   `json:"api_counters,omitempty"`
	CommandLog           []CommandEntry `json:"command_log"`
}

// Info summarises the device.
func (d *Device) Info() DeviceInfo {
	faults := d.Faults()
	if faults == nil {
		faults = []Fault{}
	}
	return DeviceInfo{Name: d.name, Kind: d.kind, Site: d.site, Region: d.region, Address: d.Addr(),
		Model: d.model.tag, Version: d.rel.version, Fingerprint: d.Fingerprint(), Faults: faults, State: d.State(),
		ManagedBy: d.ManagedBy(), APIAddress: d.APIAddr(), APIFingerprint: d.APIFingerprint()}
}

// faultsBody is the body of PUT/POST /devices/{name}/faults.
type faultsBody struct {
	Faults []Fault `json:"faults"`
	Fault  Fault   `json:"fault"`
}

// ControlHandler serves the control API:
//
//	GET    /devices                      all devices with faults and state (?fault=X filters)
//	GET    /devices/{name}               one device with counters and command log
//	PUT    /devices/{name}/faults        {"faults":[...]} replaces the faults ([] = healthy)
//	POST   /devices/{name}/faults        {"fault":"x"} adds one
//	DELETE /devices/{name}/faults        clears all
//	DELETE /devices/{name}/faults/{f}    clears one
//	POST   /devices/{name}/reboot        reboots it
//	POST   /devices/{name}/release       an FTD's FMC no longer lists it (deleted on the FMC)
//	POST   /devices/{name}/rename-on-fmc {"name":"x"}: its FMC lists it under that name
//	GET    /fingerprints                 "name SHA256:..." lines
//	GET    /inventory.csv                the import CSV (?credential=lab)
//	GET    /counters                     fleet totals
func (f *Fleet) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	dev := func(w http.ResponseWriter, r *http.Request) *Device {
		d := f.Device(r.PathValue("name"))
		if d == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such device"})
		}
		return d
	}
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		filter := Fault(r.URL.Query().Get("fault"))
		out := make([]DeviceInfo, 0, len(f.devices))
		for _, d := range f.devices {
			info := d.Info()
			if filter != "" && !hasFault(info.Faults, filter) {
				continue
			}
			out = append(out, info)
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /devices/{name}", func(w http.ResponseWriter, r *http.Request) {
		if d := dev(w, r); d != nil {
			log := d.CommandEntries()
			detail := DeviceDetail{DeviceInfo: d.Info(), Counters: d.Counters(), CommandLog: log,
				PresentedFingerprint: ssh.FingerprintSHA256(d.PresentedHostKey())}
			if d.api != nil {
				c := d.APICounters()
				detail.APICounters = &c
			}
			writeJSON(w, http.StatusOK, detail)
		}
	})
	setFaults := func(replace bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			d := dev(w, r)
			if d == nil {
				return
			}
			var body faultsBody
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
				return
			}
			list := body.Faults
			if body.Fault != "" {
				list = append(list, body.Fault)
			}
			parsed := make([]Fault, 0, len(list))
			for _, s := range list {
				fl, err := ParseFault(string(s))
				if err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
					return
				}
				parsed = append(parsed, fl)
			}
			if replace {
				d.ClearFaults()
			}
			for _, fl := range parsed {
				d.SetFault(fl)
			}
			writeJSON(w, http.StatusOK, d.Info())
		}
	}
	mux.HandleFunc("PUT /devices/{name}/faults", setFaults(true))
	mux.HandleFunc("POST /devices/{name}/faults", setFaults(false))
	mux.HandleFunc("DELETE /devices/{name}/faults", func(w http.ResponseWriter, r *http.Request) {
		if d := dev(w, r); d != nil {
			d.ClearFaults()
			writeJSON(w, http.StatusOK, d.Info())
		}
	})
	mux.HandleFunc("DELETE /devices/{name}/faults/{fault}", func(w http.ResponseWriter, r *http.Request) {
		d := dev(w, r)
		if d == nil {
			return
		}
		fl, err := ParseFault(r.PathValue("fault"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		d.RemoveFault(fl)
		writeJSON(w, http.StatusOK, d.Info())
	})
	mux.HandleFunc("POST /devices/{name}/reboot", func(w http.ResponseWriter, r *http.Request) {
		if d := dev(w, r); d != nil {
			d.Reboot()
			writeJSON(w, http.StatusAccepted, d.Info())
		}
	})
	// The FMC's side of an FTD: deleted from, or renamed on, its FMC.
	mux.HandleFunc("POST /devices/{name}/release", func(w http.ResponseWriter, r *http.Request) {
		if d := dev(w, r); d != nil {
			if err := d.Release(); err != nil {
				writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, d.Info())
		}
	})
	mux.HandleFunc("POST /devices/{name}/rename-on-fmc", func(w http.ResponseWriter, r *http.Request) {
		d := dev(w, r)
		if d == nil {
			return
		}
		var body struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&body); err != nil || body.Name == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"name": "..."}`})
			return
		}
		if err := d.RenameOnFMC(body.Name); err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, d.Info())
	})
	mux.HandleFunc("GET /fingerprints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_ = f.WriteFingerprints(w)
	})
	mux.HandleFunc("GET /inventory.csv", func(w http.ResponseWriter, r *http.Request) {
		cred := r.URL.Query().Get("credential")
		if cred == "" {
			cred = "lab"
		}
		w.Header().Set("Content-Type", "text/csv")
		_ = f.WriteInventoryCSV(w, cred)
	})
	mux.HandleFunc("GET /counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.TotalCounters())
	})
	return mux
}

func hasFault(fs []Fault, f Fault) bool {
	if f == FaultHealthy {
		return len(fs) == 0
	}
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// TotalCounters sums the counters of every device.
func (f *Fleet) TotalCounters() Counters {
	var t Counters
	for _, d := range f.devices {
		c := d.Counters()
		t.Connections += c.Connections
		t.Logins += c.Logins
		t.AuthAttempts += c.AuthAttempts
		t.PasswordsReceived += c.PasswordsReceived
		t.PublicKeyAttempts += c.PublicKeyAttempts
		t.Commands += c.Commands
		t.ConnectorRestarts += c.ConnectorRestarts
		t.Reboots += c.Reboots
	}
	return t
}

// FaultCounts counts devices per current fault ("healthy" for none).
func (f *Fleet) FaultCounts() map[Fault]int {
	m := map[Fault]int{}
	for _, d := range f.devices {
		fs := d.Faults()
		if len(fs) == 0 {
			m[FaultHealthy]++
		}
		for _, x := range fs {
			m[x]++
		}
	}
	return m
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
