#!/usr/bin/env bash
# Real device latencies with fleetd's default config (issue 15): the same
# 10,000 simulated FTDs (same seed, so the same host keys) at time scale 0.1
# and then at time scale 1 (curls of a few hundred ms, a blocked egress
# waiting its full 10 s --max-time), one fleetd with its defaults (no
# runner.* or diagnose.* in its config: max_concurrent sized from memory),
# steady state (keys pinned by a first run). Prints both wall times, their
# ratio (promise: at most 1.2x) and fleetd's peak RSS (promise: 1 GiB).
#
#   scripts/bench-latency.sh [N]   env: BENCH_DIR, BENCH_DB, BENCH_LISTEN, BENCH_SIM_LISTEN, BENCH_SIM_CONTROL
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

N=${1:-10000}
DIR=${BENCH_DIR:-.bench-latency}
DB=${BENCH_DB:-fleetd_bench_latency}
LISTEN=${BENCH_LISTEN:-127.0.0.1:8095}
SIM_LISTEN=${BENCH_SIM_LISTEN:-127.5.0.1}
SIM_CONTROL=${BENCH_SIM_CONTROL:-127.0.0.1:7095}
PORT=$(sim_port)
FAULTS=$BENCH_P1_FAULTS
bench_setup "$DIR"

ensure_postgres
recreate_db "$DB"
make --no-print-directory build >/dev/null
bench_config "$DIR/fleetd.yaml" "$DB" "$LISTEN" default 20
export FLEETD_LAB_PASSWORD=Admin123 FLEETCTL_SERVER=http://$LISTEN
bench_ftdsim "$DIR" "$N" 0.1 "$FAULTS" "$SIM_LISTEN" "$PORT" "$SIM_CONTROL" 1
bench_fleetd "$DIR" fleetd "$LISTEN"
FLEETCTL_TOKEN=$(./bin/fleetd token create --config "$DIR/fleetd.yaml" --name bench --role admin 2>/dev/null)
export FLEETCTL_TOKEN
./bin/fleetctl device import "$DIR/fleet.csv" >/dev/null
fpid=$(cat "$DIR/fleetd.pid")

timed_run() { # LABEL: one diagnose --all; prints its wall time
	local t0 t1
	t0=$(date +%s.%N)
	./bin/fleetctl diagnose --all -o json >"$DIR/$1.json" || true
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}
log "first contact at time scale 0.1 (pins $N keys), fleetd defaults"
first=$(timed_run first)
log "steady state at time scale 0.1"
w01=$(timed_run scale01)
log "ftdsim again at time scale 1 (same seed: same keys)"
kill "$(cat "$DIR/ftdsim.pid")"
while kill -0 "$(cat "$DIR/ftdsim.pid")" 2>/dev/null; do sleep 0.2; done
bench_ftdsim "$DIR" "$N" 1 "$FAULTS" "$SIM_LISTEN" "$PORT" "$SIM_CONTROL" 1
log "steady state at time scale 1"
w1=$(timed_run scale1)
peak=$(grep VmHWM "/proc/$fpid/status" | awk '{printf "%.0f", $2/1024}')
python3 - "$N" "$first" "$w01" "$w1" "$peak" "$DIR/scale1.json" <<'PY'
import json, sys
from datetime import datetime
n, first, w01, w1, peak = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
run = json.load(open(sys.argv[6]))
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00"))
durs = sorted((t(d["finished_at"]) - t(d["started_at"])).total_seconds() for d in run["devices"] if d.get("started_at"))
s = run["summary"]
print(f"latency            fleetd defaults, {n} devices (time scale 1: healthy {s['healthy']}, unhealthy {s['unhealthy']}, error {s['error']})")
print(f"  time scale 0.1   {w01:.1f} s ({n/w01:.0f} devices/s); first contact {first:.1f} s")
print(f"  time scale 1     {w1:.1f} s ({n/w1:.0f} devices/s) = {w1/w01:.2f}x the time-scale-0.1 run (promise 1.2x); "
      f"sessions p50 {durs[len(durs)//2]:.2f} s, p95 {durs[int(len(durs)*.95)]:.2f} s, max {durs[-1]:.2f} s")
print(f"  fleetd peak RSS  {peak} MiB (promise 1024)")
PY
