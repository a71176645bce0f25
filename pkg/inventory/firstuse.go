package inventory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/audit"
)

// First contact with a fleet under trust-on-first-use pins every device's
// key and audits it: 10,000 of them in a run. One transaction each made a
// first run 1.3–1.4× the steady state (issue 15); PinOnFirstUse groups the
// pins of concurrent sessions into one statement and one audit insert per
// transaction instead.

// maxPinBatch bounds one transaction of pins.
const maxPinBatch = 256

type pinRequest struct {
	device, addr string
	key          ssh.PublicKey
	done         chan pinResult
}

type pinResult struct {
	pinned bool
	err    error
}

// pinBatcher writes the pins queued while the previous batch was being
// written. Its goroutine runs only while there is work: no goroutine to
// stop, none left behind by an idle Store.
type pinBatcher struct {
	mu      sync.Mutex
	queue   []*pinRequest
	running bool
}

// PinOnFirstUse pins key for device under trust-on-first-use when nothing
// is recorded for the device yet (no pinned key, no candidate row for this
// key), with its audit event, batched with the concurrent first contacts.
// It returns false, and records nothing, in every other case (a key already
// pinned or seen, an unknown device): the caller then asks CheckHostKey,
// which decides those. The caller should use it only when it knows nothing
// was pinned (the job loaded the device without a key).
func (s *Store) PinOnFirstUse(ctx context.Context, device, addr string, key ssh.PublicKey) (bool, error) {
	r := &pinRequest{device: device, addr: addr, key: key, done: make(chan pinResult, 1)}
	b := &s.pins
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if !b.running {
		b.running = true
		go s.writePins()
	}
	b.mu.Unlock()
	select {
	case res := <-r.done:
		return res.pinned, res.err
	case <-ctx.Done():
		// The pin may still land: the key is then pinned as it would have
		// been; the next session finds it.
		return false, ctx.Err()
	}
}

func (s *Store) writePins() {
	b := &s.pins
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxPinBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := append([]*pinRequest(nil), b.queue[:n]...)
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.mu.Unlock()

		// Not the callers' contexts: one caller giving up must not fail
		// the others' pins.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		pinned, err := s.pinBatch(ctx, batch)
		cancel()
		for _, r := range batch {
			r.done <- pinResult{pinned: pinned[r], err: err}
		}
	}
}

// pinBatch inserts the batch's keys as pinned where the device has no row
// that conflicts (ON CONFLICT DO NOTHING: the (device, fingerprint) key and
// the one-pinned-key index) and audits those, in one transaction.
func (s *Store) pinBatch(ctx context.Context, batch []*pinRequest) (map[*pinRequest]bool, error) {
	n := len(batch)
	names, types, fps, addrs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	wires := make([][]byte, n)
	for i, r := range batch {
		names[i], types[i], fps[i], addrs[i] = r.device, r.key.Type(), ssh.FingerprintSHA256(r.key), r.addr
		wires[i] = r.key.Marshal()
	}
	pinned := map[*pinRequest]bool{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		clear(pinned)
		rows, err := tx.Query(ctx, `
			WITH ins AS (
				INSERT INTO host_keys (device_id, key_type, public_key, fingerprint, state, address, pinned_by, pinned_at)
				SELECT d.id, x.key_type, x.wire, x.fp, 'pinned', x.addr, 'tofu', now()
				FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[]) AS x (name, key_type, wire, fp, addr)
				JOIN devices d ON d.name = x.name
				ON CONFLICT DO NOTHING
				RETURNING device_id, fingerprint)
			SELECT d.name, ins.fingerprint FROM ins JOIN devices d ON d.id = ins.device_id`,
			names, types, wires, fps, addrs)
		if err != nil {
			return err
		}
		done := map[[2]string]bool{}
		for rows.Next() {
			var name, fp string
			if err := rows.Scan(&name, &fp); err != nil {
				rows.Close()
				return err
			}
			done[[2]string{name, fp}] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var events []audit.Event
		for i, r := range batch {
			k := [2]string{r.device, fps[i]}
			if !done[k] {
				continue
			}
			pinned[r] = true
			delete(done, k) // the same device twice in a batch is audited once
			events = append(events, audit.Event{Actor: SystemActor, Action: audit.ActionHostKeyPin,
				TargetKind: audit.TargetDevice, Target: r.device, Details: map[string]any{"policy": PolicyTOFU,
					"fingerprint": fps[i], "key_type": types[i], "address": r.addr}})
		}
		return audit.RecordMany(ctx, tx, events)
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: pin %d host keys on first use: %w", n, err)
	}
	if len(pinned) > 0 {
		s.log.Info("host keys pinned on first use", zap.Int("devices", len(pinned)))
	}
	return pinned, nil
}
