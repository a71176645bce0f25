package runs

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/testdb"
)

// TestHotStatementsProbeByKeyWhateverTheStatistics: the statements every
// device result and every device job runs are planned as primary-key
// probes even with the statistics PostgreSQL usually has while a run is in
// progress — taken when no row was pending, and before the run's id
// existed. With plain joins the planner then scanned run_devices: for the
// result write with the batch's jsonb_to_recordset re-run for each pending
// row (0.2–0.9 s a batch), for the job's load through the (run_id, device)
// index (6,400 buffers a batch). Issue 15.
func TestHotStatementsProbeByKeyWhateverTheStatistics(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO sites (name, region, timezone) VALUES ('emea', 'eu', 'UTC');
		INSERT INTO credentials (name, username) VALUES ('lab', 'admin');
		INSERT INTO devices (id, name, kind, site, address, credential)
			SELECT gen_random_uuid(), 'ftd-' || i, 'ftd', 'emea', '127.0.0.1', 'lab' FROM generate_series(1, 2000) i;
		INSERT INTO host_keys (device_id, key_type, public_key, fingerprint, state, pinned_at)
			SELECT id, 'ssh-ed25519', '\x00', 'SHA256:' || id, 'pinned', now() FROM devices`)
	require.NoError(t, err)
	done, running := uuid.New(), uuid.New()
	for _, run := range []uuid.UUID{done, running} {
		_, err = pool.Exec(ctx, `INSERT INTO runs (id, kind, status, requested_by, selector, checks, total, created_at)
			VALUES ($1, 'diagnose', 'running', 'ops', '{}', '{}', 2000, now())`, run)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO run_devices (run_id, device_id, device, site, kind)
			SELECT $1, id, name, site, kind FROM devices`, run)
		require.NoError(t, err)
		if run == done {
			// A finished run, then the statistics of an idle moment.
			_, err = pool.Exec(ctx, `UPDATE run_devices SET state = 'done', health = 'healthy' WHERE run_id = $1`, run)
			require.NoError(t, err)
			_, err = pool.Exec(ctx, `ANALYZE run_devices; ANALYZE devices; ANALYZE host_keys`)
			require.NoError(t, err)
		}
	}
	var ids []uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(device_id) FROM (SELECT device_id FROM run_devices
		WHERE run_id = $1 LIMIT 100) x`, running).Scan(&ids))
	input := make([]string, len(ids))
	for i, id := range ids {
		input[i] = fmt.Sprintf(`{"run_id":%q,"device_id":%q,"health":"healthy","checks":[],"attempts":1,`+
			`"recommended":"","error":"","diagnoses":[],"started_at":"2026-12-02T00:00:00Z","finished_at":"2026-12-02T00:00:01Z"}`, running, id)
	}

	plan := func(sql string, args ...any) string {
		// As a prepared statement's plan settles: generic and custom alike.
		var out []string
		for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
			func() {
				tx, err := pool.Begin(ctx)
				require.NoError(t, err)
				defer func() { _ = tx.Rollback(ctx) }()
				_, err = tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode)
				require.NoError(t, err)
				rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) "+sql, args...)
				require.NoError(t, err)
				defer rows.Close()
				for rows.Next() {
					var line string
					require.NoError(t, rows.Scan(&line))
					out = append(out, line)
				}
				require.NoError(t, rows.Err(), mode)
			}()
		}
		return strings.Join(out, "\n")
	}

	// The batch's input is read once, and the update is driven by it (a
	// hash join or TID probes, whichever is cheaper), never by a scan of
	// run_devices that re-reads the input for each pending row.
	p := plan(recordSQL, "["+strings.Join(input, ",")+"]")
	for _, line := range strings.Split(p, "\n") {
		if strings.Contains(line, "jsonb_to_recordset") || strings.Contains(line, "CTE Scan on target") {
			require.Contains(t, line, "loops=1)", p)
		}
	}
	require.Contains(t, p, "CTE Scan on target", p)

	p = plan(jobDevicesSQL, running, ids[:8], uuid.New(), "1 minute", "replica")
	require.Contains(t, p, "run_devices_pkey", p)
	require.NotContains(t, p, "Seq Scan on run_devices", p)
	require.NotContains(t, p, "Seq Scan on host_keys", p)
	require.NotContains(t, p, "Seq Scan on devices", p)
}
