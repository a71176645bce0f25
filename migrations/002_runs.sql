-- Runs (a diagnose or a sweep over a frozen set of devices), one result row
-- per device per run, transcripts kept apart so that result queries stay
-- small, and the latest health per device for `fleetctl status`.

-- +goose Up
CREATE TABLE runs (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('diagnose', 'sweep')),
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'completed', 'cancelled')),
    requested_by text NOT NULL,
    selector     jsonb NOT NULL DEFAULT '{}',
    checks       text[] NOT NULL DEFAULT '{}',
    schedule     text,
    total        int NOT NULL CHECK (total >= 0),
    done         int NOT NULL DEFAULT 0,
    healthy      int NOT NULL DEFAULT 0,
    unhealthy    int NOT NULL DEFAULT 0,
    errors       int NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
CREATE INDEX runs_created_at_idx ON runs (created_at DESC);
CREATE INDEX runs_schedule_idx ON runs (schedule, created_at DESC) WHERE schedule IS NOT NULL;

-- The device list is frozen when the run is created: a row per device in
-- state 'pending'; a worker turns it 'done' exactly once (the UPDATE is
-- guarded by state = 'pending'), which is what makes a retried or rescued
-- job harmless.
CREATE TABLE run_devices (
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    device_id   uuid NOT NULL,
    device      text NOT NULL,
    site        text NOT NULL,
    kind        text NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    health      text CHECK (health IN ('healthy', 'unhealthy', 'error')),
    diagnoses   text[] NOT NULL DEFAULT '{}',
    recommended text NOT NULL DEFAULT '',
    error       text NOT NULL DEFAULT '',
    checks      jsonb NOT NULL DEFAULT '[]',
    attempts    int NOT NULL DEFAULT 0,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (run_id, device_id)
);
CREATE INDEX run_devices_device_idx ON run_devices (device_id, finished_at DESC);
CREATE INDEX run_devices_run_device_name_idx ON run_devices (run_id, device);

CREATE TABLE run_transcripts (
    run_id     uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    device_id  uuid NOT NULL,
    transcript text NOT NULL,
    PRIMARY KEY (run_id, device_id)
);

-- Latest known health per device; written with each result, only if newer.
CREATE TABLE device_status (
    device_id   uuid PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    run_id      uuid NOT NULL,
    health      text NOT NULL,
    diagnoses   text[] NOT NULL DEFAULT '{}',
    recommended text NOT NULL DEFAULT '',
    error       text NOT NULL DEFAULT '',
    checked_at  timestamptz NOT NULL
);
CREATE INDEX device_status_diagnoses_idx ON device_status USING gin (diagnoses);
CREATE INDEX device_status_health_idx ON device_status (health);

-- +goose Down
DROP TABLE device_status;
DROP TABLE run_transcripts;
DROP TABLE run_devices;
DROP TABLE runs;
