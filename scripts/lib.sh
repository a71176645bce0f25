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
