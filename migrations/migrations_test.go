package migrations_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/dbmigrate"
	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/migrations"
)

// helperEnv makes the test binary a one-shot `migrate up` process, so the
// concurrency test can race real separate processes.
const helperEnv = "FLEETD_MIGRATE_HELPER_URL"

func TestMain(m *testing.M) {
	if dsn := os.Getenv(helperEnv); dsn != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pool, err := pgxpool.New(ctx, dsn)
		if err == nil {
			err = dbmigrate.Up(ctx, pool, nil)
			pool.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		fmt.Println("helper: up ok")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// emptySchema returns a connection string whose search_path is a new, empty
// schema in a fresh test database: to goose and River it is an empty database.
func emptySchema(t *testing.T) string {
	t.Helper()
	dsn := testdb.URL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "empty_" + hex.EncodeToString(b)
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func requireAllApplied(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	sts, err := dbmigrate.Status(context.Background(), pool)
	require.NoError(t, err)
	require.NotEmpty(t, sts)
	for _, s := range sts {
		require.True(t, s.Applied, "%s migration %d %s not applied", s.Source, s.Version, s.Name)
	}
}

func TestUpFromEmptyThenDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := openPool(t, emptySchema(t))

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&n))
	require.Zero(t, n, "starts empty")

	require.NoError(t, dbmigrate.Up(ctx, pool, nil))
	requireAllApplied(t, pool)
	for _, table := range []string{"sites", "credentials", "devices", "host_keys", "api_tokens", "audit_events", "river_job"} {
		var reg *string
		require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass(current_schema() || '.' || $1)::text`, table).Scan(&reg))
		require.NotNil(t, reg, "table %s", table)
	}
	require.NoError(t, dbmigrate.Up(ctx, pool, nil), "second up is a no-op")

	// Every fleetd migration's Down section works, and Up after Down restores it.
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	require.NoError(t, err)
	_, err = p.DownTo(ctx, 0)
	require.NoError(t, err)
	var reg *string
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass(current_schema() || '.devices')::text`).Scan(&reg))
	require.Nil(t, reg, "down removed the tables")
	require.NoError(t, dbmigrate.Up(ctx, pool, nil))
	requireAllApplied(t, pool)
}

// Two fleetd processes and two pools in this process migrate the same empty
// database at once: all succeed and every migration is applied exactly once.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := emptySchema(t)

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+dsn)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "helper: up ok") {
				errs <- fmt.Errorf("helper process: %v: %s", err, out)
			}
		}()
	}
	for range 2 {
		pool := openPool(t, dsn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := dbmigrate.Up(ctx, pool, nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	pool := openPool(t, dsn)
	requireAllApplied(t, pool)
	var dup int
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT count(*) FROM (SELECT version_id FROM goose_db_version WHERE version_id > 0
		GROUP BY version_id HAVING count(*) > 1) d`).Scan(&dup))
	require.Zero(t, dup, "a migration recorded twice")
}

// Migration 013: new transcripts and checks are compressed with lz4 on a
// server built with it (pglz cost PostgreSQL a third of its CPU a device).
func TestResultValuesUseLZ4(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := openPool(t, emptySchema(t))
	require.NoError(t, dbmigrate.Up(ctx, pool, nil))
	var lz4 bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT 'lz4' = ANY (enumvals) FROM pg_settings
		WHERE name = 'default_toast_compression'`).Scan(&lz4))
	want := map[bool]string{true: "l", false: ""}[lz4]
	for _, c := range [][2]string{{"run_transcripts", "transcript"}, {"run_devices", "checks"}} {
		var got string
		require.NoError(t, pool.QueryRow(ctx, `SELECT attcompression::text FROM pg_attribute
			WHERE attrelid = (current_schema() || '.' || $1)::regclass AND attname = $2`, c[0], c[1]).Scan(&got))
		require.Equal(t, want, got, "%s.%s", c[0], c[1])
	}
}
