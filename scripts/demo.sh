#!/usr/bin/env bash
# make demo: a local fleetd on a fresh database with the example inventory.
#
#   scripts/demo.sh         set up and start (idempotent: restarts the demo)
#   scripts/demo.sh stop    stop the demo's fleetd
#
# Everything the demo creates lives in ./.demo (log, pid file, tokens, fleetctl
# config) and in the database fleetd_demo, which is recreated each run.
# Later steps (simulated fleet, host keys, diagnose, remediation) are added as
# step_* functions and called from main.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DEMO_DIR=${DEMO_DIR:-.demo}
DEMO_DB=${DEMO_DB:-fleetd_demo}
DEMO_LISTEN=${DEMO_LISTEN:-127.0.0.1:8080}
CONFIG=${DEMO_CONFIG:-config/fleetd.example.yaml}
INVENTORY=${DEMO_INVENTORY:-config/inventory.example.csv}
PIDFILE=$DEMO_DIR/fleetd.pid
BIN=./bin

export FLEETD_DATABASE_URL="postgres://postgres@${PGHOST_ADDR}:${PGPORT_NUM}/${DEMO_DB}?sslmode=disable"
export FLEETD_API_LISTEN=$DEMO_LISTEN

step_stop() {
	# Only the process this script started, identified by its pid file and
	# checked to still be a fleetd.
	if [ -f "$PIDFILE" ]; then
		local pid
		pid=$(cat "$PIDFILE")
		if kill -0 "$pid" 2>/dev/null && grep -q fleetd "/proc/$pid/cmdline" 2>/dev/null; then
			log "stopping fleetd (pid $pid)"
			kill "$pid"
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		fi
		rm -f "$PIDFILE"
	fi
}

step_postgres() {
	log "1/6 PostgreSQL on $PGHOST_ADDR:$PGPORT_NUM, fresh database $DEMO_DB"
	ensure_postgres
	recreate_db "$DEMO_DB"
}

step_build() {
	log "2/6 building fleetd and fleetctl into $BIN"
	make --no-print-directory build >/dev/null
}

step_fleetd() {
	log "3/6 starting fleetd ($CONFIG, http://$DEMO_LISTEN, log $DEMO_DIR/fleetd.log)"
	"$BIN/fleetd" migrate up --config "$CONFIG" >/dev/null 2>"$DEMO_DIR/migrate.log"
	nohup "$BIN/fleetd" serve --config "$CONFIG" >"$DEMO_DIR/fleetd.log" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 1 100); do
		if curl -fsS "http://$DEMO_LISTEN/readyz" >/dev/null 2>&1; then return 0; fi
		if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
			echo "fleetd exited; last lines of $DEMO_DIR/fleetd.log:" >&2
			tail -n 20 "$DEMO_DIR/fleetd.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "fleetd did not become ready; see $DEMO_DIR/fleetd.log" >&2
	return 1
}

step_tokens() {
	log "4/6 creating tokens demo-admin, demo-operator, demo-approver ($DEMO_DIR/tokens.env)"
	umask 077
	{
		for role in admin operator approver; do
			printf 'DEMO_%s_TOKEN=%s\n' "${role^^}" \
				"$("$BIN/fleetd" token create --config "$CONFIG" --name "demo-$role" --role "$role" 2>/dev/null)"
		done
	} >"$DEMO_DIR/tokens.env"
	. "$DEMO_DIR/tokens.env"
	# fleetctl reads this file when FLEETCTL_CONFIG points at it (see demo.env).
	printf 'server: http://%s\ntoken: %s\n' "$DEMO_LISTEN" "$DEMO_OPERATOR_TOKEN" >"$DEMO_DIR/fleetctl.yaml"
	printf 'export FLEETCTL_CONFIG=%s/fleetctl.yaml\nexport PATH=%s:$PATH\n' "$PWD/$DEMO_DIR" "$PWD/bin" >"$DEMO_DIR/demo.env"
	export FLEETCTL_CONFIG=$PWD/$DEMO_DIR/fleetctl.yaml
}

step_import() {
	log "5/6 fleetctl device import $INVENTORY"
	FLEETCTL_FORCE_TTY=1 "$BIN/fleetctl" device import "$INVENTORY"
}

step_list() {
	log "6/6 fleetctl device list"
	FLEETCTL_FORCE_TTY=1 "$BIN/fleetctl" device list
	echo
	echo "fleetctl device list -o json | head -n 14:"
	"$BIN/fleetctl" device list -o json | head -n 14
}

main() {
	mkdir -p "$DEMO_DIR"
	step_stop
	step_postgres
	step_build
	step_fleetd
	step_tokens
	step_import
	step_list
	cat <<MSG

fleetd is running (pid $(cat "$PIDFILE"), log $DEMO_DIR/fleetd.log). To use it:

  source $DEMO_DIR/demo.env        # fleetctl as demo-operator; other tokens in $DEMO_DIR/tokens.env
  fleetctl device list --site emea
  make demo-stop
MSG
}

case ${1:-} in
	stop) step_stop ;;
	"") main ;;
	*) echo "usage: $0 [stop]" >&2; exit 2 ;;
esac
