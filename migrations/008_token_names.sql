-- Token names are identities: the actor of audit events, the requester and
-- the approver of remediations, compared case-insensitively by the
-- two-person rule. So a live name is unique whatever its case ("Lead1" and
-- "lead1" are one person), and the names fleetd itself acts under are
-- reserved so that no token can pass for the system.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE dup text;
BEGIN
    SELECT string_agg(names, '; ') INTO dup FROM (
        SELECT string_agg(name, ', ' ORDER BY name) AS names FROM api_tokens
        WHERE revoked_at IS NULL GROUP BY lower(name) HAVING count(*) > 1) d;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'live API tokens whose names differ only in case: %; revoke all but one of each (fleetd token revoke NAME) and migrate again', dup;
    END IF;
END $$;
-- +goose StatementEnd
DROP INDEX api_tokens_live_name_idx;
CREATE UNIQUE INDEX api_tokens_live_name_idx ON api_tokens (lower(name)) WHERE revoked_at IS NULL;
-- NOT VALID: a token created before this migration keeps working (its
-- holder can still be revoked); no new one can take a reserved name.
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_name_not_reserved
    CHECK (lower(name) NOT IN ('fleetd', 'system')) NOT VALID;

-- +goose Down
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_name_not_reserved;
DROP INDEX api_tokens_live_name_idx;
CREATE UNIQUE INDEX api_tokens_live_name_idx ON api_tokens (name) WHERE revoked_at IS NULL;
