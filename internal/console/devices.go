package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate"
	"github.com/fleetd/fleetd/pkg/runs"
)

const devicesPerPage = 50

var (
	tagRE       = regexp.MustCompile(`^[A-Za-z0-9._-]+=[A-Za-z0-9._:/-]*$`)
	diagnosisRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	healths     = []string{runs.HealthHealthy, runs.HealthUnhealthy, runs.HealthError, runs.HealthUnknown}
	kinds       = []string{string(inventory.KindFMC), string(inventory.KindFTD)}
	sorts       = []string{runs.SortName, runs.SortSite, runs.SortHealth, runs.SortChecked}
)

type devicesData struct {
	Q                     runs.StatusQuery
	Sites, Kinds, Healths []string
	Page                  runs.StatusPage
	PageNo, Pages         int
	Prev, Next            string
	Cols                  []sortCol
}

type sortCol struct {
	Label, Href, Mark string
}

// devicesQuery reads the Devices page's filters; a bad one is a 400 that
// names it, as the API's status route does.
func devicesQuery(r *http.Request, sites []string) (runs.StatusQuery, int, error) {
	in := r.URL.Query()
	q := runs.StatusQuery{Kind: in.Get("kind"), Tag: in.Get("tag"), Text: in.Get("q"), Sort: in.Get("sort"),
		Desc: in.Get("desc") == "1"}
	q.Site, q.Health, q.Diagnosis = in.Get("site"), in.Get("health"), in.Get("diagnosis")
	switch {
	case q.Site != "" && !slices.Contains(sites, q.Site):
		return q, 0, badRequest("site: unknown site %q", q.Site)
	case q.Kind != "" && !slices.Contains(kinds, q.Kind):
		return q, 0, badRequest("kind: want fmc or ftd, got %q", q.Kind)
	case q.Health != "" && !slices.Contains(healths, q.Health):
		return q, 0, badRequest("health: want one of healthy, unhealthy, error, unknown, got %q", q.Health)
	case q.Diagnosis != "" && !diagnosisRE.MatchString(q.Diagnosis):
		return q, 0, badRequest("diagnosis: %q is not a diagnosis code", q.Diagnosis)
	case q.Tag != "" && !tagRE.MatchString(q.Tag):
		return q, 0, badRequest("tag: want k=v, got %q", q.Tag)
	case q.Sort != "" && !slices.Contains(sorts, q.Sort):
		return q, 0, badRequest("sort: want one of name, site, health, checked, got %q", q.Sort)
	case len(q.Text) > 100:
		return q, 0, badRequest("q: at most 100 characters")
	}
	pageNo := 1
	if p := in.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100000 {
			return q, 0, badRequest("page: want a number from 1, got %q", p)
		}
		pageNo = n
	}
	q.Limit, q.Offset = devicesPerPage, (pageNo-1)*devicesPerPage
	return q, pageNo, nil
}

func (c *Console) siteNames(r *http.Request) ([]string, error) {
	sites, err := c.deps.Inventory.ListSites(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(sites))
	for _, s := range sites {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out, nil
}

func (c *Console) devicesPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	sites, err := c.siteNames(r)
	if err != nil {
		return err
	}
	q, pageNo, err := devicesQuery(r, sites)
	if err != nil {
		return err
	}
	page, err := c.deps.Runs.StatusPaged(r.Context(), q)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "devices", v, buildDevices(r.URL.Query(), q, pageNo, page, sites))
	return nil
}

func buildDevices(in url.Values, q runs.StatusQuery, pageNo int, page runs.StatusPage, sites []string) devicesData {
	d := devicesData{Q: q, Sites: sites, Kinds: kinds, Healths: healths, Page: page, PageNo: pageNo,
		Pages: max(1, (page.Total+devicesPerPage-1)/devicesPerPage)}
	link := func(set map[string]string) string {
		u := url.Values{}
		for k, vs := range in {
			if len(vs) > 0 && vs[0] != "" {
				u.Set(k, vs[0])
			}
		}
		for k, v := range set {
			if v == "" {
				u.Del(k)
			} else {
				u.Set(k, v)
			}
		}
		return "/ui/devices?" + u.Encode()
	}
	if pageNo > 1 {
		d.Prev = link(map[string]string{"page": strconv.Itoa(pageNo - 1)})
	}
	if pageNo < d.Pages {
		d.Next = link(map[string]string{"page": strconv.Itoa(pageNo + 1)})
	}
	cur := q.Sort
	if cur == "" {
		cur = runs.SortName
	}
	for _, col := range []struct{ label, key string }{{"Device", runs.SortName}, {"Site", runs.SortSite},
		{"Health", runs.SortHealth}, {"Checked", runs.SortChecked}} {
		sc := sortCol{Label: col.label}
		desc := ""
		if col.key == cur {
			sc.Mark = "▲"
			if q.Desc {
				sc.Mark = "▼"
			} else {
				desc = "1"
			}
		}
		sc.Href = link(map[string]string{"sort": col.key, "desc": desc, "page": ""})
		d.Cols = append(d.Cols, sc)
	}
	return d
}

type deviceData struct {
	Device     inventory.Device
	Status     *runs.DeviceRun // latest finished result
	Checks     []checkView
	Transcript string
	// TranscriptHidden says the viewer's role may not read transcripts.
	TranscriptHidden bool
	History          []runs.DeviceRun
	HostKeys         []inventory.HostKey
	Requests         []remediate.Request
}

// checkView is one check result as the page shows it; Evidence is its
// JSON, indented (shown as text, escaped like everything a device printed).
type checkView struct {
	ID       string          `json:"id"`
	Verdict  string          `json:"verdict"`
	Summary  string          `json:"summary"`
	Raw      json.RawMessage `json:"evidence"`
	Evidence string          `json:"-"`
}

func parseChecks(raw json.RawMessage) []checkView {
	var out []checkView
	if len(raw) == 0 || json.Unmarshal(raw, &out) != nil {
		return nil
	}
	for i := range out {
		var b bytes.Buffer
		if len(out[i].Raw) > 0 && string(out[i].Raw) != "null" && string(out[i].Raw) != "{}" && json.Indent(&b, out[i].Raw, "", "  ") == nil {
			out[i].Evidence = b.String()
		}
	}
	return out
}

func (c *Console) devicePage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	dev, err := c.deps.Inventory.Get(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	d := deviceData{Device: dev, TranscriptHidden: !v.Role.AtLeast(apiserver.TranscriptRole)}
	if d.History, err = c.deps.Runs.DeviceHistory(ctx, dev.ID, 30); err != nil {
		return err
	}
	for i := range d.History {
		if d.History[i].State == "done" {
			d.Status = &d.History[i]
			break
		}
	}
	if d.Status != nil {
		run, err := c.deps.Runs.Get(ctx, d.Status.RunID, runs.GetOptions{Device: dev.Name, Transcripts: !d.TranscriptHidden})
		if err != nil && !errors.Is(err, runs.ErrNotFound) {
			return err
		}
		if len(run.Devices) == 1 {
			d.Checks = parseChecks(run.Devices[0].Checks)
			d.Transcript = run.Devices[0].Transcript
		}
	}
	if d.HostKeys, err = c.deps.Inventory.ListHostKeys(ctx, inventory.HostKeyFilter{Device: dev.Name}); err != nil {
		return err
	}
	if c.deps.Remediation != nil {
		reqs, err := c.deps.Remediation.List(ctx, remediate.ListFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, rq := range reqs {
			if !rq.State.Final() && slices.Contains(rq.Devices, dev.Name) {
				d.Requests = append(d.Requests, rq)
			}
		}
	}
	c.render(w, r, http.StatusOK, "device", v, d)
	return nil
}

// diagnoseDevice is "diagnose now": a run of the device, as POST /v1/runs
// with selector devices=[name].
func (c *Console) diagnoseDevice(w http.ResponseWriter, r *http.Request, v *viewer) error {
	dev, err := c.deps.Inventory.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	run, err := c.deps.Runs.Start(r.Context(), runs.StartRequest{Kind: runs.KindDiagnose, RequestedBy: v.Name,
		Selector: runs.Selector{Devices: []string{dev.Name}}})
	var selErr *runs.SelectionError
	if errors.As(err, &selErr) {
		return badRequest("%s", selErr.Error())
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/ui/runs/"+run.ID.String()+"?done=started", http.StatusSeeOther)
	return nil
}

// requestRestart asks for a connector restart of the device, as POST
// /v1/remediations: pending until another person approves it.
func (c *Console) requestRestart(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if c.deps.Remediation == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "remediation is not configured on this server")
	}
	req, err := c.deps.Remediation.Create(r.Context(), v.actor(), remediate.CreateRequest{
		Action: remediate.ActionRestartConnector, Devices: []string{r.PathValue("name")}, Reason: r.PostForm.Get("reason")})
	if err != nil {
		return err
	}
	http.Redirect(w, r, requestURL(req.ID)+"?done=requested", http.StatusSeeOther)
	return nil
}

func requestURL(id uuid.UUID) string { return "/ui/requests/" + id.String() }
