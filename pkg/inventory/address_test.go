package inventory

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		wantErr string
	}{
		{"127.1.0.7", ""},
		{"127.1.0.7:22", ""},
		{"ftd-ams-01.example.net", ""},
		{"ftd-ams-01.example.net:2222", ""},
		{"::1", ""},
		{"2001:db8::1", ""},
		{"[2001:db8::1]:22", ""},
		{"", "required"},
		{"host:0", "bad port"},
		{"host:65536", "bad port"},
		{"host:022", "bad port"},
		{"host:", "bad port"},
		{"host:ssh", "bad port"},
		{"[::1]", "not host or host:port"},
		{"fe80::1%eth0", "zoned"},
		{"10.0.0.300", "not an IP address or host name"},
		{"a b", "not an IP address or host name"},
		{"host;reboot", "not an IP address or host name"},
		{"-oProxyCommand=x", "not an IP address or host name"},
		{"$(id)", "not an IP address or host name"},
		{"under_score.example", "not an IP address or host name"},
	}
	for _, tt := range tests {
		err := CheckAddress(tt.in)
		if tt.wantErr == "" {
			require.NoError(t, err, tt.in)
		} else {
			require.ErrorContains(t, err, tt.wantErr, tt.in)
		}
	}
}
