-- 1. run_devices.longest_command_ms: the longest single command of the
-- device's session (runner.Timings.Longest), by which the next run starts
-- its slow devices first (pkg/runs longestFirst). The session's length,
-- used before, is mostly CPU queueing when a run saturates the machine:
-- at time scale 0.1 the devices with a blocked egress had the *shortest*
-- sessions (1.9 s against 4.5 s; they ran in the first wave), so the next
-- run started them last and ended 10 s after the rest (issue 15).
--
-- 2. The two large values of a device result, compressed with lz4 instead of
-- PostgreSQL's default pglz (issue 15). pg_stat_statements over a
-- 10,000-device run put the recorder's transcript COPY first among all
-- statements (0.19 ms of PostgreSQL CPU a device, a third of its share)
-- and the result write second: most of both is pglz compressing a 12 kB
-- transcript and 3 kB of checks. Measured on those values: pglz 0.079 ms a
-- transcript and 0.029 ms a checks document, lz4 0.017 and 0.008 ms, for
-- the same bytes stored (transcripts 38 vs 39 MB per 10,000, checks 19 vs
-- 21 MB). Only new values are written with lz4; old ones stay readable.
-- A server built without lz4 (it is optional at build time) keeps pglz.
--
-- 3. run_transcripts keeps a compressed transcript (~3 kB) in its row
-- (toast_tuple_target 8160) instead of moving it to the TOAST table, which
-- is only needed above a page: one heap and one index insert less a
-- device (inserts −12 %, reading 10,000 transcripts 2x faster, same size).

-- +goose Up
ALTER TABLE run_devices ADD COLUMN longest_command_ms integer;

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE run_transcripts ALTER COLUMN transcript SET COMPRESSION lz4;
        ALTER TABLE run_devices ALTER COLUMN checks SET COMPRESSION lz4;
    END IF;
END
$$;
-- +goose StatementEnd
ALTER TABLE run_transcripts SET (toast_tuple_target = 8160);

-- +goose Down
ALTER TABLE run_transcripts RESET (toast_tuple_target);
ALTER TABLE run_devices DROP COLUMN longest_command_ms;
ALTER TABLE run_transcripts ALTER COLUMN transcript SET COMPRESSION pglz;
ALTER TABLE run_devices ALTER COLUMN checks SET COMPRESSION pglz;
