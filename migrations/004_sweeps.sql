-- Sweep schedules (synced from config at start, enabled/disabled at run
-- time) and the report of each finished sweep: its diff against the
-- previous sweep of the same selector, the remediation requests it opened
-- and whether its notification was sent (pkg/sweep).

-- +goose Up
CREATE TABLE sweep_schedules (
    name          text PRIMARY KEY,
    cron          text NOT NULL,
    timezone      text NOT NULL,
    selector      jsonb NOT NULL,
    create_remediation_requests boolean NOT NULL DEFAULT false,
    -- enabled is what is in force; config_enabled is what the config said
    -- at the last sync. A run-time enable/disable survives restarts until
    -- the config itself changes its value: the latest decision wins.
    enabled        boolean NOT NULL DEFAULT true,
    config_enabled boolean NOT NULL DEFAULT true,
    enabled_by     text NOT NULL DEFAULT 'config',
    enabled_at     timestamptz NOT NULL DEFAULT now(),
    -- Slots (cron times) before active_since are never "missed": a schedule
    -- that is new, re-enabled or given a new cron does not catch up on
    -- nights it was not meant to run.
    active_since  timestamptz NOT NULL DEFAULT now(),
    -- The slot (cron time) of the last sweep started, or skipped because it
    -- could not start; a slot is handled once.
    last_slot     timestamptz,
    last_run_id   uuid,  -- not a foreign key: runs may be pruned
    last_run_at   timestamptz,
    last_error    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per finished sweep. Inserting it is what makes the report (and
-- its notification) happen once, whichever replica finishes the run.
CREATE TABLE sweep_reports (
    run_id          uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    schedule        text NOT NULL DEFAULT '',
    previous_run_id uuid,
    diff            jsonb NOT NULL,
    -- Requests are created at most once: the claim is committed before the
    -- first one is.
    requests_claimed      boolean NOT NULL DEFAULT false,
    remediation_requests  uuid[] NOT NULL DEFAULT '{}',
    requests_error        text NOT NULL DEFAULT '',
    notified_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The diff looks up the previous run of the same kind and selector.
CREATE INDEX runs_kind_selector_idx ON runs (kind, selector, created_at DESC);

-- +goose Down
DROP INDEX runs_kind_selector_idx;
DROP TABLE sweep_reports;
DROP TABLE sweep_schedules;
