#!/usr/bin/env bash
# The simulator's own cost (issue 15): ftdsim CPU per diagnose session, this
# tree against ftdsim as it was before the issue's work (FTDSIM_BASE), built
# from git history and measured in the same invocation, alternating, so the
# ratio holds on a machine whose speed changes from day to day.
#
#   scripts/bench-sim.sh [N]     env: BENCH_SIM_ROUNDS (3), BENCH_CONCURRENCY (500),
#                                BENCH_TIME_SCALE (0.1), FTDSIM_BASE (51d5749)
#
# Each round starts each ftdsim afresh with N devices and P1's faults, runs
# one warm-up pass (`ftdsim bench --mode diagnose`: every device once, PTY to
# root, exactly a diagnose's commands), then the measured pass: the
# simulator's CPU seconds over it ÷ N. The same client (this tree's ftdsim
# bench) drives both, and its own CPU per device — the bare x/crypto/ssh
# client side of the very same exchange — is printed beside it: the server
# side of a session cannot cost much less than the client side of it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

N=${1:-4000}
ROUNDS=${BENCH_SIM_ROUNDS:-3}
CONC=${BENCH_CONCURRENCY:-500}
SCALE=${BENCH_TIME_SCALE:-0.1}
BASE=${FTDSIM_BASE:-51d5749}
DIR=${BENCH_DIR:-.bench-sim}
LISTEN=${BENCH_SIM_LISTEN:-127.6.0.1}
CONTROL=${BENCH_SIM_CONTROL:-127.0.0.1:7026}
PORT=$(sim_port)
bench_setup "$DIR"

make --no-print-directory build >/dev/null
bins=("$PWD/bin/ftdsim")
names=(current)
# The base, built from git history: absent from a shallow clone, then only
# the current simulator is measured.
if git cat-file -e "$BASE^{commit}" 2>/dev/null; then
	rm -rf "$DIR/base-src" && mkdir -p "$DIR/base-src"
	git archive "$BASE" | tar -x -C "$DIR/base-src"
	(cd "$DIR/base-src" && go build -o "../ftdsim-base" ./cmd/ftdsim)
	bins=("$PWD/$DIR/ftdsim-base" "${bins[@]}")
	names=(base "${names[@]}")
else
	log "FTDSIM_BASE $BASE is not in this clone's history: measuring the current simulator only"
fi

# pass PID: one pass of the bare loop (loop_pass, lib.sh) against ftdsim PID.
pass() { loop_pass "$DIR/fleet.csv" "$CONC" "$1" "$DIR/client.txt"; }

log "ftdsim CPU per diagnose session: ${names[*]} (base = $BASE), $N devices, concurrency $CONC, time scale $SCALE, $ROUNDS rounds"
: >"$DIR/results.txt"
for r in $(seq "$ROUNDS"); do
	for i in "${!bins[@]}"; do
		FTDSIM_BIN=${bins[$i]} bench_ftdsim "$DIR" "$N" "$SCALE" "$BENCH_P1_FAULTS" "$LISTEN" "$PORT" "$CONTROL" 1
		pass "$(cat "$DIR/ftdsim.pid")" >/dev/null # warm-up: the heap and the pools at their working size
		read -r _ ccpu fails scpu < <(pass "$(cat "$DIR/ftdsim.pid")")
		kill "$(cat "$DIR/ftdsim.pid")"; wait "$(cat "$DIR/ftdsim.pid")" 2>/dev/null || true
		echo "$r ${names[$i]} $scpu $ccpu $fails" >>"$DIR/results.txt"
		printf '   round %d %-8s ftdsim %.3f ms/session, client %s ms/device%s\n' "$r" "${names[$i]}" \
			"$(echo "$scpu * 1000 / $N" | bc -l)" "$ccpu" "$([ "$fails" = 0 ] || echo ", $fails failures")" >&2
	done
done

python3 - "$DIR/results.txt" "$N" "$BASE" <<'PY'
import sys
from collections import defaultdict
n, base = int(sys.argv[2]), sys.argv[3]
rows = defaultdict(dict)
for line in open(sys.argv[1]):
    r, name, scpu, ccpu, fails = line.split()
    rows[int(r)][name] = (float(scpu) / n * 1000, float(ccpu), int(fails))
def rng(xs): return f"{sum(xs)/len(xs):.2f}x ({min(xs):.2f}-{max(xs):.2f})"
cur = [v["current"][0] for v in rows.values()]
print(f"ftdsim CPU/session current  {sum(cur)/len(cur):.3f} ms (rounds: {', '.join(f'{c:.3f}' for c in cur)})")
print(f"ftdsim / bare client        current {rng([v['current'][0] / v['current'][1] for v in rows.values()])}"
      " (the client side of the same sessions, same run)")
if all("base" in v for v in rows.values()):
    b = [v["base"][0] for v in rows.values()]
    print(f"ftdsim CPU/session base     {sum(b)/len(b):.3f} ms ({base}; rounds: {', '.join(f'{c:.3f}' for c in b)})")
    print(f"ftdsim / bare client        base {rng([v['base'][0] / v['base'][1] for v in rows.values()])}")
    print(f"current / base              {rng([v['current'][0] / v['base'][0] for v in rows.values()])} per round (goal 0.5x)")
fails = sum(f for v in rows.values() for (_, _, f) in v.values())
if fails:
    print(f"client failures             {fails}")
PY
