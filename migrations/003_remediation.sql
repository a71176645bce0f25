-- Remediation requests (two-person approval), the device list frozen into
-- each request, and the per-device step journal that makes execution crash
-- safe (pkg/remediate).

-- +goose Up
CREATE TABLE remediation_requests (
    id                uuid PRIMARY KEY,
    action            text NOT NULL CHECK (action IN ('restart-connector', 'reboot')),
    state             text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'cancelled',
                                                     'scheduled', 'running', 'succeeded', 'failed')),
    requested_by      text NOT NULL,
    reason            text NOT NULL DEFAULT '',
    selector          jsonb NOT NULL DEFAULT '{}',
    schedule          text NOT NULL CHECK (schedule IN ('now', 'at', 'window')),
    run_at            timestamptz,            -- the --at time (schedule 'at')
    not_before        timestamptz,            -- earliest start: run_at, or the window start it waits for
    schedule_note     text NOT NULL DEFAULT '', -- why it waits (e.g. a missed window)
    batch_size        int NOT NULL CHECK (batch_size >= 1),
    failure_threshold int NOT NULL CHECK (failure_threshold >= 0),
    -- SHA-256 of the canonical parameters at creation; approved_hash is the
    -- one the approver approved, which the executing job recomputes.
    params_hash       text NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    approved_by       text,
    approved_at       timestamptz,
    approval_comment  text NOT NULL DEFAULT '',
    approved_hash     text,
    rejected_by       text,
    reject_reason     text NOT NULL DEFAULT '',
    cancelled_by      text,
    cancel_reason     text NOT NULL DEFAULT '',
    decided_at        timestamptz,            -- rejected, expired or cancelled at
    job_id            bigint,
    started_at        timestamptz,
    finished_at       timestamptz,
    result            jsonb,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (approved_by IS NULL OR approved_by <> requested_by)
);
CREATE INDEX remediation_requests_state_idx ON remediation_requests (state, created_at DESC);
CREATE INDEX remediation_requests_created_idx ON remediation_requests (created_at DESC);
CREATE INDEX remediation_requests_pending_expiry_idx ON remediation_requests (expires_at) WHERE state = 'pending';

-- The device list, frozen at request time, in execution order (position 0
-- is the canary, batch 0). device_id is not a foreign key: a request keeps
-- its record even if the device later leaves the inventory.
CREATE TABLE remediation_devices (
    request_id      uuid NOT NULL REFERENCES remediation_requests (id) ON DELETE CASCADE,
    device_id       uuid NOT NULL,
    device          text NOT NULL,
    site            text NOT NULL,
    kind            text NOT NULL,
    position        int NOT NULL,
    batch           int NOT NULL,
    outcome         text NOT NULL DEFAULT 'pending'
                    CHECK (outcome IN ('pending', 'running', 'succeeded', 'skipped', 'failed', 'not-run')),
    step            text NOT NULL DEFAULT '', -- latest journalled step
    diagnoses_before text[] NOT NULL DEFAULT '{}',
    diagnoses_after  text[] NOT NULL DEFAULT '{}',
    message         text NOT NULL DEFAULT '',
    error           text NOT NULL DEFAULT '',
    error_class     text NOT NULL DEFAULT '',
    recommended     text NOT NULL DEFAULT '',
    started_at      timestamptz,
    finished_at     timestamptz,
    PRIMARY KEY (request_id, device_id),
    UNIQUE (request_id, position)
);
CREATE INDEX remediation_devices_device_idx ON remediation_devices (device_id);

-- Append-only journal: one row per step per device, written before a
-- device-changing command is sent and after its effect is observed.
CREATE TABLE remediation_steps (
    id         bigserial PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES remediation_requests (id) ON DELETE CASCADE,
    device_id  uuid NOT NULL,
    step       text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    job_id     bigint,
    attempt    int NOT NULL DEFAULT 0,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX remediation_steps_request_idx ON remediation_steps (request_id, device_id, id);

-- +goose Down
DROP TABLE remediation_steps;
DROP TABLE remediation_devices;
DROP TABLE remediation_requests;
