-- Foundation: sites and credential references (synced from config), devices,
-- SSH host keys, API tokens (hashes only) and the audit trail.
-- No secret is ever stored here: credentials are names, tokens are SHA-256 hashes.

-- +goose Up

-- Sites come from fleetd's config (inventory.Store.SyncCatalog); devices point at them.
CREATE TABLE sites (
    name           text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    region         text NOT NULL,
    timezone       text NOT NULL,
    hostkey_policy text NOT NULL DEFAULT 'strict' CHECK (hostkey_policy IN ('strict', 'tofu')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Credential references: the name a device row uses, and where the secret
-- comes from (config key names such as password_env) — never the secret.
CREATE TABLE credentials (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    username   text NOT NULL,
    methods    text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Names reach CLI arguments and logs: no shell metacharacters, no leading dash.
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    kind       text NOT NULL CHECK (kind IN ('fmc', 'ftd')),
    site       text NOT NULL REFERENCES sites (name) ON UPDATE CASCADE,
    address    text NOT NULL CHECK (address <> ''),
    credential text NOT NULL REFERENCES credentials (name) ON UPDATE CASCADE,
    tags       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
    managed_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- `device list --site S [--kind K]`, ordered by name; also serves the FK from sites.
CREATE INDEX devices_site_kind_name_idx ON devices (site, kind, name);
-- `device list --kind K` without a site.
CREATE INDEX devices_kind_name_idx ON devices (kind, name);
-- `device list --tag k=v`: tags @> '{"k":"v"}'.
CREATE INDEX devices_tags_idx ON devices USING gin (tags jsonb_path_ops);
CREATE INDEX devices_credential_idx ON devices (credential);

-- Host keys: at most one pinned key per device; other keys seen for the device
-- are kept as candidates (pending: waiting for `hostkey accept`; mismatch:
-- differs from the pinned key), one row per (device, key).
CREATE TABLE host_keys (
    id          bigserial PRIMARY KEY,
    device_id   uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    key_type    text NOT NULL,
    public_key  bytea NOT NULL, -- SSH wire format (ssh.PublicKey.Marshal)
    fingerprint text NOT NULL CHECK (fingerprint LIKE 'SHA256:%'),
    state       text NOT NULL CHECK (state IN ('pending', 'pinned', 'mismatch')),
    address     text NOT NULL DEFAULT '', -- where the key was last presented
    seen_count  bigint NOT NULL DEFAULT 1,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    pinned_by   text,
    pinned_at   timestamptz,
    UNIQUE (device_id, fingerprint),
    CHECK ((state = 'pinned') = (pinned_at IS NOT NULL))
);
-- The invariant two racing workers rely on: a second pin for a device fails.
CREATE UNIQUE INDEX host_keys_one_pinned_idx ON host_keys (device_id) WHERE state = 'pinned';
-- `hostkey list --state pending|mismatch` (pinned is the bulk; listing all pinned scans).
CREATE INDEX host_keys_state_idx ON host_keys (state, device_id);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$'),
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    token_hash   bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32), -- SHA-256 of the token
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
-- A name identifies one live token (it is the actor in audit events); a
-- revoked token's name may be reused.
CREATE UNIQUE INDEX api_tokens_live_name_idx ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    target_kind text NOT NULL DEFAULT '',
    target      text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'
);
-- Lists are newest first (id DESC) with optional filters.
CREATE INDEX audit_events_target_idx ON audit_events (target_kind, target, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- The audit trail is append-only for fleetd: rewriting history needs a DBA
-- who disables this trigger on purpose.
-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE api_tokens;
DROP TABLE host_keys;
DROP TABLE devices;
DROP TABLE credentials;
DROP TABLE sites;
