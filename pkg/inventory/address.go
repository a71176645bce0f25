package inventory

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// JumpNone as a device's jump tag means "connect directly", whatever its
// site's jump_hosts say.
const JumpNone = "none"

var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// CheckAddress validates a device or jump-host address: host or host:port,
// where host is an IPv4/IPv6 literal or a DNS name and port is 1-65535. An
// IPv6 address with a port is written in brackets ("[2001:db8::1]:22").
// fleetd's config uses the same rule for jump hosts.
func CheckAddress(s string) error {
	if s == "" {
		return errors.New("required")
	}
	host := s
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		h, port, err := net.SplitHostPort(s)
		if err != nil {
			return fmt.Errorf("not host or host:port: %q", s)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("bad port %q in %q (want 1-65535)", port, s)
		}
		host = h
	}
	if strings.ContainsRune(host, '%') {
		return fmt.Errorf("zoned IPv6 addresses are not supported: %q", s)
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if !IsHostname(host) {
		return fmt.Errorf("not an IP address or host name: %q", host)
	}
	return nil
}

// IsHostname reports whether h is a DNS name (labels of letters, digits and
// inner hyphens; an optional final dot).
func IsHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if !hostLabelRE.MatchString(l) {
			return false
		}
	}
	// An all-numeric last label would be a mistyped IPv4 address ("10.0.0.300").
	last := labels[len(labels)-1]
	if _, err := strconv.Atoi(last); err == nil {
		return false
	}
	return true
}
