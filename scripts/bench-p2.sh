#!/usr/bin/env bash
# P2 of docs/design.md: on one simulated fleet in exec mode, the same diagnose
# commands run by fleetd (fleetctl diagnose --all), by Ansible (raw, forks
# 100) and by parallel-ssh (-p 200), side by side in one run.
#
#   scripts/bench-p2.sh [N]     (default 1000 devices; needs ansible and parallel-ssh)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

N=${1:-1000}
SCALE=${BENCH_TIME_SCALE:-0.1}
DIR=${BENCH_DIR:-.bench-p2}
DB=fleetd_bench_p2
LISTEN=127.0.0.1:8091
SIM_LISTEN=127.4.0.1
PORT=2222
rm -rf "$DIR"; mkdir -p "$DIR"
ulimit -n 65536 2>/dev/null || true
for tool in ansible parallel-ssh ssh-keygen; do
	command -v "$tool" >/dev/null || { echo "bench-p2: $tool is not installed (apt-get install ansible pssh)" >&2; exit 2; }
done
cleanup() { for p in fleetd ftdsim; do [ -f "$DIR/$p.pid" ] && kill "$(cat "$DIR/$p.pid")" 2>/dev/null || true; done; }
trap cleanup EXIT

ensure_postgres
recreate_db "$DB"
make --no-print-directory build >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$DIR/id" >/dev/null

./bin/ftdsim --count "$N" --sites emea --listen "$SIM_LISTEN" --port "$PORT" --exec --time-scale "$SCALE" \
	--faults "eventhandler-disconnected=10%,egress-blocked=5%" --authorized-keys "$DIR/id.pub" --seed 2 \
	--inventory-out "$DIR/fleet.csv" --known-hosts-out "$DIR/known_hosts" --log-level warn >"$DIR/sim.log" 2>&1 &
echo $! >"$DIR/ftdsim.pid"
for _ in $(seq 100); do [ -s "$DIR/known_hosts" ] && break; sleep 0.1; done

# The diagnose command set (pkg/diagnose), as one shell line for the generic tools.
CMDS="curl -v https://api.eu.sse.itd.cisco.com/providers/sse/services/registration/api/v2/clients --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10; \
curl -v https://est.sco.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10; \
curl -v https://eventing-ingest.eu.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10; \
curl -v https://mx01.eu.sse.itd.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 10; \
cat /ngfw/etc/sf/connector.properties; pmtool status | grep -E '^(SSEConnector|EventHandler) '; \
netstat -anlp | grep EventHandler_SSEConnector.sock; lsof -i | grep connector; \
tail -n 200 /ngfw/var/log/connector/connector.log; curl -s localhost:8989/v1/contexts/default"
SSH_OPTS="-o UserKnownHostsFile=$PWD/$DIR/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i $PWD/$DIR/id"

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# fleetd
cat >"$DIR/fleetd.yaml" <<YAML
database: {url: "postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable", max_conns: 40}
api: {listen: "$LISTEN"}
log: {level: warn, format: json}
sites:
  emea: {region: eu, timezone: Europe/Amsterdam, hostkey_policy: tofu}
credentials:
  lab: {username: admin, key_file: "$PWD/$DIR/id", sudo_password_env: FLEETD_LAB_PASSWORD}
runner: {max_concurrent: 500, start_rate: 0}
YAML
export FLEETD_LAB_PASSWORD=Admin123
./bin/fleetd serve --config "$DIR/fleetd.yaml" >"$DIR/fleetd.log" 2>&1 &
echo $! >"$DIR/fleetd.pid"
for _ in $(seq 150); do curl -fsS "http://$LISTEN/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://$LISTEN/readyz" >/dev/null || { echo "fleetd did not start:" >&2; tail -5 "$DIR/fleetd.log" >&2; exit 1; }
export FLEETCTL_SERVER=http://$LISTEN
FLEETCTL_TOKEN=$(./bin/fleetd token create --config "$DIR/fleetd.yaml" --name bench --role admin 2>/dev/null)
export FLEETCTL_TOKEN
./bin/fleetctl device import "$DIR/fleet.csv" >/dev/null
# First contact pins the host keys (the generic tools get a known_hosts file
# instead); the compared figure is the second run.
t0=$(now); ./bin/fleetctl diagnose --all >/dev/null 2>&1 || true; t1=$(now)
first_s=$(secs "$t0" "$t1")
pg_vacuum "$DB"
t0=$(now); ./bin/fleetctl diagnose --all -o json >"$DIR/fleetd.json" || true; t1=$(now)
fleetd_s=$(secs "$t0" "$t1")
fleetd_ok=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["summary"]["healthy"]+r["summary"]["unhealthy"])' "$DIR/fleetd.json")

# parallel-ssh
tail -n +2 "$DIR/fleet.csv" | cut -d, -f4 | sed 's/^/admin@/' >"$DIR/hosts"
t0=$(now); parallel-ssh -h "$DIR/hosts" -p 200 -t 60 -i -x "$SSH_OPTS" "$CMDS" >"$DIR/pssh.out" 2>&1 || true; t1=$(now)
pssh_s=$(secs "$t0" "$t1"); pssh_ok=$(grep -c '\[SUCCESS\]' "$DIR/pssh.out" || true)

# Ansible raw
{ echo "[sim]"; tail -n +2 "$DIR/fleet.csv" | while IFS=, read -r name _ _ addr _; do
	echo "$name ansible_host=${addr%:*} ansible_port=${addr##*:}"; done; } >"$DIR/hosts.ini"
t0=$(now)
ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_ARGS="$SSH_OPTS -o ControlMaster=no" ANSIBLE_PYTHON_INTERPRETER=/bin/false \
	ansible sim -i "$DIR/hosts.ini" -u admin -f 100 -m raw -a "$CMDS" >"$DIR/ansible.out" 2>&1 || true
t1=$(now)
ans_s=$(secs "$t0" "$t1"); ans_ok=$(grep -c '| CHANGED | rc=' "$DIR/ansible.out" || true)

printf '%-28s %8s %10s %12s\n' tool seconds devices/s "devices ok"
printf '%-28s %8.1f %10.0f %12s\n' "fleetd (diagnose --all)" "$fleetd_s" "$(echo "$N / $fleetd_s" | bc -l)" "$fleetd_ok/$N"
printf '%-28s %8.1f %10.0f %12s\n' "parallel-ssh -p 200" "$pssh_s" "$(echo "$N / $pssh_s" | bc -l)" "$pssh_ok/$N"
printf '%-28s %8.1f %10.0f %12s\n' "ansible raw, forks 100" "$ans_s" "$(echo "$N / $ans_s" | bc -l)" "$ans_ok/$N"
printf '%-28s %8.1f %10.0f\n' "fleetd, first contact" "$first_s" "$(echo "$N / $first_s" | bc -l)"
printf 'fleetd vs parallel-ssh: %.1fx   fleetd vs ansible: %.1fx\n' "$(echo "$pssh_s / $fleetd_s" | bc -l)" "$(echo "$ans_s / $fleetd_s" | bc -l)"
