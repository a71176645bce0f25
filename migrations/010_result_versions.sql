-- The software version a device's login banner named during its check
-- (pkg/diagnose.ParseSoftwareVersion), kept with the result: the upgrade
-- incident groups devices by version, and inventories seldom carry one.
-- On the results side so that the inventory's own version (an FMC sync's)
-- stays the inventory's.

-- +goose Up
ALTER TABLE run_devices ADD COLUMN sw_version text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE run_devices DROP COLUMN sw_version;
