package diagnose

import (
	"regexp"
	"strings"
)

// The product line of the login banner (docs/firepower.md §4) names the
// exact software version: "Cisco Firepower 1120 Threat Defense v6.4.0.9
// (build 62)", "Cisco Secure Firewall Management Center for VMWare 300
// v7.4.2 (build 172)". The platform lines before it ("Cisco Fire Linux OS
// v6.4.0 (build 2)", "... (FX-OS) v2.6.1 (build 131)") name the operating
// system, not the software, and are not taken.
var bannerVersionRE = regexp.MustCompile(`^[^\n]*(?:Threat Defense|Management Center|Management Centre)[^\n]* v(\d+\.\d+\.\d+(?:\.\d+)?) \(build \d+\)`)

// bannerProducts are the literal parts of bannerVersionRE: a line holds a
// version only if it holds one of them.
var bannerProducts = []string{"Threat Defense", "Management Cent"}

// ParseSoftwareVersion returns the software version a session's text
// (its transcript, which begins with the login banner) names, "" when it
// names none. It runs once per device on a 12 kB transcript, so the
// regexp sees only the lines that name a product (the banner's, near the
// start), not every line of the session (issue 15's profile: 1.3 % of
// fleetd's CPU).
func ParseSoftwareVersion(text string) string {
	for off := 0; off < len(text); {
		i := -1
		for _, p := range bannerProducts {
			if j := strings.Index(text[off:], p); j >= 0 && (i < 0 || j < i) {
				i = j
			}
		}
		if i < 0 {
			return ""
		}
		i += off
		start := strings.LastIndexByte(text[:i], '\n') + 1
		end := strings.IndexByte(text[i:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += i
		}
		if m := bannerVersionRE.FindStringSubmatch(text[start:end]); m != nil {
			return m[1]
		}
		off = end + 1
	}
	return ""
}
