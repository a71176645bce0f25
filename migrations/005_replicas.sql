-- Liveness of fleetd processes sharing the job queue: each writes its
-- heartbeat here, so that the others can hand a dead process's device jobs
-- to live workers in seconds instead of waiting for River's stuck-job rescue.

-- +goose Up
CREATE TABLE fleetd_replicas (
    client_id  text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE fleetd_replicas;
