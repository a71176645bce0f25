package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetd/fleetd/pkg/audit"
)

// Web console sessions. A person pastes an API token once; the console
// exchanges it for a random session id that lives in a cookie. A session
// is its token: the role is read from the token at every request and
// revoking the token ends the session. Only a hash of the session id is
// stored, so a database dump holds no usable session.

// ErrNoSession covers unknown, expired and revoked sessions alike.
var ErrNoSession = errors.New("no such session, or it expired")

// SessionConfig bounds a session's life.
type SessionConfig struct {
	// Idle ends a session not used for this long.
	Idle time.Duration
	// MaxAge ends a session this long after sign-in, used or not.
	MaxAge time.Duration
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time
}

// Defaults of SessionConfig (and of ui.session_idle, ui.session_max_age).
const (
	DefaultSessionIdle   = 30 * time.Minute
	DefaultSessionMaxAge = 12 * time.Hour
)

// WithDefaults fills zero fields.
func (c SessionConfig) WithDefaults() SessionConfig {
	if c.Idle <= 0 {
		c.Idle = DefaultSessionIdle
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultSessionMaxAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Session is a signed-in console user.
type Session struct {
	Identity
	ExpiresAt time.Time // absolute expiry
}

// Sessions stores console sessions in PostgreSQL.
type Sessions struct {
	pool  *pgxpool.Pool
	store *Store
	cfg   SessionConfig
}

// NewSessions returns the session store over pool; tokens authenticates the
// token pasted at sign-in.
func NewSessions(pool *pgxpool.Pool, tokens *Store, cfg SessionConfig) *Sessions {
	return &Sessions{pool: pool, store: tokens, cfg: cfg.WithDefaults()}
}

const sessionBytes = 32

func hashSessionID(id string) []byte {
	h := sha256.Sum256([]byte("session\x00" + id))
	return h[:]
}

// Start signs in with an API token: it returns a new session id (shown
// once, for the cookie) and the session. An unusable token is
// ErrInvalidToken.
func (s *Sessions) Start(ctx context.Context, token string) (string, Session, error) {
	id, err := s.store.Authenticate(ctx, token)
	if err != nil {
		return "", Session{}, err
	}
	b := make([]byte, sessionBytes)
	if _, err := rand.Read(b); err != nil {
		return "", Session{}, fmt.Errorf("auth: random session id: %w", err)
	}
	sid := base64.RawURLEncoding.EncodeToString(b)
	now := s.cfg.Now()
	sess := Session{Identity: id, ExpiresAt: now.Add(s.cfg.MaxAge)}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Sweep the dead sessions here: sign-ins are rare, so this is cheap
		// and no janitor is needed.
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2`,
			now, now.Add(-s.cfg.Idle)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO console_sessions (id_hash, token_id, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $3, $4)`, hashSessionID(sid), id.TokenID, now, sess.ExpiresAt); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Actor: id.Name, Action: audit.ActionSessionStart,
			TargetKind: audit.TargetToken, Target: id.Name, Details: map[string]any{"role": id.Role.String()}})
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("auth: start session: %w", err)
	}
	return sid, sess, nil
}

// Lookup returns the live session sid and records its use (which moves
// its idle expiry). A session past either expiry, or whose token was
// revoked, is ErrNoSession.
func (s *Sessions) Lookup(ctx context.Context, sid string) (Session, error) {
	if sid == "" || len(sid) > 64 {
		return Session{}, ErrNoSession
	}
	now := s.cfg.Now()
	var sess Session
	var role string
	err := s.pool.QueryRow(ctx, `UPDATE console_sessions s SET last_seen_at = $2
		FROM api_tokens t
		WHERE s.id_hash = $1 AND t.id = s.token_id AND t.revoked_at IS NULL
		  AND s.expires_at > $2 AND s.last_seen_at > $3
		RETURNING t.id::text, t.name, t.role, s.expires_at`, hashSessionID(sid), now, now.Add(-s.cfg.Idle)).
		Scan(&sess.TokenID, &sess.Name, &role, &sess.ExpiresAt)
	if err := scannedIdentity(err, &sess.Identity, role, ErrNoSession, "session"); err != nil {
		return Session{}, err
	}
	return sess, nil
}

// End signs out: the session is deleted (a no-op for an unknown one).
func (s *Sessions) End(ctx context.Context, sid string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `DELETE FROM console_sessions s USING api_tokens t
			WHERE s.id_hash = $1 AND t.id = s.token_id RETURNING t.name`, hashSessionID(sid)).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("auth: end session: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{Actor: name, Action: audit.ActionSessionEnd,
			TargetKind: audit.TargetToken, Target: name})
	})
}
