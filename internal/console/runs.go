package console

import (
	"net/http"
	"sort"

	"github.com/fleetd/fleetd/internal/apiserver"

	"github.com/fleetd/fleetd/pkg/runs"
	"github.com/fleetd/fleetd/pkg/sweep"
)

func (c *Console) runsPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	list, err := c.deps.Runs.List(r.Context(), 100)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "runs", v, list)
	return nil
}

// runData is a run's page: its summary, its devices grouped by outcome
// (diagnosis), the devices in flight, and the sweep diff.
type runData struct {
	Run      runs.Run
	Running  bool
	Percent  int
	Groups   []deviceGroup
	InFlight []runs.DeviceResult
	Queued   int
	Diff     *sweep.Diff
	DiffErr  string
}

// deviceGroup is the devices of a run that share a health and a first
// diagnosis; only the first groupShown are listed by name.
type deviceGroup struct {
	Health, Diagnosis, Recommended string
	Count                          int
	Devices                        []string
	More                           int
}

const groupShown = 50

func (c *Console) loadRun(r *http.Request) (runData, error) {
	id, err := parseUUID(r.PathValue("id"), "run id")
	if err != nil {
		return runData{}, err
	}
	run, err := c.deps.Runs.Get(r.Context(), id, runs.GetOptions{Devices: true})
	if err != nil {
		return runData{}, err
	}
	d := runData{Run: run, Running: run.Status == runs.StatusRunning || run.Status == runs.StatusQueued}
	if run.Summary.Devices > 0 {
		d.Percent = 100 * run.Summary.Done / run.Summary.Devices
	}
	groups := map[[2]string]*deviceGroup{}
	for _, dev := range run.Devices {
		if dev.State != "done" {
			if dev.StartedAt != nil {
				d.InFlight = append(d.InFlight, dev)
			} else {
				d.Queued++
			}
			continue
		}
		diag := ""
		if len(dev.Diagnoses) > 0 {
			diag = dev.Diagnoses[0]
		}
		k := [2]string{dev.Health, diag}
		g := groups[k]
		if g == nil {
			g = &deviceGroup{Health: dev.Health, Diagnosis: diag, Recommended: dev.Recommended}
			groups[k] = g
		}
		g.Count++
		if len(g.Devices) < groupShown {
			g.Devices = append(g.Devices, dev.Device)
		} else {
			g.More++
		}
	}
	for _, g := range groups {
		d.Groups = append(d.Groups, *g)
	}
	rank := map[string]int{"error": 0, "unhealthy": 1, "healthy": 2}
	sort.Slice(d.Groups, func(i, j int) bool {
		a, b := d.Groups[i], d.Groups[j]
		if rank[a.Health] != rank[b.Health] {
			return rank[a.Health] < rank[b.Health]
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Diagnosis < b.Diagnosis
	})
	if len(d.InFlight) > groupShown {
		d.InFlight = d.InFlight[:groupShown]
	}
	return d, nil
}

func (c *Console) runPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := c.loadRun(r)
	if err != nil {
		return err
	}
	if !d.Running && c.deps.Sweeps != nil {
		diff, err := c.deps.Sweeps.Diff(r.Context(), d.Run.ID)
		if err == nil {
			d.Diff = &diff
		} else if e := apiserver.ErrorOf(err); e.Status < 500 {
			d.DiffErr = e.Message
		} else {
			return err
		}
	}
	ld := layoutData{Page: "run", V: v, Data: d, Notice: notices[r.URL.Query().Get("done")]}
	if d.Running {
		ld.Refresh = 5 // without JavaScript; console.js replaces the progress in place
	}
	c.renderLayout(w, r, http.StatusOK, "run", ld)
	return nil
}

// runProgress is the progress section alone, which console.js fetches
// while the run is running (polling: works through any proxy).
func (c *Console) runProgress(w http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := c.loadRun(r)
	if err != nil {
		return err
	}
	if !d.Running {
		w.Header().Set("X-Run-Finished", "1")
	}
	c.renderLayout(w, r, http.StatusOK, "run_fragment", layoutData{Page: "run", V: v, Data: d})
	return nil
}
