-- The (run_id, device) index goes (issue 15). While a run is being worked,
-- its id is in no statistics yet (ANALYZE, by hand or autovacuum, saw the
-- table before the run existed), so the planner estimates "run_id = $1"
-- at one row, and any index starting with run_id looks as good as the
-- primary key. A device job's probe of (run_id, device_id) was then planned
-- on this index: a scan of the run's 10,000 entries filtered on device_id,
-- 6,400 buffers for a batch of 8 devices instead of 212 (pg_stat_statements
-- over a 10,000-device run after an ANALYZE: PostgreSQL's CPU per device
-- 1.8 ms instead of 0.3 ms). What the index served — a run's devices in
-- name order, one device of a run by name — is a primary-key range scan
-- of the run and a sort (10 ms for 10,000 devices), and every result write
-- and run start updates one index fewer.

-- +goose Up
DROP INDEX IF EXISTS run_devices_run_device_name_idx;

-- +goose Down
CREATE INDEX IF NOT EXISTS run_devices_run_device_name_idx ON run_devices (run_id, device);
