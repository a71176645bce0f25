package console

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/runs"
)

// sweepHistory is how many nightly sweeps the Fleet page charts.
const sweepHistory = 30

type fleetData struct {
	Total, Healthy, Unhealthy, Error, Unknown int
	Checked                                   string
	Sites                                     []siteBar
	Diagnoses                                 []runs.DiagnosisCount
	Sweeps                                    sweepChart
	// Incidents are the fleet-level root causes of the latest results (the
	// same as GET /v1/incidents); nil when the console has no incidents
	// service, which hides the section.
	Incidents *incidentsView
}

// incidentsView is the Fleet page's incidents section.
type incidentsView struct {
	Incidents             []api.Incident
	Explained, NotHealthy int
}

// siteBar is one site's stacked bar: segments in a 0..1000 wide viewBox.
type siteBar struct {
	runs.SiteHealth
	Segments []segment
}

type segment struct {
	Class, Label string
	X, W         float64
	N            int
}

func stack(sh runs.SiteHealth) []segment {
	total := float64(sh.Total())
	var out []segment
	x := 0.0
	for _, s := range []struct {
		class string
		n     int
	}{{"healthy", sh.Healthy}, {"unhealthy", sh.Unhealthy}, {"error", sh.Error}, {"unknown", sh.Unknown}} {
		if s.n == 0 || total == 0 {
			continue
		}
		w := 1000 * float64(s.n) / total
		out = append(out, segment{Class: s.class, Label: fmt.Sprintf("%s: %d %s", sh.Site, s.n, s.class), X: x, W: w, N: s.n})
		x += w
	}
	return out
}

// sweepChart is the unhealthy count per nightly sweep, oldest first, as
// bars in a 600×120 viewBox.
type sweepChart struct {
	Bars        []sweepBar
	Max         int
	First, Last string
	LastX       float64 // where the last bar ends: its date label's anchor
}

type sweepBar struct {
	X, Y, W, H float64
	Label      string
	Href       string
}

func chart(sweeps []runs.Run) sweepChart {
	var ch sweepChart
	if len(sweeps) == 0 {
		return ch
	}
	sweeps = slices.Clone(sweeps)
	slices.Reverse(sweeps) // oldest first
	for _, s := range sweeps {
		ch.Max = max(ch.Max, s.Summary.Unhealthy)
	}
	const width, height, gap = 600.0, 100.0, 2.0
	w := width / float64(sweepHistory)
	for i, s := range sweeps {
		h := 0.0
		if ch.Max > 0 {
			h = height * float64(s.Summary.Unhealthy) / float64(ch.Max)
		}
		h = max(h, 1) // a zero still shows as a line
		ch.Bars = append(ch.Bars, sweepBar{X: float64(i) * w, Y: height - h, W: w - gap, H: h,
			Label: fmt.Sprintf("%s %s: %d unhealthy of %d", s.Schedule, s.CreatedAt.UTC().Format("2006-01-02 15:04Z"),
				s.Summary.Unhealthy, s.Summary.Devices),
			Href: "/ui/runs/" + s.ID.String()})
	}
	ch.First = sweeps[0].CreatedAt.UTC().Format("Jan 2")
	ch.Last = sweeps[len(sweeps)-1].CreatedAt.UTC().Format("Jan 2")
	ch.LastX = float64(len(sweeps))*w - gap
	return ch
}

func (c *Console) fleetPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ov, err := c.deps.Runs.FleetOverview(r.Context(), 10)
	if err != nil {
		return err
	}
	sweeps, err := c.deps.Runs.ScheduledRuns(r.Context(), sweepHistory)
	if err != nil {
		return err
	}
	d := buildFleet(ov, sweeps, c.now())
	if c.deps.Incidents != nil {
		res, err := c.deps.Incidents.Current(r.Context())
		if err != nil {
			return err
		}
		d.Incidents = &incidentsView{Incidents: res.Incidents, Explained: res.Explained, NotHealthy: res.NotHealthy}
	}
	c.render(w, r, http.StatusOK, "fleet", v, d)
	return nil
}

func buildFleet(ov runs.Overview, sweeps []runs.Run, now time.Time) fleetData {
	d := fleetData{Diagnoses: ov.TopDiagnoses, Checked: ago(now, ov.LastChecked), Sweeps: chart(sweeps)}
	for _, sh := range ov.Sites {
		d.Total += sh.Total()
		d.Healthy += sh.Healthy
		d.Unhealthy += sh.Unhealthy
		d.Error += sh.Error
		d.Unknown += sh.Unknown
		d.Sites = append(d.Sites, siteBar{SiteHealth: sh, Segments: stack(sh)})
	}
	return d
}
