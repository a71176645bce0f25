package diagnose

import "regexp"

// The product line of the login banner (docs/firepower.md §4) names the
// exact software version: "Cisco Firepower 1120 Threat Defense v6.4.0.9
// (build 62)", "Cisco Secure Firewall Management Center for VMWare 300
// v7.4.2 (build 172)". The platform lines before it ("Cisco Fire Linux OS
// v6.4.0 (build 2)", "... (FX-OS) v2.6.1 (build 131)") name the operating
// system, not the software, and are not taken.
var bannerVersionRE = regexp.MustCompile(`(?m)^[^\n]*(?:Threat Defense|Management Center|Management Centre)[^\n]* v(\d+\.\d+\.\d+(?:\.\d+)?) \(build \d+\)`)

// ParseSoftwareVersion returns the software version a session's text
// (its transcript, which begins with the login banner) names, "" when it
// names none.
func ParseSoftwareVersion(text string) string {
	if m := bannerVersionRE.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}
