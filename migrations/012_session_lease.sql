-- A device job's session lease (issue 15), replacing the per (run, device)
-- advisory session lock of issue 10 §3 that cost two round trips per device
-- on one shared connection: the job's load query takes the lease in the
-- same statement (pkg/runs worker.go). A copy of the job (rescued by River,
-- or released from a replica taken for dead) finds it held and waits
-- instead of opening a second session on the device. It lasts the job's
-- timeout plus a margin by the database's clock, so a replica cut off from
-- the database keeps it until its session has certainly ended; recording
-- the result, or the job giving up, clears it. Nullable columns without a
-- default: adding them rewrites nothing.
--
-- Taking the lease updates the pending row, which touches no indexed
-- column: with room left in its page the update is HOT (no new index
-- entries). A pending row is ~120 bytes and the result that replaces it
-- ~2 kB (checks), so the result moves the row to another page anyway:
-- filling pages only half at insert costs no space in the end and made
-- most lease updates HOT (of a 10,000-device run's, 27 % were at the
-- default fillfactor of 100).

-- +goose Up
ALTER TABLE run_devices ADD COLUMN lease_until timestamptz, ADD COLUMN lease_token uuid;
ALTER TABLE run_devices SET (fillfactor = 50);

-- +goose Down
ALTER TABLE run_devices RESET (fillfactor);
ALTER TABLE run_devices DROP COLUMN lease_until, DROP COLUMN lease_token;
