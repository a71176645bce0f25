package runs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// SessionLocks keeps a device from having two sessions of the same run at
// once (issue 10 §3): a job River rescued, or that Liveness released from a
// replica it took for dead, must not open a second session while the first
// attempt's may still be open.
//
// The primary guarantee is the timeout ordering (internal/app
// DeviceJobTimeouts): the runner closes a session's connection at
// runner.session_timeout whatever the device does, a device job's context
// ends at that plus a margin, and River rescues a job only after a longer
// rescue_after. These locks are the belt and braces for what that ordering
// cannot see: a replica cut off from the database (its heartbeats stop, so
// its jobs are released, while its sessions run on) and any job started twice.
//
// Cost, at 10,000 devices per run: one PostgreSQL session-level advisory
// lock per running device job, all held on ONE connection per process,
// taken out of the pool (a connection per job would need as many connections
// as diagnose workers; a transaction-scoped lock would end with its query,
// long before the session). Taking and releasing a lock is one round trip
// each on that connection. PostgreSQL's advisory locks are re-entrant per
// connection, so an in-process map stops a second job of this process on the
// same key before the database is asked. If the connection is lost, its locks
// go with it; the map still guards this process, the timeout ordering still
// bounds the old sessions, and the next call opens a new connection.
type SessionLocks struct {
	pool *pgxpool.Pool
	log  *zap.Logger

	mu   sync.Mutex
	conn *pgx.Conn
	gen  int // connection generation: a lock is released on the connection it was taken on
	held map[[32]byte]int
}

// NewSessionLocks returns the process's lock table; its connection is opened
// on first use.
func NewSessionLocks(pool *pgxpool.Pool, log *zap.Logger) *SessionLocks {
	return &SessionLocks{pool: pool, log: log, held: map[[32]byte]int{}}
}

// lockKey is the in-process key and, from its first 8 bytes, the advisory
// lock's bigint (a namespace of its own: the two-int4 locks of pkg/remediate
// never conflict with it).
func lockKey(run, device uuid.UUID) [32]byte {
	return sha256.Sum256(append(append([]byte("fleetd-run-device-session\x00"), run[:]...), device[:]...))
}

// TryLock takes the (run, device) lock without waiting. ok is false when a
// session of that run on that device is open here or in another process.
// unlock must be called once the session is over.
func (l *SessionLocks) TryLock(ctx context.Context, run, device uuid.UUID) (unlock func(), ok bool, err error) {
	k := lockKey(run, device)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, busy := l.held[k]; busy {
		return nil, false, nil
	}
	if l.conn == nil || l.conn.IsClosed() {
		pc, err := l.pool.Acquire(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("session lock connection: %w", err)
		}
		l.conn = pc.Hijack() // ours alone from now: the locks live on it
		l.gen++
	}
	var got bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(binary.BigEndian.Uint64(k[:8]))).Scan(&got); err != nil {
		l.dropConnLocked()
		return nil, false, fmt.Errorf("take session lock: %w", err)
	}
	if !got {
		return nil, false, nil
	}
	l.held[k] = l.gen
	var once sync.Once
	return func() { once.Do(func() { l.unlock(k) }) }, true, nil
}

func (l *SessionLocks) unlock(k [32]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	gen := l.held[k]
	delete(l.held, k)
	if gen != l.gen || l.conn == nil {
		return // taken on a connection since lost: the lock went with it
	}
	// Not the job's context: a job cancelled at shutdown still releases.
	if _, err := l.conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(binary.BigEndian.Uint64(k[:8]))); err != nil {
		l.log.Warn("releasing a device session lock failed; closing its connection, which releases them all", zap.Error(err))
		l.dropConnLocked()
	}
}

// dropConnLocked closes the lock connection (its locks are released with
// it). Locks still in the map were taken on it and are not released again.
func (l *SessionLocks) dropConnLocked() {
	if l.conn != nil {
		_ = l.conn.Close(context.Background())
		l.conn = nil
	}
}

// Close releases every lock by closing the connection.
func (l *SessionLocks) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropConnLocked()
}
