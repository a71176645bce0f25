#!/usr/bin/env bash
# interop-sim.sh — run Ansible (raw) and parallel-ssh against an ftdsim --exec fleet and check
# that both get the simulated devices' answers. Not part of `make test` (needs ansible and
# parallel-ssh installed); run it by hand or from CI:  scripts/interop-sim.sh [COUNT]
set -euo pipefail

count=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
listen=${INTEROP_LISTEN:-127.3.0.1} # INTEROP_LISTEN, INTEROP_PORT: somewhere else on loopback
port=${INTEROP_PORT:-2222}
cleanup() {
	[[ -n "${sim_pid:-}" ]] && kill "$sim_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

for tool in ansible parallel-ssh ssh-keygen; do
	command -v "$tool" >/dev/null || { echo "interop-sim: $tool is not installed" >&2; exit 2; }
done

ssh-keygen -q -t ed25519 -N '' -f "$work/id" >/dev/null
(cd "$root" && go build -o "$work/ftdsim" ./cmd/ftdsim)
"$work/ftdsim" --count "$count" --listen "$listen" --port-base "$port" --exec --time-scale 0.01 \
	--faults "eventhandler-disconnected=50%" --authorized-keys "$work/id.pub" \
	--inventory-out "$work/fleet.csv" --known-hosts-out "$work/known_hosts" --log-level warn >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 50); do [[ -s "$work/known_hosts" ]] && break; sleep 0.1; done

cmd='netstat -anlp | grep EventHandler_SSEConnector.sock'
ssh_opts="-o UserKnownHostsFile=$work/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i $work/id"

# parallel-ssh: one host line per device (host:port), -i prints each device's output inline.
tail -n +2 "$work/fleet.csv" | cut -d, -f4 | sed 's/^/admin@/' >"$work/hosts"
parallel-ssh -h "$work/hosts" -p 200 -t 30 -i -x "$ssh_opts" "$cmd" >"$work/pssh.out" 2>&1 || true
pssh_ok=$(grep -c '\[SUCCESS\]' "$work/pssh.out" || true)
pssh_listen=$(grep -c 'STREAM LISTENING' "$work/pssh.out" || true)
pssh_conn=$(grep -c 'STREAM CONNECTED' "$work/pssh.out" || true)

# Ansible raw: an INI inventory with ansible_port per device.
{
	echo "[sim]"
	tail -n +2 "$work/fleet.csv" | while IFS=, read -r name _ _ addr _; do
		echo "$name ansible_host=${addr%:*} ansible_port=${addr##*:}"
	done
} >"$work/hosts.ini"
ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_ARGS="$ssh_opts -o ControlMaster=no" ANSIBLE_PYTHON_INTERPRETER=/bin/false \
	ansible sim -i "$work/hosts.ini" -u admin -f 100 -m raw -a "$cmd" >"$work/ansible.out" 2>&1 || true
ans_ok=$(grep -c '| CHANGED | rc=0' "$work/ansible.out" || true)
ans_conn=$(grep -c 'STREAM CONNECTED' "$work/ansible.out" || true)

echo "devices: $count"
echo "parallel-ssh: $pssh_ok/$count succeeded, LISTENING lines $pssh_listen, CONNECTED lines $pssh_conn"
echo "ansible raw:  $ans_ok/$count succeeded, CONNECTED lines $ans_conn"
half=$((count / 2))
if [[ $pssh_ok -ne $count || $ans_ok -ne $count || $pssh_listen -ne $count || $pssh_conn -ne $half || $ans_conn -ne $half ]]; then
	echo "interop-sim: FAILED (outputs in $work kept)" >&2
	trap - EXIT
	kill "$sim_pid" 2>/dev/null || true
	exit 1
fi
echo "interop-sim: ok"
