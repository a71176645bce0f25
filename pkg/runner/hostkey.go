package runner

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// HostKeyStore decides whether a device's presented host key may be used.
// pkg/inventory implements it on PostgreSQL; MemoryHostKeyStore is the
// in-process implementation for tests, benchmarks and the simulator.
type HostKeyStore interface {
	// CheckHostKey returns nil if key matches the key pinned for device.
	// Otherwise it returns an error wrapping ErrHostKeyUnknown (after
	// recording the key as pending, or pinning it and returning nil under
	// tofu) or ErrHostKeyMismatch (after recording the mismatch and writing an
	// audit event). It is called during the key exchange, before any
	// authentication secret is sent.
	CheckHostKey(ctx context.Context, device, addr string, key ssh.PublicKey, policy HostKeyPolicy) error
}

// PinnedHostKeyLookup is optionally implemented by a HostKeyStore. When the
// store can say which key type is pinned, the runner puts that type first in
// its host-key algorithm list, as OpenSSH does with known_hosts, so that a
// device offering several key types negotiates the pinned one instead of
// being reported as a mismatch.
type PinnedHostKeyLookup interface {
	// PinnedHostKey returns the pinned key, or nil if none is pinned.
	PinnedHostKey(ctx context.Context, device string) (ssh.PublicKey, error)
}

// HostKeyState is the state of a device's key in a store.
type HostKeyState string

const (
	HostKeyPending  HostKeyState = "pending"
	HostKeyPinned   HostKeyState = "pinned"
	HostKeyMismatch HostKeyState = "mismatch"
)

// HostKeyEvent is what MemoryHostKeyStore records for each decision other
// than a plain match (the audit trail of the PostgreSQL store).
type HostKeyEvent struct {
	Device      string
	Addr        string
	State       HostKeyState // pending (unknown key recorded), pinned (tofu), mismatch
	Fingerprint string       // SHA256 fingerprint of the presented key
	At          time.Time
}

type memoryHostKey struct {
	pinned   ssh.PublicKey
	pending  ssh.PublicKey
	mismatch ssh.PublicKey
}

// MemoryHostKeyStore is a concurrency-safe in-memory HostKeyStore.
type MemoryHostKeyStore struct {
	mu     sync.Mutex
	keys   map[string]*memoryHostKey
	events []HostKeyEvent
}

// NewMemoryHostKeyStore returns an empty store.
func NewMemoryHostKeyStore() *MemoryHostKeyStore {
	return &MemoryHostKeyStore{keys: make(map[string]*memoryHostKey)}
}

func (m *MemoryHostKeyStore) entry(device string) *memoryHostKey {
	e := m.keys[device]
	if e == nil {
		e = &memoryHostKey{}
		m.keys[device] = e
	}
	return e
}

// Pin pins key for device (what `fleetctl hostkey accept` does).
func (m *MemoryHostKeyStore) Pin(device string, key ssh.PublicKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(device)
	e.pinned, e.pending, e.mismatch = key, nil, nil
}

// Accept pins the pending key of device.
func (m *MemoryHostKeyStore) Accept(device string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.keys[device]
	if e == nil || e.pending == nil {
		return fmt.Errorf("device %s has no pending host key", device)
	}
	e.pinned, e.pending = e.pending, nil
	return nil
}

// Pinned returns the pinned key of device, or nil.
func (m *MemoryHostKeyStore) Pinned(device string) ssh.PublicKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.keys[device]; e != nil {
		return e.pinned
	}
	return nil
}

// Pending returns the key recorded as pending for device, or nil.
func (m *MemoryHostKeyStore) Pending(device string) ssh.PublicKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.keys[device]; e != nil {
		return e.pending
	}
	return nil
}

// Events returns a copy of the recorded events.
func (m *MemoryHostKeyStore) Events() []HostKeyEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]HostKeyEvent(nil), m.events...)
}

// PinnedHostKey implements PinnedHostKeyLookup.
func (m *MemoryHostKeyStore) PinnedHostKey(_ context.Context, device string) (ssh.PublicKey, error) {
	return m.Pinned(device), nil
}

// CheckHostKey implements HostKeyStore.
func (m *MemoryHostKeyStore) CheckHostKey(_ context.Context, device, addr string, key ssh.PublicKey, policy HostKeyPolicy) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(device)
	fp := ssh.FingerprintSHA256(key)
	switch {
	case e.pinned != nil && keysEqual(e.pinned, key):
		return nil
	case e.pinned != nil:
		e.mismatch = key
		m.events = append(m.events, HostKeyEvent{device, addr, HostKeyMismatch, fp, time.Now()})
		return fmt.Errorf("device %s presented %s, pinned %s: %w", device, fp, ssh.FingerprintSHA256(e.pinned), ErrHostKeyMismatch)
	case policy.normalized() == HostKeyTOFU:
		e.pinned, e.pending = key, nil
		m.events = append(m.events, HostKeyEvent{device, addr, HostKeyPinned, fp, time.Now()})
		return nil
	default:
		e.pending = key
		m.events = append(m.events, HostKeyEvent{device, addr, HostKeyPending, fp, time.Now()})
		return fmt.Errorf("device %s presented %s, recorded as pending: %w", device, fp, ErrHostKeyUnknown)
	}
}

func keysEqual(a, b ssh.PublicKey) bool {
	return a.Type() == b.Type() && bytes.Equal(a.Marshal(), b.Marshal())
}

// hostKeyCheck adapts a HostKeyStore to ssh.HostKeyCallback for one hop and
// remembers what happened, so that connect errors can be classified and
// timed.
type hostKeyCheck struct {
	ctx         context.Context
	store       HostKeyStore
	device      string
	addr        string
	policy      HostKeyPolicy
	checkedAt   time.Time
	fingerprint string
	err         error
}

func (h *hostKeyCheck) callback(_ string, _ net.Addr, key ssh.PublicKey) error {
	h.checkedAt = time.Now()
	h.fingerprint = ssh.FingerprintSHA256(key)
	h.err = h.store.CheckHostKey(h.ctx, h.device, h.addr, key, h.policy.normalized())
	return h.err
}
