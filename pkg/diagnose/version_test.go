package diagnose_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/diagnose"
)

func TestParseSoftwareVersion(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"\nCopyright 2004-2019, Cisco and/or its affiliates. All rights reserved.\n\nCisco Firepower Extensible Operating System (FX-OS) v2.6.1 (build 131)\nCisco Firepower 1120 Threat Defense v6.4.0.9 (build 62)\n\n> ": "6.4.0.9",
		"Cisco Fire Linux OS v6.4.0 (build 2)\nCisco Firepower Threat Defense for VMWare v6.4.0 (build 102)\n":                                                                                                              "6.4.0",
		"Cisco Fire Linux OS v7.4.2 (build 12)\r\nCisco Secure Firewall Management Center for VMWare 300 v7.4.2 (build 172)\r\n":                                                                                            "7.4.2",
		"Cisco Fire Linux OS v6.4.0 (build 2)\n> expert\n":                         "", // the OS line alone is not the software version
		"Cisco Firepower Extensible Operating System (FX-OS) v2.6.1 (build 131)\n": "",
		"": "",
	} {
		require.Equal(t, want, diagnose.ParseSoftwareVersion(text), text)
	}
}
