package sim

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
)

// The device's files are virtual: each is rendered from the device state
// when read.

type virtualFile struct {
	rootOnly bool
	special  string // "socket": not a regular file
	render   func(d *Device) string
}

var virtualFiles = map[string]virtualFile{
	"/ngfw/etc/sf/connector.properties":               {render: (*Device).connectorProperties},
	"/ngfw/var/log/connector/connector.log":           {rootOnly: true, render: (*Device).connectorLog},
	"/ngfw/etc/sf/sf-version":                         {render: func(d *Device) string { return d.productLine() + "\n" }},
	"/ngfw/etc/ssl/connectorCA.pem":                   {render: (*Device).connectorCA},
	"/etc/hostname":                                   {render: func(d *Device) string { return d.hostname + "\n" }},
	"/ngfw/var/sf/run/EventHandler.pid":               {render: func(d *Device) string { return fmt.Sprintf("%d\n", d.snap().ehPMPID()) }},
	"/ngfw/var/sf/run/SSEConnector.pid":               {rootOnly: true, render: func(d *Device) string { return fmt.Sprintf("%d\n", d.snap().pmPID) }},
	"/ngfw/var/sf/run/EventHandler_SSEConnector.sock": {special: "socket"},
}

// symlinks as on an FTD: /etc/sf and friends point into /ngfw.
var symlinks = []struct{ from, to string }{
	{"/etc/sf", "/ngfw/etc/sf"},
	{"/var/sf", "/ngfw/var/sf"},
	{"/var/log/connector", "/ngfw/var/log/connector"},
	{"/home", "/Volume/home"},
}

var extraDirs = []string{"/", "/root", "/tmp", "/usr", "/usr/bin", "/bin", "/sbin", "/var", "/var/log", "/etc",
	"/Volume", "/Volume/home", "/Volume/home/admin", "/ngfw/var/log", "/usr/local/sf/bin"}

var dirSet = func() map[string]bool {
	m := map[string]bool{}
	add := func(p string) {
		for p != "/" && p != "." && p != "" {
			m[p] = true
			p = path.Dir(p)
		}
		m["/"] = true
	}
	for p := range virtualFiles {
		add(path.Dir(p))
	}
	for _, d := range extraDirs {
		add(d)
	}
	return m
}()

func isDir(canon string) bool { return dirSet[canon] }

func rootOnlyDir(canon string) bool {
	return canon == "/root" || strings.HasPrefix(canon, "/root/") || canon == "/ngfw/var/log/connector"
}

// logicalPath resolves p against cwd the way bash keeps $PWD (symlinks
// not resolved).
func logicalPath(cwd, p, home string) string {
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		p = home + p[1:]
	}
	if !strings.HasPrefix(p, "/") {
		p = cwd + "/" + p
	}
	return path.Clean(p)
}

// canonicalPath follows the symlinks.
func canonicalPath(p string) string {
	for _, l := range symlinks {
		if p == l.from || strings.HasPrefix(p, l.from+"/") {
			return l.to + p[len(l.from):]
		}
	}
	return p
}

func (s *shell) home() string {
	if s.isRoot() {
		return rootHome
	}
	return adminHome
}

func (s *shell) resolvePath(p string) string {
	return canonicalPath(logicalPath(s.top().cwd, p, s.home()))
}

// readFile returns a file's content, or the error text (as in
// "cat: X: <error>").
func (s *shell) readFile(p string) (string, string) {
	canon := s.resolvePath(p)
	if c, ok := s.files[canon]; ok {
		return c, ""
	}
	vf, ok := virtualFiles[canon]
	switch {
	case !ok && isDir(canon):
		return "", "Is a directory"
	case !ok:
		return "", "No such file or directory"
	case vf.special == "socket":
		return "", "No such device or address"
	case vf.rootOnly && !s.isRoot():
		return "", "Permission denied"
	}
	return vf.render(s.d), ""
}

func (s *shell) writeFile(canon, content string, appendTo bool) {
	if s.files == nil {
		s.files = map[string]string{}
	}
	if appendTo {
		content = s.files[canon] + content
	}
	s.files[canon] = content
}

// listDir lists a directory's entries (names only).
func (s *shell) listDir(canon string) []string {
	seen := map[string]bool{}
	add := func(p string) {
		if path.Dir(p) == canon && p != canon {
			seen[path.Base(p)] = true
		}
	}
	for p := range virtualFiles {
		add(p)
	}
	for p := range dirSet {
		add(p)
	}
	for p := range s.files {
		if !strings.HasPrefix(p, "\x00") {
			add(p)
		}
	}
	for _, l := range symlinks {
		add(l.from)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// connectorProperties is /ngfw/etc/sf/connector.properties (seed, §3).
func (d *Device) connectorProperties() string {
	return fmt.Sprintf("registration_interval=180\nconnector_port=8989\nconnector_fqdn=%s\n", d.apiHost())
}

// apiHost is the SSE API host the connector uses: the region of the
// device's site, or another one under region-mismatch.
func (d *Device) apiHost() string {
	return Regions[d.connectorRegion()].API
}

func (d *Device) connectorRegion() string {
	if _, fmcRegion := d.fmcBlocks(); fmcRegion || d.hasFlag(FaultRegionMismatch) {
		return otherRegion(d.region)
	}
	return d.region
}

// connectorCA is a stand-in PEM bundle (not a real certificate), the same
// on every device: rendered once, it was a seventh of the bytes a
// diagnose session allocated (curl --cacert reads it; issue 15).
func (d *Device) connectorCA() string { return connectorCAPEM() }

var connectorCAPEM = sync.OnceValue(func() string {
	var b strings.Builder
	for i, name := range []string{"IdenTrust Commercial Root CA 1", "QuoVadis Root CA 2"} {
		sum := sha256.Sum256([]byte(name))
		body := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(sum[:]), 12)))
		fmt.Fprintf(&b, "# %d: %s\n-----BEGIN CERTIFICATE-----\n", i+1, name)
		for len(body) > 64 {
			b.WriteString(body[:64] + "\n")
			body = body[64:]
		}
		b.WriteString(body + "\n-----END CERTIFICATE-----\n")
	}
	return b.String()
})
