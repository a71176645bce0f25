#!/usr/bin/env bash
# P1 of docs/design.md: `fleetctl diagnose --all` over N simulated FTDs (default
# 10,000), end to end through fleetd, River and PostgreSQL, with the
# interactive driver, all checks and mixed faults; the simulator runs on the
# same machine. Reports wall time, devices/s, fleetd's peak RSS and where the
# time goes.
#
#   scripts/bench-p1.sh [N]      env: BENCH_TIME_SCALE (default 0.1), BENCH_CONCURRENCY (1000),
#                                BENCH_FLOOR (1; 0 skips the floor below), BENCH_PAIRS (2)
#
# The floor (issue 15): after the measured run, `ftdsim bench --mode diagnose`
# (a bare x/crypto/ssh loop typing exactly a diagnose's commands, no fleetd, no
# database) runs against the same ftdsim at the same concurrency, alternating
# with fleetd (fleetd, loop, fleetd, loop) so each pair shares conditions, and
# the "P1 ratio" block prints fleetd / loop for wall time and CPU per device.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

N=${1:-10000}
SCALE=${BENCH_TIME_SCALE:-0.1}
CONC=${BENCH_CONCURRENCY:-1000}
DIR=${BENCH_DIR:-.bench}
DB=${BENCH_DB:-fleetd_bench}
LISTEN=${BENCH_LISTEN:-127.0.0.1:8090}
SIM_LISTEN=${BENCH_SIM_LISTEN:-127.2.0.1}
SIM_CONTROL=${BENCH_SIM_CONTROL:-127.0.0.1:7023}
PPROF=${BENCH_PPROF:-127.0.0.1:6061}
PORT=$(sim_port)
FAULTS=$BENCH_P1_FAULTS
bench_setup "$DIR"

ensure_postgres
recreate_db "$DB"
make --no-print-directory build >/dev/null

log "ftdsim: $N devices, time scale $SCALE, faults $FAULTS"
t0=$(date +%s.%N)
bench_ftdsim "$DIR" "$N" "$SCALE" "$FAULTS" "$SIM_LISTEN" "$PORT" "$SIM_CONTROL" 1
printf '   ftdsim up in %.1fs, RSS %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" \
	"$(grep VmRSS /proc/"$(cat "$DIR/ftdsim.pid")"/status | awk '{print $2/1024 " MiB"}')" >&2

bench_config "$DIR/fleetd.yaml" "$DB" "$LISTEN" "$CONC" 40
export FLEETD_LAB_PASSWORD=Admin123
bench_fleetd "$DIR" fleetd "$LISTEN" "$PPROF"
export FLEETCTL_SERVER=http://$LISTEN
FLEETCTL_TOKEN=$(./bin/fleetd token create --config "$DIR/fleetd.yaml" --name bench --role admin 2>/dev/null)
export FLEETCTL_TOKEN
./bin/fleetctl device import "$DIR/fleet.csv" >/dev/null

fpid=$(cat "$DIR/fleetd.pid"); spid=$(cat "$DIR/ftdsim.pid")
# cpu, pg_snap and pg_delta (lib.sh) measure CPU seconds of fleetd, ftdsim
# and this database's PostgreSQL backends.

# The first contact pins every host key (tofu) and writes an audit event for
# each: reported on its own, with its ratio to the steady state. The measured
# run is the second one, the steady state of a nightly sweep or an
# operator's diagnose.
first_wall=0 first_cpu=0
if [ "${BENCH_FIRST_CONTACT:-1}" = 1 ]; then
	log "first contact: fleetctl diagnose --all (pins $N host keys)"
	c0=$(cpu "$fpid"); pg_snap "$DIR/pg.first.0"
	t0=$(date +%s.%N)
	./bin/fleetctl diagnose --all >/dev/null 2>&1 || true
	first_wall=$(echo "$(date +%s.%N) - $t0" | bc)
	pg_snap "$DIR/pg.first.1"
	first_cpu=$(echo "$(cpu "$fpid") - $c0 + $(pg_delta "$DIR/pg.first.0" "$DIR/pg.first.1")" | bc)
	printf '   first contact: %.1f s, CPU fleetd + PostgreSQL %.1f s\n' "$first_wall" "$first_cpu" >&2
fi

pg_vacuum "$DB"
fc0=$(cpu "$fpid"); sc0=$(cpu "$spid"); pg_snap "$DIR/pg.run.0"
if [ -n "${BENCH_PROFILE:-}" ]; then
	# BENCH_PROFILE=SECONDS: fleetd's CPU profile over that much of the
	# measured run, and its allocations over the whole run (-base).
	curl -s "http://$PPROF/debug/pprof/allocs" >"$DIR/fleetd.allocs.0.pprof"
	(sleep 3; curl -s "http://$PPROF/debug/pprof/profile?seconds=${BENCH_PROFILE}" >"$DIR/fleetd.cpu.pprof") &
fi

log "fleetctl diagnose --all ($N devices, max_concurrent $CONC)"
t0=$(date +%s.%N)
code=0
./bin/fleetctl diagnose --all -o json >"$DIR/run.json" || code=$?
t1=$(date +%s.%N)
wall=$(echo "$t1 - $t0" | bc)
fc1=$(cpu "$fpid"); sc1=$(cpu "$spid"); pg_snap "$DIR/pg.run.1"
pcpu=$(pg_delta "$DIR/pg.run.0" "$DIR/pg.run.1")
[ -z "${BENCH_PROFILE:-}" ] || curl -s "http://$PPROF/debug/pprof/allocs" >"$DIR/fleetd.allocs.1.pprof"
peak=$(grep VmHWM "/proc/$fpid/status" | awk '{printf "%.0f", $2/1024}')

# P4: the queries people run after it, over the same 10,000 devices.
run_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$DIR/run.json")
timeit() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
./bin/fleetctl status -o json >/dev/null 2>&1 || true # warm-up
p4_status=$(timeit ./bin/fleetctl status -o json)
p4_status_table=$(timeit ./bin/fleetctl status)
p4_show=$(timeit ./bin/fleetctl runs show "$run_id" -o json)
p4_show_table=$(timeit ./bin/fleetctl runs show "$run_id")

P4_STATUS=$p4_status P4_STATUS_TABLE=$p4_status_table P4_SHOW=$p4_show P4_SHOW_TABLE=$p4_show_table \
python3 - "$DIR/run.json" "$wall" "$peak" "$(echo "$fc1 - $fc0" | bc)" "$(echo "$sc1 - $sc0" | bc)" "$code" "$N" "$SCALE" "$CONC" "$pcpu" "$first_wall" "$first_cpu" <<'PY'
import json, sys
from datetime import datetime
run = json.load(open(sys.argv[1]))
wall, peak, fcpu, scpu, code, n, scale, conc = float(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], int(sys.argv[7]), sys.argv[8], sys.argv[9]
pcpu, first_wall, first_cpu = float(sys.argv[10]), float(sys.argv[11]), float(sys.argv[12])
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00"))
durs = sorted((t(d["finished_at"]) - t(d["started_at"])).total_seconds() for d in run["devices"] if d.get("started_at"))
def pct(p): return durs[min(len(durs)-1, int(p*len(durs)))] if durs else 0
s = run["summary"]
diag = {}
for d in run["devices"]:
    for c in d["diagnoses"] or ["healthy"]:
        diag[c] = diag.get(c, 0) + 1
print(f"devices            {s['devices']} (healthy {s['healthy']}, unhealthy {s['unhealthy']}, error {s['error']}); exit code {code}")
print(f"wall time          {wall:.1f} s  (fleetctl diagnose --all, start to summary)")
print(f"throughput         {s['devices']/wall:.0f} devices/s")
print(f"fleetd peak RSS    {peak} MiB")
print(f"CPU during run     fleetd {fcpu:.1f} s, ftdsim {scpu:.1f} s, PostgreSQL {pcpu:.1f} s (2 cores = {2*wall:.0f} core-s available)")
print(f"per-device session p50 {pct(.5):.2f} s, p95 {pct(.95):.2f} s, max {durs[-1] if durs else 0:.2f} s  (time scale {scale}, max_concurrent {conc})")
import os
print(f"P4 status          {float(os.environ['P4_STATUS']):.2f} s (-o json), {float(os.environ['P4_STATUS_TABLE']):.2f} s (table)")
print(f"P4 runs show       {float(os.environ['P4_SHOW']):.2f} s (-o json, every device with its checks), {float(os.environ['P4_SHOW_TABLE']):.2f} s (table)")
if first_wall:
    print(f"first contact      {first_wall:.1f} s = {first_wall/wall:.2f}x the steady state (promise 1.2x); "
          f"CPU fleetd + PostgreSQL {first_cpu:.1f} s = {first_cpu/(fcpu+pcpu):.2f}x")
print(f"ftdsim CPU         {scpu/n*1000:.2f} ms per session (during the fleetd run)")
print("diagnoses          " + ", ".join(f"{k} {v}" for k, v in sorted(diag.items(), key=lambda kv: -kv[1])))
PY

[ "${BENCH_FLOOR:-1}" = 1 ] || exit 0

# fleetd_run FILE: one more measured fleetd run; prints "wall cpu pgcpu".
fleetd_run() {
	local t0 t1 c0 c1
	pg_vacuum "$DB"
	c0=$(cpu "$fpid"); pg_snap "$1.pg0"; t0=$(date +%s.%N)
	./bin/fleetctl diagnose --all -o json >"$1" || true
	t1=$(date +%s.%N); c1=$(cpu "$fpid"); pg_snap "$1.pg1"
	echo "$(echo "$t1 - $t0" | bc) $(echo "$c1 - $c0" | bc) $(pg_delta "$1.pg0" "$1.pg1")"
}
# floor_run FILE: the bare loop at P1's concurrency (loop_pass, lib.sh).
floor_run() { loop_pass "$DIR/fleet.csv" "$CONC" "$spid" "$1"; }
log "floor: ftdsim bench --mode diagnose ($N devices, concurrency $CONC), alternating with fleetd"
# BENCH_PAIRS (default 2): how many fleetd/loop pairs; the measured run above
# is the first fleetd of them. More pairs for a noisy machine.
args=("$wall $(echo "$fc1 - $fc0" | bc) $pcpu")
for i in $(seq "${BENCH_PAIRS:-2}"); do
	if [ "$i" -gt 1 ]; then
		args+=("$(fleetd_run "$DIR/run.$i.json")")
		printf '   fleetd %d: wall %.1f s, CPU %.1f s, PostgreSQL %.1f s\n' "$i" ${args[-1]} >&2
	fi
	args+=("$(floor_run "$DIR/floor.$i.txt")")
	printf '   loop %d: %s\n' "$i" "$(head -1 "$DIR/floor.$i.txt")" >&2
done
python3 - "$N" "${args[@]}" <<'PY'
import sys
n = int(sys.argv[1])
pairs = []
for f, l in zip(sys.argv[2::2], sys.argv[3::2]):
    fw, fc, pc = map(float, f.split())
    lw, lc, lf, ls = l.split()
    pairs.append((fw, fc / n * 1000, (fc + pc) / n * 1000, float(lw), float(lc), int(lf), float(ls) / n * 1000))
print("P1 ratio           fleetd / bare loop (ftdsim bench --mode diagnose: same ftdsim, same concurrency, each device once)")
for i, (fw, fcd, fpd, lw, lcd, lf, _) in enumerate(pairs, 1):
    print(f"  pair {i}           wall {fw:.1f} s / {lw:.1f} s = {fw/lw:.2f}x;  CPU/device {fcd:.2f} ms / {lcd:.2f} ms = {fcd/lcd:.2f}x;"
          f"  with PostgreSQL {fpd:.2f} ms = {fpd/lcd:.2f}x" + (f"  (loop failures {lf})" if lf else ""))
k = len(pairs)
wr = sum(p[0] / p[3] for p in pairs) / k
cr = sum(p[1] / p[4] for p in pairs) / k
pr = sum(p[2] / p[4] for p in pairs) / k
print(f"  mean             wall {wr:.2f}x, CPU/device {cr:.2f}x, with PostgreSQL {pr:.2f}x (promise 1.5x; floor of the day: "
      f"wall {sum(p[3] for p in pairs)/k:.1f} s, CPU/device {sum(p[4] for p in pairs)/k:.2f} ms)")
# The simulator's side of the loop's sessions against the client's side:
# what is left of ftdsim's cost is what x/crypto's server side of the same
# exchange costs (scripts/bench-sim.sh has it against ftdsim's base).
sm = sum(p[6] for p in pairs) / k
print(f"ftdsim CPU          {sm:.2f} ms per session during the loop's passes = {sum(p[6] / p[4] for p in pairs) / k:.2f}x the loop client's CPU per device")
PY
