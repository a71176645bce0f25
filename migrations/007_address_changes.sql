-- Who set each device's current address, and when: accepting a host key
-- that replaces a pinned one, or the first key of a device whose address
-- changed after it was added, needs an approver other than that person
-- (two-person rule, pkg/inventory AcceptHostKeys). Set by add, import and
-- update whenever the address is written.

-- +goose Up
ALTER TABLE devices
    ADD COLUMN address_set_by text,
    ADD COLUMN address_set_at timestamptz;
-- Devices from before this migration: when is unknown past their creation,
-- who is unknown (NULL bars nobody; the approver role is still required).
UPDATE devices SET address_set_at = created_at;
ALTER TABLE devices ALTER COLUMN address_set_at SET NOT NULL,
    ALTER COLUMN address_set_at SET DEFAULT now();

-- +goose Down
ALTER TABLE devices DROP COLUMN address_set_at, DROP COLUMN address_set_by;
