#!/usr/bin/env bash
# make demo: the whole story on one machine, from nothing.
#
#   1. PostgreSQL (started if down) and a fresh database fleetd_demo
#   2. build fleetd, fleetctl and ftdsim
#   3. ftdsim: a simulated fleet of $DEMO_DEVICES FMCs/FTDs over sites emea, amer,
#      apjc, each on its own loopback address, with a mix of the tech note's faults
#   4. fleetd (API + job workers) and three tokens: demo-admin, ops-emea (operator),
#      lead-emea (approver)
#   5. fleetctl device import of the fleet's inventory
#   6. host keys: first contact records every key as pending (strict policy); the
#      script checks each fingerprint against the simulator's out-of-band list,
#      then `fleetctl hostkey accept --all-pending`
#   7. fleetctl diagnose --site emea, then fleetctl status
#   8. remediation: ops-emea asks for a connector restart on an
#      eventhandler-disconnected device, lead-emea approves, fleetd restarts
#      the connector and verifies the cure
#   FMC: one emea FMC gets Cisco Cloud events turned off (ftdsim fault); its
#      REST API checks say so, and `device sync --from FMC --dry-run` lists
#      what the FMC's devicerecords would change in the inventory
#   then: fleet-level incidents planted with ftdsim's fault selectors (apjc's
#      egress blocked, one amer FMC's FTDs unenrolled, 6.4.0.9 detached from
#      EventHandler): diagnose --all names them, fleetctl incidents, /metrics,
#      a rerun of the unreachable ones and a restart request --from-run
#   then the web console's URL (http://$DEMO_LISTEN/ui/) and a token to sign in
#
#   scripts/demo.sh         run it (restarts a previous demo)
#   scripts/demo.sh stop    stop the demo's fleetd and ftdsim
#
# Everything lives in ./.demo (logs, pid files, tokens, fleetctl config) and in
# the database fleetd_demo, recreated each run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DEMO_DIR=${DEMO_DIR:-.demo}
DEMO_DB=${DEMO_DB:-fleetd_demo}
DEMO_LISTEN=${DEMO_LISTEN:-127.0.0.1:8080}
DEMO_DEVICES=${DEMO_DEVICES:-300}
DEMO_SIM_LISTEN=${DEMO_SIM_LISTEN:-127.1.0.1}
DEMO_SIM_CONTROL=${DEMO_SIM_CONTROL:-127.0.0.1:7022}
DEMO_FAULTS=${DEMO_FAULTS:-eventhandler-disconnected=8%,egress-blocked=4%,connector-stopped=3%,not-enrolled=2%,region-mismatch=2%,auth-failure=1%}
# Planted incidents (docs/simulator.md, fault selectors): fmc-amer-00005 manages
# 9 FTDs with the default --seed 7 and 300 devices.
DEMO_INCIDENTS=${DEMO_INCIDENTS:-egress-blocked@site=apjc,eventhandler-disconnected@version=6.4.0.9,not-enrolled@fmc=fmc-amer-00005}
# Port 22 on every simulated address, as on real devices, when we may bind it.
DEMO_SIM_PORT=${DEMO_SIM_PORT:-$(sim_port)}
# The FMCs' REST API: 443 as on real FMCs when we may bind it, else ephemeral
# ports (written to the inventory as api_address).
DEMO_SIM_API_PORT=${DEMO_SIM_API_PORT:-$([ "$(id -u)" = 0 ] && echo 443 || echo 0)}
CONFIG=${DEMO_CONFIG:-config/fleetd.example.yaml}
BIN=./bin

export FLEETD_DATABASE_URL="postgres://postgres@${PGHOST_ADDR}:${PGPORT_NUM}/${DEMO_DB}?sslmode=disable"
export FLEETD_API_LISTEN=$DEMO_LISTEN
export FLEETD_LOG_FORMAT=json
# The lab credential of config/fleetd.example.yaml reads its password from here.
export FLEETD_LAB_PASSWORD=Admin123

stop_pid() { # name pidfile
	local name=$1 pidfile=$2
	[ -f "$pidfile" ] || return 0
	local pid
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null && grep -q "$name" "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	fi
	rm -f "$pidfile"
}

step_stop() {
	stop_pid fleetd "$DEMO_DIR/fleetd.pid"
	stop_pid ftdsim "$DEMO_DIR/ftdsim.pid"
}

wait_http() { # url pidfile logfile what
	for _ in $(seq 1 200); do
		if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$(cat "$2")" 2>/dev/null; then
			echo "$4 exited; last lines of $3:" >&2
			tail -n 20 "$3" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "$4 did not become ready; see $3" >&2
	return 1
}

ctl() { FLEETCTL_FORCE_TTY=1 "$BIN/fleetctl" "$@"; }
as() { # token-name fleetctl args...
	local who=$1; shift
	FLEETCTL_TOKEN=$(grep "^$who=" "$DEMO_DIR/tokens.env" | cut -d= -f2-) ctl "$@"
}
show() { printf '\n\033[36m$ fleetctl %s\033[0m\n' "$*" >&2; }

step_postgres() {
	log "1/8 PostgreSQL on $PGHOST_ADDR:$PGPORT_NUM, fresh database $DEMO_DB"
	ensure_postgres
	recreate_db "$DEMO_DB"
}

step_build() {
	log "2/8 building fleetd, fleetctl and ftdsim into $BIN"
	make --no-print-directory build >/dev/null
}

step_sim() {
	log "3/8 ftdsim: $DEMO_DEVICES devices from $DEMO_SIM_LISTEN port $DEMO_SIM_PORT, faults $DEMO_FAULTS"
	nohup "$BIN/ftdsim" --count "$DEMO_DEVICES" --sites emea,amer,apjc --faults "$DEMO_FAULTS${DEMO_INCIDENTS:+,$DEMO_INCIDENTS}" \
		--kinds "ftd=85%,fmc7=8%,fmc6=4%,fxos=3%" --listen "$DEMO_SIM_LISTEN" --port "$DEMO_SIM_PORT" \
		--api-port "$DEMO_SIM_API_PORT" \
		--time-scale 0.05 --seed 7 --control $DEMO_SIM_CONTROL \
		--inventory-out "$DEMO_DIR/fleet.csv" --fingerprints-out "$DEMO_DIR/fingerprints.txt" \
		>"$DEMO_DIR/ftdsim.log" 2>&1 &
	echo $! >"$DEMO_DIR/ftdsim.pid"
	wait_http http://$DEMO_SIM_CONTROL/devices "$DEMO_DIR/ftdsim.pid" "$DEMO_DIR/ftdsim.log" ftdsim
	echo "   try one by hand: ssh -p $DEMO_SIM_PORT admin@${DEMO_SIM_LISTEN%.*}.7 (password Admin123)" >&2
}

step_fleetd() {
	log "4/8 fleetd serve ($CONFIG, http://$DEMO_LISTEN, log $DEMO_DIR/fleetd.log) and tokens"
	nohup "$BIN/fleetd" serve --config "$CONFIG" >"$DEMO_DIR/fleetd.log" 2>&1 &
	echo $! >"$DEMO_DIR/fleetd.pid"
	wait_http "http://$DEMO_LISTEN/readyz" "$DEMO_DIR/fleetd.pid" "$DEMO_DIR/fleetd.log" fleetd
	umask 077
	{
		for t in demo-admin:admin ops-emea:operator lead-emea:approver; do
			printf '%s=%s\n' "${t%%:*}" \
				"$("$BIN/fleetd" token create --config "$CONFIG" --name "${t%%:*}" --role "${t##*:}" 2>/dev/null)"
		done
	} >"$DEMO_DIR/tokens.env"
	printf 'server: http://%s\ntoken: %s\n' "$DEMO_LISTEN" "$(grep '^ops-emea=' "$DEMO_DIR/tokens.env" | cut -d= -f2-)" >"$DEMO_DIR/fleetctl.yaml"
	printf 'export FLEETCTL_CONFIG=%s/fleetctl.yaml\nexport PATH=%s:$PATH\n' "$PWD/$DEMO_DIR" "$PWD/bin" >"$DEMO_DIR/demo.env"
	export FLEETCTL_CONFIG=$PWD/$DEMO_DIR/fleetctl.yaml
	echo "   tokens in $DEMO_DIR/tokens.env; fleetctl as ops-emea after: source $DEMO_DIR/demo.env" >&2
}

step_import() {
	log "5/8 importing the fleet's inventory"
	show "device import $DEMO_DIR/fleet.csv"
	ctl device import "$DEMO_DIR/fleet.csv" | tail -n 3
}

step_hostkeys() {
	log "6/8 host keys: first contact records them as pending (strict policy)"
	local id
	# One SSH check, and one REST check so that the FMCs of sites with
	# fmc_api enabled present their certificates too.
	id=$(ctl diagnose --all --check connector.properties --check fmc.cloud-events --detach -o json |
		sed -n 's/^ *"id": "\(.*\)",$/\1/p' | head -n1)
	ctl runs watch "$id" >/dev/null 2>&1 || true
	show "hostkey list --state pending   (first lines)"
	ctl hostkey list --state pending | sed -n 1,4p
	# Compare every pending fingerprint with the simulator's own list (the
	# out-of-band check an operator does with the device's console): SSH host
	# keys ("name SHA256:...") and FMC REST certificates ("name SHA256:... tls").
	local bad
	bad=$(ctl hostkey list --state pending -o json |
		python3 -c 'import json,sys
want={}
for l in open(sys.argv[1]):
    p=l.split()
    if p: want[(p[0], p[2] if len(p) > 2 else "ssh")]=p[1]
bad=[k["device"] for k in json.load(sys.stdin) if want.get((k["device"], k.get("kind") or "ssh"))!=k["fingerprint"]]
print(" ".join(bad))' "$DEMO_DIR/fingerprints.txt")
	if [ -n "$bad" ]; then echo "fingerprint mismatch for: $bad; not accepting" >&2; return 1; fi
	echo "   every pending fingerprint matches ftdsim's $DEMO_DIR/fingerprints.txt" >&2
	show "hostkey accept --all-pending"
	ctl hostkey accept --all-pending | tail -n 2
}

step_fmc() {
	log "FMC REST API: one emea FMC with Cisco Cloud events off, and the inventory from the FMC"
	local fmc id
	fmc=$(curl -fsS "http://$DEMO_SIM_CONTROL/devices" | python3 -c 'import json,sys
d=sorted(x["name"] for x in json.load(sys.stdin) if x["site"] == "emea" and x.get("api_address"))
print(d[0] if d else "")')
	if [ -z "$fmc" ]; then echo "   no FMC in emea this time" >&2; return 0; fi
	curl -fsS -X POST -H 'Content-Type: application/json' -d '{"fault":"cloud-events-off"}' \
		"http://$DEMO_SIM_CONTROL/devices/$fmc/faults" >/dev/null
	echo "   ftdsim: $fmc now has Cisco Cloud events off (fault cloud-events-off)" >&2
	show "diagnose --device $fmc"
	id=$({ ctl diagnose --device "$fmc" -o json || true; } | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	show "runs show $id --device $fmc   (its checks: SSH and REST)"
	ctl runs show "$id" --device "$fmc" | sed -n '/^CHECK/,/^$/p' || true
	show "device sync --from $fmc --dry-run"
	ctl device sync --from "$fmc" --dry-run | tail -n 8
}

step_diagnose() {
	log "7/8 diagnose the emea site"
	show "diagnose --site emea"
	ctl diagnose --site emea || true # exit 3: unhealthy devices found
	show "status --site emea --diagnosis eventhandler-disconnected"
	ctl status --site emea --diagnosis eventhandler-disconnected || true
}

step_remediate() {
	log "8/8 remediation with two-person approval"
	local dev
	dev=$({ "$BIN/fleetctl" status --site emea --diagnosis eventhandler-disconnected -o json || true; } |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["device"] if d else "")')
	if [ -z "$dev" ]; then echo "   no eventhandler-disconnected device in emea this time" >&2; return 0; fi
	show "remediate --restart-connector $dev --reason 'no intrusion events in XDR'   (as ops-emea)"
	local out id
	out=$(as ops-emea remediate --restart-connector "$dev" --reason "no intrusion events in XDR" -o json)
	id=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	{ as ops-emea requests show "$id" || true; } | sed -n 1,14p
	show "approve $id   (as ops-emea: refused, an operator cannot approve)"
	as ops-emea approve "$id" || true
	show "approvals list   (as lead-emea)"
	as lead-emea approvals list
	show "approve $id --comment 'INC-4711'   (as lead-emea)"
	{ as lead-emea approve "$id" --comment "INC-4711" || true; } | sed -n 1,3p
	for _ in $(seq 1 120); do
		state=$({ "$BIN/fleetctl" requests show "$id" -o json || true; } | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
		case $state in succeeded|failed|rejected|expired|cancelled) break ;; esac
		sleep 1
	done
	show "requests show $id"
	as ops-emea requests show "$id" || true
	show "diagnose --device $dev"
	ctl diagnose --device "$dev" || true

	# The two-person rule holds for approvers too: nobody approves their own request.
	local other
	other=$({ "$BIN/fleetctl" status --site emea --diagnosis eventhandler-disconnected -o json || true; } |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["device"] if d else "")')
	[ -n "$other" ] || return 0
	id=$(as lead-emea remediate --restart-connector "$other" --reason "demo: self-approval" -o json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	show "remediate --restart-connector $other; approve ${id:0:8}...   (both as lead-emea: refused)"
	as lead-emea approve "$id" || true
	show "requests cancel ${id:0:8}... --reason 'demo'   (as lead-emea)"
	{ as lead-emea requests cancel "$id" --reason "demo" || true; } | sed -n 1,3p
}

# The web console on the API's listener: its URL and a token to sign in with.
step_console() {
	log "console: the web console at http://$DEMO_LISTEN/ui/"
	curl -fsS "http://$DEMO_LISTEN/ui/signin" >/dev/null
	CONSOLE_TOKEN=$(grep '^ops-emea=' "$DEMO_DIR/tokens.env" | cut -d= -f2-)
	cat >&2 <<MSG
   open   http://$DEMO_LISTEN/ui/
   token  $CONSOLE_TOKEN   (ops-emea, operator)
   approve in another browser (or a private window) as lead-emea: its token is in $DEMO_DIR/tokens.env
MSG
}

step_incidents() {
	log "extra: fleet-level incidents ($DEMO_INCIDENTS)"
	local id
	id=$(ctl diagnose --all --detach -o json | sed -n 's/^ *"id": "\(.*\)",$/\1/p' | head -n1)
	ctl runs watch "$id" >/dev/null 2>&1 || true
	show "runs show $id   (diagnose --all; the incidents come first)"
	{ ctl runs show "$id" || true; } | sed -n 1,7p
	show "incidents --site apjc"
	ctl incidents --site apjc || true # exit 3: there is one
	printf '\n\033[36m$ curl -H "Authorization: Bearer $FLEETCTL_TOKEN" http://%s/metrics | grep ^fleetd_incidents\033[0m\n' "$DEMO_LISTEN" >&2
	local tok body=""
	tok=$(grep '^ops-emea=' "$DEMO_DIR/tokens.env" | cut -d= -f2-)
	for _ in $(seq 1 40); do # the gauges are refreshed every metrics.refresh_interval
		body=$(curl -fsS -H "Authorization: Bearer $tok" "http://$DEMO_LISTEN/metrics" | grep '^fleetd_incidents{' || true)
		[ -n "$body" ] && break
		sleep 1
	done
	printf '%s\n' "$body"
	show "diagnose --rerun $id --only error"
	{ ctl diagnose --rerun "$id" --only error || true; } | sed -n 1,4p
	show "remediate --restart-connector --from-run $id   (as ops-emea)"
	local out req
	out=$(as ops-emea remediate --restart-connector --from-run "$id" --reason "demo: upgrade incident" -o json)
	req=$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["id"]); print(len(r["devices"]), "devices:", ", ".join(r["devices"][:6]), "...", file=sys.stderr)')
	echo "   request $req is pending: it waits for an approver (cancelled here)" >&2
	{ as ops-emea requests cancel "$req" --reason "demo" || true; } | sed -n 1,2p
}

main() {
	mkdir -p "$DEMO_DIR"
	step_stop
	step_postgres
	step_build
	step_sim
	step_fleetd
	step_import
	step_hostkeys
	step_fmc
	step_diagnose
	step_remediate
	step_incidents
	step_console
	cat <<MSG

The demo keeps running: fleetd (pid $(cat "$DEMO_DIR/fleetd.pid"), log $DEMO_DIR/fleetd.log) and
ftdsim (pid $(cat "$DEMO_DIR/ftdsim.pid"), control API http://$DEMO_SIM_CONTROL/devices). Try:

  source $DEMO_DIR/demo.env        # fleetctl as ops-emea; other tokens in $DEMO_DIR/tokens.env
  fleetctl diagnose --site amer
  fleetctl runs list
  fleetctl status --diagnosis egress-blocked
  open http://$DEMO_LISTEN/ui/ and sign in with $CONSOLE_TOKEN (ops-emea)
  make demo-stop
MSG
}

case ${1:-} in
	stop) step_stop ;;
	"") main ;;
	*) echo "usage: $0 [stop]" >&2; exit 2 ;;
esac
