#!/usr/bin/env bash
# P4 of docs/design.md with history: `fleetctl status` over N devices
# (default 10,000; promise ≤ 0.3 s) and `fleetctl runs show -o json` of an
# N-device run (≤ 1 s) with 30 nightly runs of N devices in the database, and
# what that history costs in bytes.
#
#   scripts/bench-p4.sh [N]   env: BENCH_RUNS (30 runs of history), BENCH_DIR, BENCH_DB,
#                             BENCH_LISTEN, BENCH_SIM_LISTEN, BENCH_SIM_CONTROL
#
# How the history is built quickly and reproducibly: one real
# `fleetctl diagnose --all` over ftdsim (time scale 0.1, the faults of
# bench-p1) gives every device real checks and a real transcript through
# fleetd's own recorder; SQL then copies that run BENCH_RUNS-1 times, one
# nightly sweep a day back (kind sweep, schedule nightly, timestamps shifted
# by whole days), so that the real run is the newest and device_status points
# at it. VACUUM ANALYZE, then each query is timed through fleetctl (median of
# 5) and EXPLAIN (ANALYZE, BUFFERS) of the SQL fleetd runs for it is written to
# $DIR/explain-*.txt. Figures are printed with their ratio to the promise.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

N=${1:-10000}
RUNS=${BENCH_RUNS:-30}
DIR=${BENCH_DIR:-.bench-p4}
DB=${BENCH_DB:-fleetd_bench_p4}
LISTEN=${BENCH_LISTEN:-127.0.0.1:8094}
SIM_LISTEN=${BENCH_SIM_LISTEN:-127.4.0.1}
SIM_CONTROL=${BENCH_SIM_CONTROL:-127.0.0.1:7094}
PORT=$(sim_port)
FAULTS=$BENCH_P1_FAULTS
bench_setup "$DIR"

ensure_postgres
[ -n "${BENCH_REUSE:-}" ] || recreate_db "$DB"
make --no-print-directory build >/dev/null
psql_db() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d "$DB" "$@"; }

bench_config "$DIR/fleetd.yaml" "$DB" "$LISTEN" 1000 40
# Keep the whole history while it is measured; the default retention is
# applied at the end.
echo 'retention: {runs: 0, transcripts: 0}' >>"$DIR/fleetd.yaml"
export FLEETD_LAB_PASSWORD=Admin123
export FLEETCTL_SERVER=http://$LISTEN
if [ -n "${BENCH_REUSE:-}" ]; then
	# BENCH_REUSE=1: measure the history a previous run of this script left in $DB.
	bench_fleetd "$DIR" fleetd "$LISTEN"
	FLEETCTL_TOKEN=$(./bin/fleetd token create --config "$DIR/fleetd.yaml" --name "bench-$$" --role admin 2>/dev/null)
	export FLEETCTL_TOKEN
	run_id=$(psql_db -tAc "SELECT id FROM runs ORDER BY created_at DESC LIMIT 1")
else
	log "ftdsim: $N devices; fleetd; one real diagnose --all (the template of the history)"
	bench_ftdsim "$DIR" "$N" 0.1 "$FAULTS" "$SIM_LISTEN" "$PORT" "$SIM_CONTROL" 1
	bench_fleetd "$DIR" fleetd "$LISTEN"
	FLEETCTL_TOKEN=$(./bin/fleetd token create --config "$DIR/fleetd.yaml" --name bench --role admin 2>/dev/null)
	export FLEETCTL_TOKEN
	./bin/fleetctl device import "$DIR/fleet.csv" >/dev/null
	t0=$(date +%s.%N)
	./bin/fleetctl diagnose --all -o json >"$DIR/run.json" || true
	printf '   real run: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" >&2
	run_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$DIR/run.json")
	# The simulator is not needed any more; its CPU would only add noise.
	kill "$(cat "$DIR/ftdsim.pid")" 2>/dev/null || true

	log "history: $((RUNS - 1)) nightly sweeps copied from run $run_id"
	t0=$(date +%s.%N)
	psql_db -v run="$run_id" -v runs="$RUNS" <<-'SQL'
	CREATE TEMP TABLE nights AS
	    SELECT gen_random_uuid() AS id, k, k * interval '1 day' AS back FROM generate_series(1, :runs - 1) k;
	INSERT INTO runs (id, kind, status, requested_by, selector, checks, schedule, total, done, healthy,
	                  unhealthy, errors, created_at, started_at, finished_at)
	SELECT n.id, 'sweep', 'completed', 'schedule:nightly', r.selector, r.checks, 'nightly', r.total, r.done,
	       r.healthy, r.unhealthy, r.errors, r.created_at - n.back, r.started_at - n.back, r.finished_at - n.back
	FROM runs r CROSS JOIN nights n WHERE r.id = :'run';
	INSERT INTO run_devices (run_id, device_id, device, site, kind, state, health, diagnoses, recommended, error,
	                         checks, attempts, started_at, finished_at)
	SELECT n.id, d.device_id, d.device, d.site, d.kind, d.state, d.health, d.diagnoses, d.recommended, d.error,
	       d.checks, d.attempts, d.started_at - n.back, d.finished_at - n.back
	FROM run_devices d CROSS JOIN nights n WHERE d.run_id = :'run';
	INSERT INTO run_transcripts (run_id, device_id, transcript)
	SELECT n.id, t.device_id, t.transcript FROM run_transcripts t CROSS JOIN nights n WHERE t.run_id = :'run';
	SQL
	psql_db -c 'VACUUM ANALYZE'
	printf '   copied in %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" >&2
fi

# The SQL fleetd runs for each command (pkg/runs Service.Status and Get with
# checks), for EXPLAIN; keep in step with pkg/runs/service.go.
STATUS_SQL="SELECT d.name, d.site, d.kind, coalesce(s.health, 'unknown'), coalesce(s.diagnoses, '{}'),
	coalesce(s.recommended, ''), coalesce(s.error, ''), s.checked_at, s.run_id
	FROM (SELECT id, name, site, kind FROM devices) d LEFT JOIN device_status s ON s.device_id = d.id
	WHERE ('' = '' OR d.site = '') AND ('' = '' OR s.diagnoses @> ARRAY['']::text[])
	  AND ('' = '' OR coalesce(s.health, 'unknown') = '') ORDER BY d.name"
SHOW_SQL="SELECT rd.device, rd.site, rd.kind, rd.state, coalesce(rd.health, ''), rd.diagnoses, rd.recommended,
	rd.error, rd.attempts, rd.started_at, rd.finished_at, rd.checks, ''
	FROM run_devices rd LEFT JOIN run_transcripts t ON t.run_id = rd.run_id AND t.device_id = rd.device_id
	WHERE rd.run_id = '$run_id' AND ('' = '' OR rd.device = '') ORDER BY rd.device"
psql_db -c "EXPLAIN (ANALYZE, BUFFERS) $STATUS_SQL" >"$DIR/explain-status.txt"
psql_db -c "EXPLAIN (ANALYZE, BUFFERS) $SHOW_SQL" >"$DIR/explain-runs-show.txt"

# median5 CMD...: the median wall time of 5 runs, in seconds.
median5() {
	local ts=() t0 t1
	"$@" >/dev/null 2>&1 || true # warm-up
	for _ in 1 2 3 4 5; do
		t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N)
		ts+=("$(echo "$t1 - $t0" | bc)")
	done
	printf '%s\n' "${ts[@]}" | sort -g | sed -n 3p
}
log "P4: fleetctl status and runs show over $N devices with $RUNS runs of history"
st_json=$(median5 ./bin/fleetctl status -o json)
st_table=$(median5 ./bin/fleetctl status)
sh_json=$(median5 ./bin/fleetctl runs show "$run_id" -o json)
sh_table=$(median5 ./bin/fleetctl runs show "$run_id")
# (runs show and status exit 3 when a device is unhealthy: not a failure here)
show_bytes=$({ ./bin/fleetctl runs show "$run_id" -o json || true; } | wc -c)
status_bytes=$({ ./bin/fleetctl status -o json || true; } | wc -c)
# The database's share: executing each query to the last row (EXPLAIN ANALYZE's time).
exec_ms() { sed -n 's/.*Execution Time: \([0-9.]*\) ms.*/\1/p' "$1"; }

sizes=$(psql_db -tA -F' ' -c "SELECT
	pg_total_relation_size('run_devices'), pg_total_relation_size('run_transcripts'),
	pg_total_relation_size('runs'), pg_total_relation_size('device_status'), pg_database_size(current_database()),
	(SELECT count(*) FROM run_devices), (SELECT count(*) FROM runs),
	(SELECT avg(pg_column_size(checks)) FROM run_devices WHERE run_id = '$run_id'),
	(SELECT avg(octet_length(checks::text)) FROM run_devices WHERE run_id = '$run_id'),
	(SELECT avg(pg_column_size(transcript)) FROM run_transcripts WHERE run_id = '$run_id'),
	(SELECT avg(octet_length(transcript)) FROM run_transcripts WHERE run_id = '$run_id'),
	(SELECT avg(pg_column_size(rd.*)) FROM run_devices rd WHERE run_id = '$run_id')")

python3 - "$N" "$RUNS" "$st_json" "$st_table" "$sh_json" "$sh_table" "$show_bytes" "$status_bytes" \
	"$(exec_ms "$DIR/explain-status.txt")" "$(exec_ms "$DIR/explain-runs-show.txt")" $sizes <<'PY'
import sys
a = sys.argv[1:]
n, runs = int(a[0]), int(a[1])
st_json, st_table, sh_json, sh_table = map(float, a[2:6])
show_bytes, status_bytes = int(a[6]), int(a[7])
ex_status, ex_show = float(a[8]), float(a[9])
rd, tr, rn, ds, db, nrows, nruns = map(int, a[10:17])
chk_stored, chk_raw, tr_stored, tr_raw, row_stored = map(float, a[17:22])
MiB = 1024 * 1024
print(f"P4 history         {nruns} runs, {nrows} device results ({n} devices)")
print(f"P4 status          {st_json:.2f} s -o json ({status_bytes/MiB:.1f} MiB) = {st_json/0.3:.2f}x the 0.3 s promise; "
      f"table {st_table:.2f} s; database {ex_status/1000:.3f} s")
print(f"P4 runs show       {sh_json:.2f} s -o json ({show_bytes/MiB:.1f} MiB) = {sh_json/1.0:.2f}x the 1 s promise; "
      f"table {sh_table:.2f} s; database {ex_show/1000:.3f} s")
per = nrows or 1
print(f"storage            database {db/MiB:.0f} MiB after {nruns} runs; run_devices {rd/MiB:.0f} MiB, "
      f"run_transcripts {tr/MiB:.0f} MiB, runs {rn/MiB:.2f} MiB, device_status {ds/MiB:.1f} MiB")
print(f"per device per run {(rd + tr)/per:.0f} B on disk (results {rd/per:.0f} B with indexes, transcripts {tr/per:.0f} B); "
      f"checks {chk_stored:.0f} B stored of {chk_raw:.0f} B, transcript {tr_stored:.0f} B stored of {tr_raw:.0f} B "
      f"({tr_raw/tr_stored if tr_stored else 0:.1f}x compressed), result row {row_stored:.0f} B")
PY

# Retention: fleetd restarted with the default retention.* (90d runs, 14d
# transcripts) prunes at start (the periodic job runs on start on the
# leader); wait for the transcripts older than 14 days to be gone.
log "retention: fleetd with the default retention prunes the history"
kill "$(cat "$DIR/fleetd.pid")"
while kill -0 "$(cat "$DIR/fleetd.pid")" 2>/dev/null; do sleep 0.2; done
bench_config "$DIR/fleetd.yaml" "$DB" "$LISTEN" 1000 40
t0=$(date +%s.%N)
bench_fleetd "$DIR" fleetd "$LISTEN"
old_sql="SELECT count(*) FROM run_transcripts t JOIN runs r ON r.id = t.run_id WHERE r.finished_at < now() - interval '14 days'"
for _ in $(seq 600); do [ "$(psql_db -tAc "$old_sql")" = 0 ] && break; sleep 1; done
printf '   pruned in %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" >&2
psql_db -tA -F' ' -c "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM run_devices), (SELECT count(*) FROM run_transcripts),
	(SELECT count(DISTINCT run_id) FROM run_transcripts)" | {
	read -r nruns nres ntr ntrruns
	echo "retention          after the default prune: $nruns runs, $nres results, $ntr transcripts ($ntrruns runs keep theirs; the rest went after 14 days)"
}
