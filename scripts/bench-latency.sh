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
PPROF=${BENCH_PPROF:-127.0.0.1:6065}
PORT=$(sim_port)
[ -z "${BENCH_PROFILE:-}" ] || export FTDSIM_FLAGS="${FTDSIM_FLAGS:-} --pprof"
FAULTS=$BENCH_P1_FAULTS
bench_setup "$DIR"

ensure_postgres
recreate_db "$DB"
make --no-print-directory build >/dev/null
bench_config "$DIR/fleetd.yaml" "$DB" "$LISTEN" default 20
export FLEETD_LAB_PASSWORD=Admin123 FLEETCTL_SERVER=http://$LISTEN
bench_ftdsim "$DIR" "$N" 0.1 "$FAULTS" "$SIM_LISTEN" "$PORT" "$SIM_CONTROL" 1
bench_fleetd "$DIR" fleetd "$LISTEN" "$PPROF"
FLEETCTL_TOKEN=$(./bin/fleetd token create --config "$DIR/fleetd.yaml" --name bench --role admin 2>/dev/null)
export FLEETCTL_TOKEN
./bin/fleetctl device import "$DIR/fleet.csv" >/dev/null
fpid=$(cat "$DIR/fleetd.pid")

# timed_run LABEL: one diagnose --all; prints "wall fleetd_cpu ftdsim_cpu pg_cpu".
# BENCH_PROFILE=SECONDS: CPU profiles of fleetd and ftdsim over that much of
# each steady run, into DIR/LABEL.{fleetd,ftdsim}.pprof.
timed_run() {
	local t0 t1 f0 s0 spid
	spid=$(cat "$DIR/ftdsim.pid")
	pg_vacuum "$DB"
	f0=$(cpu "$fpid"); s0=$(cpu "$spid"); pg_snap "$DIR/$1.pg0"
	if [ -n "${BENCH_PROFILE:-}" ] && [ "$1" != first ]; then
		(sleep 2; curl -s "http://$PPROF/debug/pprof/profile?seconds=$BENCH_PROFILE" >"$DIR/$1.fleetd.pprof") &
		(sleep 2; curl -s "http://$SIM_CONTROL/debug/pprof/profile?seconds=$BENCH_PROFILE" >"$DIR/$1.ftdsim.pprof") &
	fi
	t0=$(date +%s.%N)
	./bin/fleetctl diagnose --all -o json >"$DIR/$1.json" || true
	t1=$(date +%s.%N)
	pg_snap "$DIR/$1.pg1"
	echo "$(echo "$t1 - $t0" | bc) $(echo "$(cpu "$fpid") - $f0" | bc) $(echo "$(cpu "$spid") - $s0" | bc) $(pg_delta "$DIR/$1.pg0" "$DIR/$1.pg1")"
	wait
}
# loop_run LABEL: the bare loop (loop_pass, lib.sh) at LOOP_CONC sessions,
# to set the CPU per device at each time scale against the loop's own.
# LOOP_CONC defaults to what fleetd's defaults size on this machine
# (runner.AutoMaxConcurrent: 2,560 on 2 cores and 24 GiB).
LOOP_CONC=${BENCH_LOOP_CONCURRENCY:-2560}
loop_run() { loop_pass "$DIR/fleet.csv" "$LOOP_CONC" "$(cat "$DIR/ftdsim.pid")" "$DIR/$1.loop.txt"; }
log "first contact at time scale 0.1 (pins $N keys), fleetd defaults"
first=$(timed_run first)
log "steady state at time scale 0.1"
w01=$(timed_run scale01)
log "bare loop at time scale 0.1 (concurrency $LOOP_CONC)"
l01=$(loop_run scale01)
log "ftdsim again at time scale 1 (same seed: same keys)"
kill "$(cat "$DIR/ftdsim.pid")"
while kill -0 "$(cat "$DIR/ftdsim.pid")" 2>/dev/null; do sleep 0.2; done
bench_ftdsim "$DIR" "$N" 1 "$FAULTS" "$SIM_LISTEN" "$PORT" "$SIM_CONTROL" 1
log "steady state at time scale 1"
w1=$(timed_run scale1)
log "bare loop at time scale 1 (concurrency $LOOP_CONC)"
l1=$(loop_run scale1)
peak=$(grep VmHWM "/proc/$fpid/status" | awk '{printf "%.0f", $2/1024}')
LOOP01=$l01 LOOP1=$l1 LOOP_CONC=$LOOP_CONC \
python3 - "$N" "$first" "$w01" "$w1" "$peak" "$DIR/scale01.json" "$DIR/scale1.json" <<'PY'
import json, os, sys
from datetime import datetime
n, peak = int(sys.argv[1]), sys.argv[5]
first, r01, r1 = ([float(x) for x in a.split()] for a in sys.argv[2:5])
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00"))
def durs(f):
    run = json.load(open(f))
    return run, sorted((t(d["finished_at"]) - t(d["started_at"])).total_seconds() for d in run["devices"] if d.get("started_at"))
def per(r): return [c / n * 1000 for c in r[1:]]
_, d01 = durs(sys.argv[6])
run, d1 = durs(sys.argv[7])
s = run["summary"]
print(f"latency            fleetd defaults, {n} devices (time scale 1: healthy {s['healthy']}, unhealthy {s['unhealthy']}, error {s['error']})")
for label, r, d in (("time scale 0.1", r01, d01), ("time scale 1  ", r1, d1)):
    f, m, p = per(r)
    print(f"  {label}   {r[0]:.1f} s ({n/r[0]:.0f} devices/s); CPU per device fleetd {f:.2f} ms, ftdsim {m:.2f} ms, PostgreSQL {p:.2f} ms "
          f"(sum {f+m+p:.2f} ms; {sum(r[1:])/r[0]/2*100:.0f} % of 2 cores); sessions p50 {d[len(d)//2]:.2f} s, p95 {d[int(len(d)*.95)]:.2f} s, max {d[-1]:.2f} s")
print(f"  first contact    {first[0]:.1f} s at time scale 0.1")
a, b = per(r01), per(r1)
print(f"  ratio            wall {r1[0]/r01[0]:.2f}x the time-scale-0.1 run (promise 1.2x); CPU per device at 1 / at 0.1: "
      f"fleetd {b[0]/a[0]:.2f}x, ftdsim {b[1]/a[1]:.2f}x, PostgreSQL {b[2]/a[2]:.2f}x")
print(f"  fleetd peak RSS  {peak} MiB (promise 1024)")
# The bare loop's own change between the time scales: the cost of sessions
# that wait (an idle runtime parks and wakes its threads) without fleetd.
l01, l1 = ([float(x) for x in os.environ[k].split()] for k in ("LOOP01", "LOOP1"))
print(f"  bare loop        concurrency {os.environ['LOOP_CONC']}: time scale 0.1 {l01[0]:.1f} s, client {l01[1]:.2f} ms and ftdsim {l01[3]/n*1000:.2f} ms per device; "
      f"time scale 1 {l1[0]:.1f} s, client {l1[1]:.2f} ms and ftdsim {l1[3]/n*1000:.2f} ms")
print(f"  loop's ratio     CPU per device at 1 / at 0.1: client {l1[1]/l01[1]:.2f}x, ftdsim {l1[3]/l01[3]:.2f}x "
      f"(set fleetd's {b[0]/a[0]:.2f}x against the client's)")
PY
