package remediate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/fleetd/fleetd/pkg/devicecheck"
	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/runner"
	"github.com/fleetd/fleetd/pkg/runs"
)

// TargetResolver turns an inventory device into what the runner and the
// checks need (internal/targets.Resolver).
type TargetResolver interface {
	ResolveDevice(d inventory.Device) (devicecheck.Resolved, error)
}

// DeviceByID loads an inventory device by id (pkg/inventory.Store).
type DeviceByID interface {
	GetByID(ctx context.Context, id string) (inventory.Device, error)
}

// RunnerActionsConfig tunes RunnerActions.
type RunnerActionsConfig struct {
	// PollInterval and PollTimeout: pmtool status is read every interval
	// after a disable or enable until it shows the expected state.
	PollInterval time.Duration // default 2s
	PollTimeout  time.Duration // default 90s
	// WaitInterval is how often a rebooting device is tried.
	WaitInterval time.Duration // default 10s
	// DownGrace is how long a device may keep accepting logins after it
	// accepted the reboot, before WaitBack stops waiting to see it go down.
	DownGrace time.Duration // default 2m
}

func (c *RunnerActionsConfig) defaults() {
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 90 * time.Second
	}
	if c.WaitInterval <= 0 {
		c.WaitInterval = 10 * time.Second
	}
	if c.DownGrace <= 0 {
		c.DownGrace = 2 * time.Minute
	}
}

// RunnerActions implements DeviceActions over pkg/runner sessions and the
// pkg/diagnose commands and parsers. Every command it sends is a constant of
// pkg/diagnose: nothing from a request reaches a device command.
type RunnerActions struct {
	resolver TargetResolver
	devices  DeviceByID
	runner   *runner.Runner
	cfg      RunnerActionsConfig
	log      *zap.Logger
}

// NewRunnerActions returns the production DeviceActions.
func NewRunnerActions(resolver TargetResolver, devices DeviceByID, r *runner.Runner, cfg RunnerActionsConfig, log *zap.Logger) *RunnerActions {
	cfg.defaults()
	return &RunnerActions{resolver: resolver, devices: devices, runner: r, cfg: cfg, log: log}
}

// errNoIdentity: a device without a frozen identity is never reached.
var errNoIdentity = errors.New("no frozen identity (address and host key) for this device")

// resolve prepares one SSH session to the approved box: the device is
// loaded by its frozen id (never by name), dialled at the frozen address
// with the frozen credential, and must present the frozen host key (bound
// on the returned context). The executor has refused the device before its
// first step if the inventory no longer matches; binding the session too
// leaves no window in between.
func (a *RunnerActions) resolve(ctx context.Context, dev Device) (context.Context, devicecheck.Resolved, error) {
	if dev.Address == "" || dev.HostKey == "" {
		return ctx, devicecheck.Resolved{}, fmt.Errorf("device %s: %w", dev.Name, errNoIdentity)
	}
	live, err := a.devices.GetByID(ctx, dev.ID.String())
	if err != nil {
		return ctx, devicecheck.Resolved{}, fmt.Errorf("device %s (id %s): %w", dev.Name, dev.ID, err)
	}
	live.Address, live.Credential = dev.Address, dev.Credential
	res, err := a.resolver.ResolveDevice(live)
	if err != nil {
		return ctx, devicecheck.Resolved{}, fmt.Errorf("device %s: %w", dev.Name, err)
	}
	return devicecheck.WithApprovedHostKey(ctx, res.Target.Device, dev.HostKey), res, nil
}

// session runs fn in one SSH session to the approved box (see resolve).
func (a *RunnerActions) session(ctx context.Context, dev Device, fn func(ctx context.Context, s *runner.Session, env diagnose.Env) error) error {
	ctx, res, err := a.resolve(ctx, dev)
	if err != nil {
		return err
	}
	rr := a.runner.Session(ctx, res.Target, func(ctx context.Context, s *runner.Session) error {
		return fn(ctx, s, res.Env)
	})
	if rr.Err != nil {
		return classifiedError{err: rr.Err, class: string(rr.Class)}
	}
	return nil
}

// classifiedError keeps the runner's class with the error.
type classifiedError struct {
	err   error
	class string
}

func (e classifiedError) Error() string { return e.err.Error() }
func (e classifiedError) Unwrap() error { return e.err }
func (e classifiedError) Class() string {
	if e.class != "" {
		return e.class
	}
	return string(runner.Classify(e.err))
}

// Check implements DeviceActions: the checks of CheckIDs in one session
// (pkg/devicecheck, as a diagnose run does).
func (a *RunnerActions) Check(ctx context.Context, dev Device) Assessment {
	ctx, res, err := a.resolve(ctx, dev)
	if err != nil {
		class := errorClass(err)
		return Assessment{Health: runs.HealthError, Diagnoses: []string{class}, Error: err.Error(), ErrorClass: class}
	}
	r := devicecheck.Run(ctx, a.runner, res, CheckIDs, nil)
	if r.Err != nil {
		// A command that could not run at all makes the device's result an
		// error (unreachable, timeout, ...), not failing checks.
		class := r.ErrorClass()
		return Assessment{Health: runs.HealthError, Diagnoses: []string{class}, Error: r.Err.Error(), ErrorClass: class}
	}
	as := r.Assessment
	return Assessment{Health: string(as.Health), Diagnoses: as.Codes(), Recommended: string(as.Recommended)}
}

// ConnectorStatus implements DeviceActions.
func (a *RunnerActions) ConnectorStatus(ctx context.Context, dev Device) (ConnectorState, error) {
	var st ConnectorState
	err := a.session(ctx, dev, func(ctx context.Context, s *runner.Session, _ diagnose.Env) error {
		var err error
		st, err = connectorState(ctx, s)
		return err
	})
	return st, err
}

func connectorState(ctx context.Context, s *runner.Session) (ConnectorState, error) {
	out, err := s.Run(ctx, runner.LevelRoot, diagnose.CmdConnectorStatus)
	if err != nil {
		return "", err
	}
	svc, ok := diagnose.ConnectorStatus(out)
	switch {
	case !ok:
		return ConnectorOther, nil
	case svc.UserDisabled():
		return ConnectorDisabled, nil
	case svc.Running():
		return ConnectorRunning, nil
	}
	return ConnectorOther, nil
}

// DisableConnector implements DeviceActions.
func (a *RunnerActions) DisableConnector(ctx context.Context, dev Device) error {
	return a.session(ctx, dev, func(ctx context.Context, s *runner.Session, _ diagnose.Env) error {
		if _, err := s.Run(ctx, runner.LevelRoot, diagnose.CmdDisableConnector); err != nil {
			return err
		}
		return a.pollState(ctx, s, ConnectorDisabled)
	})
}

// EnableConnector implements DeviceActions.
func (a *RunnerActions) EnableConnector(ctx context.Context, dev Device) error {
	return a.session(ctx, dev, func(ctx context.Context, s *runner.Session, _ diagnose.Env) error {
		if _, err := s.Run(ctx, runner.LevelRoot, diagnose.CmdEnableConnector); err != nil {
			return err
		}
		return a.pollState(ctx, s, ConnectorRunning)
	})
}

// errNotReached: the connector did not reach the expected state in time.
var errNotReached = errors.New("connector did not reach the expected state")

func (a *RunnerActions) pollState(ctx context.Context, s *runner.Session, want ConnectorState) error {
	deadline := time.Now().Add(a.cfg.PollTimeout)
	var last ConnectorState
	for {
		st, err := connectorState(ctx, s)
		if err != nil {
			return err
		}
		if st == want {
			return nil
		}
		last = st
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: want %s, still %s after %v", errNotReached, want, last, a.cfg.PollTimeout)
		}
		if err := sleep(ctx, a.cfg.PollInterval); err != nil {
			return err
		}
	}
}

// Reboot implements DeviceActions.
func (a *RunnerActions) Reboot(ctx context.Context, dev Device) error {
	return a.session(ctx, dev, func(ctx context.Context, s *runner.Session, _ diagnose.Env) error {
		return s.Reboot(ctx)
	})
}

// WaitBack implements DeviceActions: first see the device go down (or give
// up on seeing it after DownGrace: it may have been quicker than the poll),
// then wait for a login to succeed.
func (a *RunnerActions) WaitBack(ctx context.Context, dev Device, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	login := func() error {
		return a.session(ctx, dev, func(context.Context, *runner.Session, diagnose.Env) error { return nil })
	}
	downBy := time.Now().Add(a.cfg.DownGrace)
	for time.Now().Before(downBy) {
		if err := login(); err != nil {
			break
		}
		if err := sleep(ctx, a.cfg.WaitInterval); err != nil {
			return fmt.Errorf("device %s did not go down: %w", dev.Name, err)
		}
	}
	var last error
	for {
		if last = login(); last == nil {
			return nil
		}
		if err := sleep(ctx, a.cfg.WaitInterval); err != nil {
			return fmt.Errorf("device %s did not come back within %v (last: %v): %w", dev.Name, timeout, last, runner.ErrTimeout)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
