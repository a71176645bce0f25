package diagnose

import (
	"regexp"
	"strconv"
	"strings"
)

// ConnectorProperties is /ngfw/etc/sf/connector.properties.
type ConnectorProperties struct {
	// Missing: the file could not be read; Error holds the tool's message.
	Missing              bool              `json:"missing,omitempty"`
	Error                string            `json:"error,omitempty"`
	Values               map[string]string `json:"values"`
	ConnectorFQDN        string            `json:"connector_fqdn,omitempty"`
	ConnectorPort        int               `json:"connector_port,omitempty"`
	RegistrationInterval int               `json:"registration_interval,omitempty"`
	// Invalid holds lines that are neither key=value nor comments.
	Invalid []string `json:"invalid,omitempty"`
}

var propStartRE = regexp.MustCompile(`^\s*(?:[#!]|[^\s=]+\s*=)`)

// ParseConnectorProperties parses `cat connector.properties` (key=value lines, # and !
// comments; the last of duplicate keys wins, as in Java properties).
func ParseConnectorProperties(text string) ConnectorProperties {
	p := ConnectorProperties{Values: map[string]string{}}
	isStart := func(l string) bool { return propStartRE.MatchString(l) || messageRE.MatchString(l) }
	for _, rec := range joinWrapped(text, isStart) {
		line := strings.TrimSpace(rec)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			if strings.HasPrefix(line, "cat: ") {
				p.Missing = true
				p.Error = truncate(line, 200)
			} else {
				p.Invalid = append(p.Invalid, truncate(line, 200))
			}
			continue
		}
		p.Values[key] = strings.TrimSpace(value)
	}
	p.ConnectorFQDN = p.Values["connector_fqdn"]
	p.ConnectorPort, _ = strconv.Atoi(p.Values["connector_port"])
	p.RegistrationInterval, _ = strconv.Atoi(p.Values["registration_interval"])
	return p
}
