-- The FMC REST API (issue 12).
--
-- devices: api_address is where an FMC's REST API listens when it is not
-- the device's address on port 443; model and sw_version are what the
-- managing FMC's devicerecords say; synced_from names the FMC whose
-- devicerecords last wrote the device ('' = added or imported by hand):
-- `device sync --prune` removes only devices synced from that FMC.
--
-- host_keys also holds FMC REST certificates (kind 'tls': public_key is the
-- certificate's DER, fingerprint SHA256 of it), pinned and accepted exactly
-- like SSH host keys. A device has at most one pinned key of each kind.

-- +goose Up
ALTER TABLE devices
    ADD COLUMN api_address text NOT NULL DEFAULT '',
    ADD COLUMN model       text NOT NULL DEFAULT '',
    ADD COLUMN sw_version  text NOT NULL DEFAULT '',
    ADD COLUMN synced_from text NOT NULL DEFAULT '';
CREATE INDEX devices_synced_from_idx ON devices (synced_from) WHERE synced_from <> '';

ALTER TABLE host_keys ADD COLUMN kind text NOT NULL DEFAULT 'ssh' CHECK (kind IN ('ssh', 'tls'));
DROP INDEX host_keys_one_pinned_idx;
CREATE UNIQUE INDEX host_keys_one_pinned_idx ON host_keys (device_id, kind) WHERE state = 'pinned';

-- +goose Down
DELETE FROM host_keys WHERE kind = 'tls';
DROP INDEX host_keys_one_pinned_idx;
CREATE UNIQUE INDEX host_keys_one_pinned_idx ON host_keys (device_id) WHERE state = 'pinned';
ALTER TABLE host_keys DROP COLUMN kind;
DROP INDEX devices_synced_from_idx;
ALTER TABLE devices DROP COLUMN synced_from, DROP COLUMN sw_version, DROP COLUMN model, DROP COLUMN api_address;
