#!/usr/bin/env bash
# Scale-out: the same `fleetctl diagnose --all` over N simulated FTDs
# (default 10,000) with one fleetd, then with two fleetd replicas on the same
# database sharing the run's device jobs through River (a scheduled sweep
# runs the same device jobs). Reports wall time and devices/s of each, and
# the share of devices each replica checked.
#
#   scripts/bench-replicas.sh [N]   env: BENCH_TIME_SCALE (0.1), BENCH_CONCURRENCY (500 per replica),
#                                   BENCH_GOMAXPROCS (each replica's; unset: all cores), BENCH_DB, BENCH_DIR,
#                                   BENCH_SIM_LISTEN, BENCH_SIM_CONTROL, BENCH_LISTEN_A, BENCH_LISTEN_B
#
# Each measured run also prints the CPU seconds per device of the replicas
# together (and PostgreSQL's, this database's backends): the capacity model
# of docs/benchmarks.md assumes fleetd's CPU per device does not grow with
# the number of replicas, which this checks.
#
# On a machine whose cores are already busy (the simulator, PostgreSQL and
# fleetd share them), a second replica cannot add CPU: expect no gain there.
# Give each replica its own cores (BENCH_TASKSET_A="0" BENCH_TASKSET_B="1"
# pins them with taskset) to see the scale-out.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

N=${1:-10000}
SCALE=${BENCH_TIME_SCALE:-0.1}
CONC=${BENCH_CONCURRENCY:-500}
DIR=${BENCH_DIR:-.bench-replicas}
DB=${BENCH_DB:-fleetd_bench_replicas}
SIM_CONTROL=${BENCH_SIM_CONTROL:-127.0.0.1:7043}
LISTEN_A=${BENCH_LISTEN_A:-127.0.0.1:8093}
LISTEN_B=${BENCH_LISTEN_B:-127.0.0.1:8094}
SIM_LISTEN=${BENCH_SIM_LISTEN:-127.40.0.1}
PORT=$(sim_port)
FAULTS="eventhandler-disconnected=10%,egress-blocked=5%,connector-stopped=2%"
mkdir -p "$DIR"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cleanup() {
	for p in fleetd-a fleetd-b ftdsim; do
		[ -f "$DIR/$p.pid" ] && kill "$(cat "$DIR/$p.pid")" 2>/dev/null || true
	done
}
trap cleanup EXIT

ensure_postgres
recreate_db "$DB"
make --no-print-directory build >/dev/null

log "ftdsim: $N devices, time scale $SCALE"
./bin/ftdsim --count "$N" --sites emea,amer,apjc --faults "$FAULTS" --listen "$SIM_LISTEN" --port "$PORT" \
	--time-scale "$SCALE" --seed 2 --inventory-out "$DIR/fleet.csv" --control "$SIM_CONTROL" \
	--log-level warn >"$DIR/ftdsim.log" 2>&1 &
echo $! >"$DIR/ftdsim.pid"
until curl -fsS "http://$SIM_CONTROL/devices?limit=1" >/dev/null 2>&1; do
	kill -0 "$(cat "$DIR/ftdsim.pid")" 2>/dev/null || { tail -3 "$DIR/ftdsim.log" >&2; exit 1; }
	sleep 0.2
done

config() { bench_config "$DIR/$1.yaml" "$DB" "$2" "$CONC" 30; } # NAME LISTEN
start_fleetd() { # NAME LISTEN TASKSET
	config "$1" "$2"
	local pin=()
	[ -n "${3:-}" ] && pin=(taskset -c "$3")
	GOMAXPROCS=${BENCH_GOMAXPROCS:-} "${pin[@]}" ./bin/fleetd serve --config "$DIR/$1.yaml" >"$DIR/$1.log" 2>&1 &
	echo $! >"$DIR/$1.pid"
	until curl -fsS "http://$2/readyz" >/dev/null 2>&1; do
		kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null || { tail -3 "$DIR/$1.log" >&2; exit 1; }
		sleep 0.2
	done
}
export FLEETD_LAB_PASSWORD=Admin123
start_fleetd fleetd-a "$LISTEN_A" "${BENCH_TASKSET_A:-}"
export FLEETCTL_SERVER=http://$LISTEN_A
FLEETCTL_TOKEN=$(./bin/fleetd token create --config "$DIR/fleetd-a.yaml" --name bench --role admin 2>/dev/null)
export FLEETCTL_TOKEN
./bin/fleetctl device import "$DIR/fleet.csv" >/dev/null
# First contact pins every host key (tofu) so both measured runs do the same work.
log "warm-up run (pins host keys)"
./bin/fleetctl diagnose --all -o json >/dev/null || true

cpu() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }
fleetd_cpu() { # the replicas running, together
	local s=0 f
	for f in "$DIR"/fleetd-*.pid; do kill -0 "$(cat "$f")" 2>/dev/null && s=$(echo "$s + $(cpu "$(cat "$f")")" | bc); done
	echo "$s"
}
pg_cpu() {
	local s=0 p
	for p in $(psql_admin -tAc "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"); do
		s=$(echo "$s + $(cpu "$p" 2>/dev/null || echo 0)" | bc)
	done
	echo "$s"
}
measure() { # LABEL
	local t0 t1 c0 c1 p0 p1 code=0
	pg_vacuum "$DB"
	c0=$(fleetd_cpu); p0=$(pg_cpu); t0=$(date +%s.%N)
	./bin/fleetctl diagnose --all -o json >"$DIR/run-$1.json" || code=$?
	t1=$(date +%s.%N); c1=$(fleetd_cpu); p1=$(pg_cpu)
	python3 - "$1" "$(echo "$t1 - $t0" | bc)" "$DIR/run-$1.json" "$code" "$(echo "$c1 - $c0" | bc)" "$(echo "$p1 - $p0" | bc)" <<'PY'
import json, sys
label, wall, code, fcpu, pcpu = sys.argv[1], float(sys.argv[2]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
run = json.load(open(sys.argv[3]))
s = run["summary"]
n = s['devices']
print(f"{label:12s} {n} devices in {wall:.1f} s = {n/wall:.0f} devices/s "
      f"(healthy {s['healthy']}, unhealthy {s['unhealthy']}, error {s['error']}; exit {code}); "
      f"CPU per device fleetd {fcpu/n*1000:.2f} ms, PostgreSQL {pcpu/n*1000:.2f} ms")
PY
}
log "one replica (max_concurrent $CONC)"
measure one-replica
start_fleetd fleetd-b "$LISTEN_B" "${BENCH_TASKSET_B:-}"
log "two replicas (max_concurrent $CONC each)"
measure two-replicas
# Who worked the last run's device jobs.
psql_admin -d "$DB" -tA -F ' ' -c "SELECT attempted_by[array_length(attempted_by, 1)], count(*) FROM river_job
	WHERE kind = 'diagnose_device' AND args->>'run_id' = (SELECT id::text FROM runs ORDER BY created_at DESC LIMIT 1)
	GROUP BY 1 ORDER BY 1" | sed 's/^/   jobs by /'
