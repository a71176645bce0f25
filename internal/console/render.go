package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
)

// templates maps a page name to its template: the layout plus the page's
// file (templates/NAME.html defines "content").
type templates map[string]*template.Template

var funcs = template.FuncMap{
	"ts": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if t == nil {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		}
		return fmt.Sprint(t)
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"fix":  fixFor,
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

func parseTemplates() (templates, error) {
	// The layout and the partials (templates/_*.html) are shared.
	base, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("console: layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := templates{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, f); err != nil {
			return nil, fmt.Errorf("console: %s: %w", f, err)
		}
		out[name] = t
	}
	return out, nil
}

// layoutData is what the layout renders around a page.
type layoutData struct {
	Page string
	V    *viewer
	// Refresh, when > 0, reloads the page after so many seconds (a running
	// run without JavaScript).
	Refresh int
	Notice  string
	Data    any
}

// render executes page into a buffer first, so that a template error is
// a clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *viewer, data any) {
	c.renderLayout(w, r, status, name, layoutData{Page: name, V: v, Data: data, Notice: notices[r.URL.Query().Get("done")]})
}

func (c *Console) renderLayout(w http.ResponseWriter, r *http.Request, status int, name string, ld layoutData) {
	t, ok := c.tmpl[name]
	if !ok {
		c.log.Error("console: no template", zap.String("name", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	entry := "layout"
	if strings.HasSuffix(name, "_fragment") {
		entry = "content"
	}
	if err := t.ExecuteTemplate(&buf, entry, ld); err != nil {
		c.log.Error("console: render", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var errorFixes = map[string]string{
	"unreachable":      "check the device is up and reachable from fleetd (routing, ACLs, SSH enabled)",
	"auth-failed":      "check the device's credential (fleetd's credentials.*, the account on the device)",
	"timeout":          "the device did not answer in time: check its load and the path; runner.* timeouts",
	"hostkey-mismatch": "the device presented another host key: verify it out of band before fleetctl hostkey accept",
	"hostkey-unknown":  "verify the pending host key out of band, then fleetctl hostkey accept",
	"protocol":         "the SSH or CLI dialogue failed: see the transcript; legacy algorithms are opt-in (sites.*.legacy_ssh)",
	"address-refused":  "the address lies outside the site's allowed_networks: fix the inventory or the site",
}

// notices are the fixed messages a redirect after an action may show
// (?done=CODE): fixed, so that a link cannot make the console say anything.
var notices = map[string]string{
	"approved":  "Approved. fleetd runs the request now or in its window.",
	"rejected":  "Rejected.",
	"cancelled": "Cancelled.",
	"requested": "Request created: it waits for another person's approval.",
	"enabled":   "Schedule enabled.",
	"disabled":  "Schedule disabled.",
	"started":   "Run started.",
}

// fixFor says in words what to do about a recommendation or, for a
// device that could not be checked, about its error class
// (docs/firepower.md, docs/runner.md).
func fixFor(rec string, diagnosis ...string) string {
	if rec == "" && len(diagnosis) > 0 {
		if f, ok := errorFixes[diagnosis[0]]; ok {
			return f
		}
	}
	switch rec {
	case "restart-connector":
		return "restart the SSE connector (fleetctl remediate --restart-connector, or Request restart on the device page)"
	case "reboot":
		return "reboot the device in its maintenance window"
	case "fix-egress":
		return "open egress from the device to the SSE region's endpoints (firewall, proxy, DNS)"
	case "fmc-cloud-settings":
		return "fix the FMC's cloud/SecureX settings (Integration > SecureX / Cloud Services)"
	case "fmc-region-config":
		return "set the FMC's cloud region to the device's SSE region"
	case "":
		return "see docs/firepower.md for the diagnosis"
	}
	return rec
}

func ago(now time.Time, t *time.Time) string {
	if t == nil {
		return "never checked"
	}
	d := now.Sub(*t)
	switch {
	case d < time.Minute:
		return "checked less than a minute ago"
	case d < 2*time.Hour:
		return fmt.Sprintf("checked %d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("checked %d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("checked %d days ago", int(d.Hours()/24))
}
