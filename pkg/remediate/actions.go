package remediate

import (
	"context"
	"slices"
	"time"
)

// Assessment is what a pre-check or verify found on one device.
type Assessment struct {
	Health      string   `json:"health"` // runs.HealthHealthy | runs.HealthUnhealthy | runs.HealthError
	Diagnoses   []string `json:"diagnoses"`
	Recommended string   `json:"recommended,omitempty"`
	// Error and ErrorClass say why the checks could not run (Health error):
	// unreachable, auth-failed, hostkey-mismatch, timeout, ...
	Error      string `json:"error,omitempty"`
	ErrorClass string `json:"error_class,omitempty"`
}

func (a Assessment) has(codes ...string) []string {
	var out []string
	for _, c := range codes {
		if slices.Contains(a.Diagnoses, c) {
			out = append(out, c)
		}
	}
	return out
}

// ConnectorState is SSEConnector's state as pmtool status shows it.
type ConnectorState string

// Connector states.
const (
	ConnectorRunning  ConnectorState = "running"
	ConnectorDisabled ConnectorState = "disabled" // "User Disabled"
	ConnectorOther    ConnectorState = "other"    // anything else (waiting, no PID, no line)
)

// DeviceActions is everything remediation does to a device. Each call is
// one SSH session; none is retried by the implementation (the executor
// decides, from its journal, what may be sent again).
type DeviceActions interface {
	// Check runs the pre-check/verify checks (CheckIDs). It never fails:
	// a device that cannot be checked is an Assessment with Health error.
	Check(ctx context.Context, dev Device) Assessment
	// ConnectorStatus reads pmtool status; used to look before acting
	// again after a crash.
	ConnectorStatus(ctx context.Context, dev Device) (ConnectorState, error)
	// DisableConnector sends `pmtool disablebyid SSEConnector` and waits
	// until status shows it User Disabled.
	DisableConnector(ctx context.Context, dev Device) error
	// EnableConnector sends `pmtool enablebyid SSEConnector` and waits until
	// status shows it Running with a PID.
	EnableConnector(ctx context.Context, dev Device) error
	// Reboot sends `reboot` in clish, confirms with YES, and returns once the
	// device has accepted it (the session drops).
	Reboot(ctx context.Context, dev Device) error
	// WaitBack waits until the device, having gone down, accepts an SSH
	// login again, or timeout passes.
	WaitBack(ctx context.Context, dev Device, timeout time.Duration) error
}
