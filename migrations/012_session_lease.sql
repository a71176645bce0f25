-- A device job's session lease (issue 15), replacing the per (run, device)
-- advisory session lock of issue 10 §3 that cost two round trips per device
-- on one shared connection: the job's load query takes the lease in the
-- same statement (pkg/runs sessionlease.go). A copy of the job (rescued by
-- River, or released from a replica taken for dead) finds it held and
-- waits instead of opening a second session on the device. It lasts the
-- job's timeout plus a margin by the database's clock, so a replica cut off
-- from the database keeps it until its session has certainly ended;
-- recording the result, or the job giving up, deletes it.
--
-- UNLOGGED: a lease is worth nothing after a PostgreSQL crash (every
-- session of the old server's clients is as uncertain as the lock
-- connection the advisory locks lived on, and the timeout ordering still
-- holds), and a write to a logged table would make each device's load
-- query wait for a WAL flush at commit: measured with pgbench, the lease as
-- a column of run_devices took 1.2–2.3 ms a device job, as an unlogged row
-- 0.25 ms, what the lock and the plain load took together.

-- +goose Up
CREATE UNLOGGED TABLE run_leases (
    run_id    uuid NOT NULL,
    device_id uuid NOT NULL,
    token     uuid NOT NULL,        -- the attempt holding it
    holder    text NOT NULL,        -- its process's job-queue client id (jobs.client_id)
    until     timestamptz NOT NULL, -- by the database's clock
    PRIMARY KEY (run_id, device_id)
);

-- +goose Down
DROP TABLE run_leases;
