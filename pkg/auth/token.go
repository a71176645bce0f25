package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetd/fleetd/pkg/audit"
)

// TokenPrefix marks fleetd tokens so that secret scanners and people can
// recognise one pasted where it should not be.
const TokenPrefix = "fleetd_"

const (
	tokenBytes = 32
	tokenLen   = len(TokenPrefix) + 43 // base64url of 32 bytes, unpadded
	// lastUsedEvery bounds writes: an active token updates last_used_at at
	// most once a minute instead of on every request.
	lastUsedEvery = time.Minute
)

// Errors.
var (
	// ErrInvalidToken covers missing, malformed, unknown and revoked tokens
	// alike: the API answers 401 without saying which.
	ErrInvalidToken = errors.New("invalid or revoked token")
	ErrNameTaken    = errors.New("a live token with this name (in any letter case) exists")
	ErrNotFound     = errors.New("no live token with this name")
	ErrNameReserved = errors.New("the name is reserved for fleetd itself")
)

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$`)

// ReservedNames are the actors fleetd records for its own work (audit
// events, remediation steps): a token with one of them could pass its
// requests off as the system's. Compared case-insensitively.
var ReservedNames = []string{"fleetd", "system"}

// SameName reports whether two token names denote the same identity. Names
// are unique case-insensitively (migration 008), so every identity
// comparison (the two-person rule above all) must use this, never ==.
func SameName(a, b string) bool { return strings.EqualFold(a, b) }

// ValidateName checks a new token's name: its shape, and that it is not
// reserved.
func ValidateName(name string) error {
	if !tokenNameRE.MatchString(name) {
		return fmt.Errorf("auth: bad token name %q (letters, digits, ., _, @ and -; at most 63)", name)
	}
	for _, r := range ReservedNames {
		if SameName(name, r) {
			return fmt.Errorf("auth: token name %q: %w", name, ErrNameReserved)
		}
	}
	return nil
}

// Identity is who an authenticated request is. Name is recorded as the actor
// of audit events and as requester/approver of remediations.
type Identity struct {
	TokenID string `json:"token_id"`
	Name    string `json:"name"`
	Role    Role   `json:"role"`
}

// Token describes a token without its secret.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// GenerateToken returns a new random token: TokenPrefix + base64url of 32 bytes.
func GenerateToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the SHA-256 of a token, the only form stored. A fast hash
// is right here: the token has 256 bits of entropy, so there is nothing to
// brute-force, and lookup by hash needs no constant-time compare.
func HashToken(plaintext string) []byte {
	h := sha256.Sum256([]byte(plaintext))
	return h[:]
}

// Store keeps tokens in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Create makes a token and returns its plaintext, which is never available again.
func (s *Store) Create(ctx context.Context, actor, name string, role Role) (string, Token, error) {
	if err := ValidateName(name); err != nil {
		return "", Token{}, err
	}
	if !role.Valid() {
		return "", Token{}, fmt.Errorf("auth: invalid role %d", int(role))
	}
	plaintext, err := GenerateToken()
	if err != nil {
		return "", Token{}, err
	}
	tok := Token{Name: name, Role: role, CreatedBy: actor}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO api_tokens (name, role, token_hash, created_by) VALUES ($1, $2, $3, $4)
			RETURNING id::text, created_at`, name, role.String(), HashToken(plaintext), actor,
		).Scan(&tok.ID, &tok.CreatedAt)
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "api_tokens_live_name_idx" {
				return fmt.Errorf("auth: token %q: %w", name, ErrNameTaken)
			}
			if errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == "api_tokens_name_not_reserved" {
				return fmt.Errorf("auth: token name %q: %w", name, ErrNameReserved)
			}
			return fmt.Errorf("auth: create token %q: %w", name, err)
		}
		return audit.Record(ctx, tx, audit.Event{Actor: actor, Action: audit.ActionTokenCreate, TargetKind: audit.TargetToken,
			Target: name, Details: map[string]any{"role": role.String(), "token_id": tok.ID}})
	})
	if err != nil {
		return "", Token{}, err
	}
	return plaintext, tok, nil
}

// Authenticate returns the identity of a live token.
func (s *Store) Authenticate(ctx context.Context, plaintext string) (Identity, error) {
	// Cheap shape check first: garbage never reaches the database.
	if len(plaintext) != tokenLen || !strings.HasPrefix(plaintext, TokenPrefix) {
		return Identity{}, ErrInvalidToken
	}
	var (
		id       Identity
		roleName string
		lastUsed *time.Time
	)
	err := s.pool.QueryRow(ctx, `
		SELECT id::text, name, role, last_used_at FROM api_tokens
		WHERE token_hash = $1 AND revoked_at IS NULL`, HashToken(plaintext),
	).Scan(&id.TokenID, &id.Name, &roleName, &lastUsed)
	if err := scannedIdentity(err, &id, roleName, ErrInvalidToken, "authenticate"); err != nil {
		return Identity{}, err
	}
	if lastUsed == nil || time.Since(*lastUsed) > lastUsedEvery {
		// Best effort: a failed bookkeeping write must not fail the request.
		_, _ = s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, id.TokenID)
	}
	return id, nil
}

// scannedIdentity finishes reading an identity with one query (a token's,
// a session's): no row is notFound, and the stored role name is parsed.
func scannedIdentity(err error, id *Identity, role string, notFound error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("auth: %s: %w", what, err)
	}
	if id.Role, err = ParseRole(role); err != nil {
		return fmt.Errorf("auth: %s: token %s: %w", what, id.Name, err)
	}
	return nil
}

// Revoke revokes the live token called name (in any letter case: live
// names are unique case-insensitively).
func (s *Store) Revoke(ctx context.Context, actor, name string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `
			UPDATE api_tokens SET revoked_at = now() WHERE lower(name) = lower($1) AND revoked_at IS NULL RETURNING id::text`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("auth: token %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("auth: revoke %q: %w", name, err)
		}
		return audit.Record(ctx, tx, audit.Event{Actor: actor, Action: audit.ActionTokenRevoke, TargetKind: audit.TargetToken,
			Target: name, Details: map[string]any{"token_id": id}})
	})
}

// List returns every token, live and revoked, by name then creation.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id::text, name, role, created_by, created_at, last_used_at, revoked_at
		FROM api_tokens ORDER BY name, created_at`)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	toks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		var t Token
		var role string
		if err := r.Scan(&t.ID, &t.Name, &role, &t.CreatedBy, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt); err != nil {
			return t, err
		}
		var err error
		t.Role, err = ParseRole(role)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	return toks, nil
}
