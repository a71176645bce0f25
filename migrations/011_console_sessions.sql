-- Web console sessions (internal/console, stored by pkg/auth): an API token
-- pasted once at sign-in is exchanged for a random session id kept in an
-- HttpOnly cookie. Only the SHA-256 of the session id is stored, like a
-- token's. A session acts as its token: revoking the token ends it, and its
-- role is read from the token at every request.

-- +goose Up
CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    token_id     uuid NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- Absolute expiry; the idle timeout is compared with last_seen_at.
    expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
