package diagnose

import (
	"fmt"
	"math"
	"regexp"
	"time"
)

// Device commands. They are constants or built from validated hostnames only: nothing taken from
// inventory or a request is ever pasted into them. All run at the root prompt (`sudo su -`)
// except CmdReboot, which runs in clish.
const (
	// CACertPath is the connector's CA bundle, which curl must use to test what the connector sees.
	CACertPath = "/ngfw/etc/ssl/connectorCA.pem"

	CmdConnectorProperties = "cat /ngfw/etc/sf/connector.properties"
	CmdProcessStatus       = `pmtool status | grep -E '^(SSEConnector|EventHandler) '`
	CmdEventHandlerSocket  = "netstat -anlp | grep EventHandler_SSEConnector.sock"
	CmdCloudSession        = "lsof -i | grep connector"
	CmdConnectorLog        = "tail -n 200 /ngfw/var/log/connector/connector.log"
	CmdEnrollment          = "curl -s localhost:8989/v1/contexts/default"
)

// Remediation commands (pkg/remediate). A restart is disable, wait for CmdConnectorStatus to say
// "User Disabled" (ConnectorStatus(...).UserDisabled()), enable, wait for "Running <pid>"
// (ConnectorStatus(...).Running()).
const (
	CmdDisableConnector = "pmtool disablebyid SSEConnector"
	CmdEnableConnector  = "pmtool enablebyid SSEConnector"
	CmdRestartConnector = "pmtool restartbyid SSEConnector"
	CmdConnectorStatus  = `pmtool status | grep -E '^SSEConnector '`

	// CmdReboot runs at the clish prompt (`>`), which then asks RebootConfirmPrompt; answer
	// RebootConfirmAnswer. The session drops afterwards.
	CmdReboot           = "reboot"
	RebootConfirmPrompt = "Please enter 'YES' or 'NO': "
	RebootConfirmAnswer = "YES"
)

// ConnectorService is the pmtool name of the connector process.
const ConnectorService = "SSEConnector"

// EventHandlerService is the pmtool name of the process that owns the connector's socket.
const EventHandlerService = "EventHandler"

var safePathRE = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*/?$`)

// CurlCommand builds the connectivity test for one endpoint. host must be a valid hostname and
// path a plain URL path; maxTime is rounded up to whole seconds (at least 1) so that the device's
// curl can never hang the session.
func CurlCommand(host, path string, maxTime time.Duration) (string, error) {
	if !ValidHostname(host) {
		return "", fmt.Errorf("curl command: %q is not a valid hostname", host)
	}
	if path != "" && !safePathRE.MatchString(path) {
		return "", fmt.Errorf("curl command: %q is not a plain URL path", path)
	}
	secs := int64(math.Ceil(maxTime.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return fmt.Sprintf("curl -v https://%s%s --cacert %s --max-time %d", host, path, CACertPath, secs), nil
}
