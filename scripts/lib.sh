# Shared shell helpers for scripts/demo.sh and .ci/run. Source it; do not run it.

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
PGPORT_NUM=${PGPORT_NUM:-5432}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pg_ready() {
	pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" 2>/dev/null
}

# ensure_postgres starts the local cluster if it is down and waits for it.
ensure_postgres() {
	if pg_ready; then return 0; fi
	if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
		local ver
		ver=$(ls /etc/postgresql | sort -V | tail -n1)
		log "starting PostgreSQL $ver"
		pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
	fi
	for _ in $(seq 1 60); do
		if pg_ready; then return 0; fi
		sleep 0.5
	done
	echo "PostgreSQL is not answering on $PGHOST_ADDR:$PGPORT_NUM" >&2
	return 1
}

# psql_admin runs SQL as the postgres superuser (trust auth on these machines).
psql_admin() {
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres "$@"
}

# ensure_db NAME creates the database if it does not exist.
ensure_db() {
	local db=$1
	if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
		psql_admin -c "CREATE DATABASE \"$db\""
	fi
}

# recreate_db NAME drops (disconnecting users) and creates the database.
recreate_db() {
	local db=$1
	psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
	psql_admin -c "CREATE DATABASE \"$db\""
}

# bench_config FILE DB LISTEN CONCURRENCY|default MAX_CONNS writes the fleetd config the
# benchmarks share: three lab sites under trust-on-first-use (the simulator's
# keys are new each run), the lab credential, runner bounds for a big fleet.
bench_config() {
	cat >"$1" <<YAML
database: {url: "postgres://postgres@${PGHOST_ADDR}:${PGPORT_NUM}/$2?sslmode=disable", max_conns: $5}
api: {listen: "$3"}
log: {level: warn, format: json}
sites:
  emea: {region: eu, timezone: Europe/Amsterdam, hostkey_policy: tofu}
  amer: {region: us, timezone: America/New_York, hostkey_policy: tofu}
  apjc: {region: apj, timezone: Asia/Singapore, hostkey_policy: tofu}
credentials:
  lab: {username: admin, password_env: FLEETD_LAB_PASSWORD}
runner: {max_concurrent: $4, start_rate: 0, connect_timeout: 10s, command_timeout: 30s, session_timeout: 2m}
diagnose: {curl_max_time: 10s}
YAML
	# CONCURRENCY "default": fleetd's own runner and diagnose settings.
	if [ "$4" = default ]; then sed -i '/^runner:/d; /^diagnose:/d' "$1"; fi
}

# sim_port prints the port simulated devices listen on: 22 as on real
# devices when we may bind it (root, and no sshd on all addresses' port 22),
# else 2222.
sim_port() {
	if [ "$(id -u)" = 0 ] && ! ss -Hltn 'sport = :22' 2>/dev/null | grep -qE '(0\.0\.0\.0|\*|\[::\]):22'; then
		echo 22
	else
		echo 2222
	fi
}

# bench_ftdsim DIR N SCALE FAULTS LISTEN PORT CONTROL SEED starts ftdsim in the
# background (pid in DIR/ftdsim.pid, inventory in DIR/fleet.csv) and waits for
# its control API. FTDSIM_FLAGS adds flags (e.g. --pprof); FTDSIM_BIN runs
# another build (bench-sim's base).
bench_ftdsim() {
	local dir=$1 n=$2 scale=$3 faults=$4 listen=$5 port=$6 control=$7 seed=$8
	"${FTDSIM_BIN:-./bin/ftdsim}" --count "$n" --sites emea,amer,apjc --faults "$faults" --listen "$listen" --port "$port" \
		--time-scale "$scale" --seed "$seed" --inventory-out "$dir/fleet.csv" --control "$control" \
		--log-level warn ${FTDSIM_FLAGS:-} >"$dir/ftdsim.log" 2>&1 &
	echo $! >"$dir/ftdsim.pid"
	until curl -fsS "http://$control/devices?limit=1" >/dev/null 2>&1; do
		kill -0 "$(cat "$dir/ftdsim.pid")" 2>/dev/null || { tail -3 "$dir/ftdsim.log" >&2; return 1; }
		sleep 0.2
	done
}

# bench_fleetd DIR NAME LISTEN [PPROF] starts `fleetd serve --config DIR/NAME.yaml`
# in the background (pid in DIR/NAME.pid) and waits until it is ready.
# FLEETD_BENCH_ENV adds environment for fleetd alone (e.g. "GOGC=200
# GOMEMLIMIT=900MiB"), so an experiment does not change the loop it is
# measured against.
bench_fleetd() {
	local dir=$1 name=$2 listen=$3 pprof=${4:-}
	FLEETD_PPROF_LISTEN=$pprof env ${FLEETD_BENCH_ENV:-} ./bin/fleetd serve --config "$dir/$name.yaml" >"$dir/$name.log" 2>&1 &
	echo $! >"$dir/$name.pid"
	for _ in $(seq 150); do curl -fsS "http://$listen/readyz" >/dev/null 2>&1 && return 0; sleep 0.2; done
	echo "fleetd did not start:" >&2
	tail -5 "$dir/$name.log" >&2
	return 1
}

# loop_pass INVENTORY CONCURRENCY SIM_PID OUT: one pass of the bare loop
# (ftdsim bench --mode diagnose: each device once, a diagnose's commands, no
# fleetd, no database) against the simulator SIM_PID; its report goes to
# OUT, its stderr to OUT.err. Prints "wall_s client_cpu_per_device_ms
# failures sim_cpu_s" (the simulator's CPU seconds over the pass).
loop_pass() {
	local s0
	s0=$(cpu "$3")
	./bin/ftdsim bench --inventory "$1" --mode diagnose --concurrency "$2" >"$4" 2>"$4.err" || true
	python3 - "$4" "$(echo "$(cpu "$3") - $s0" | bc)" <<'PY'
import re, sys
kv = dict(re.findall(r"(\w+)=(\S+)", open(sys.argv[1]).read().splitlines()[-1]))
print(kv["wall_s"], kv["cpu_per_device_ms"], kv["failures"], sys.argv[2])
PY
}

# P1's mix of faults, shared by the benchmarks that compare with it.
BENCH_P1_FAULTS="eventhandler-disconnected=10%,egress-blocked=5%,connector-stopped=2%,not-enrolled=2%,region-mismatch=1%"

# bench_setup DIR: the directory, open files for 10,000 listeners and
# sessions, and an EXIT trap stopping DIR's fleetd and ftdsim.
bench_setup() {
	BENCH_SETUP_DIR=$1
	mkdir -p "$1"
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	trap 'for p in fleetd ftdsim; do [ -f "$BENCH_SETUP_DIR/$p.pid" ] && kill "$(cat "$BENCH_SETUP_DIR/$p.pid")" 2>/dev/null || true; done' EXIT
}

# pg_vacuum DB: VACUUM (ANALYZE) the bench database before a measured run.
# This machine's PostgreSQL runs with autovacuum off (its CI config); a
# production one vacuums and analyzes, so without this each run would also
# measure the dead rows of the runs before it (River's job rows, leases,
# results) and plans made without statistics.
pg_vacuum() {
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d "$1" \
		-c 'VACUUM (ANALYZE)' >/dev/null
}
# CPU seconds (utime+stime) of a process. PostgreSQL's is that of one
# benchmark database's backends (its connections and autovacuum workers),
# summed per process between two snapshots: not other databases' backends,
# nor the WAL writer and checkpointer the whole cluster shares.
cpu() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }
pg_snap() { # FILE: CPU of each backend of database $DB now
	local p
	for p in $(psql_admin -tAc "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"); do
		echo "$p $(cpu "$p" 2>/dev/null || echo 0)"
	done >"$1"
}
pg_delta() { # START END: CPU seconds spent between the snapshots
	python3 -c 'import sys
a = dict(l.split() for l in open(sys.argv[1]))
print(round(sum(float(c) - float(a.get(p, 0)) for p, c in (l.split() for l in open(sys.argv[2]))), 2))' "$1" "$2"
}
