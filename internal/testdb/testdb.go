// Package testdb gives tests a real, freshly migrated PostgreSQL database.
//
// Where the server comes from, in order:
//  1. TEST_DATABASE_URL (CI and these machines: postgres://postgres@127.0.0.1:5432/test?sslmode=disable);
//  2. a testcontainers-go Postgres container, when a Docker engine is reachable;
//  3. otherwise the test fails with a message saying how to provide one.
//
// Each call creates its own database, cloned from a template database that
// holds the current migrations (one template per distinct set of migration
// files, built once under an advisory lock so parallel test binaries share
// it). Cloning takes tens of milliseconds, so every test can have its own
// database and tests run in parallel without seeing each other's rows. The
// database is dropped when the test ends.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/fleetd/fleetd/internal/dbmigrate"
	"github.com/fleetd/fleetd/migrations"
)

// EnvVar names the environment variable that points tests at a server.
const EnvVar = "TEST_DATABASE_URL"

const howTo = "no PostgreSQL for tests: set " + EnvVar +
	" (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable; the role needs CREATEDB) " +
	"or make a Docker engine reachable for testcontainers-go"

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error

	templateMu    sync.Mutex
	templateReady = map[string]bool{}
)

// New returns a pool on a fresh migrated database, closed and dropped when
// the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := URL(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	// Registered after URL's cleanup, so it runs first: close, then drop.
	t.Cleanup(pool.Close)
	return pool
}

// URL creates a fresh migrated database and returns its connection string,
// for tests that start fleetd as a subprocess. The database is dropped
// (with FORCE, so leftover connections do not block it) when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	admin := adminURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	tmpl := ensureTemplate(t, ctx, admin)
	name := "fleetd_t_" + randomHex(6)
	conn := connect(t, ctx, admin)
	defer conn.Close(context.WithoutCancel(ctx))
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		// Cloning fails while another session is connected to the template
		// (for example a parallel binary just finishing its build); retry.
		_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		if err == nil || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("testdb: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, admin, name)
}

// adminURL is the server's URL as given (its database is only used to
// create and drop the test databases).
func adminURL(t testing.TB) string {
	serverOnce.Do(func() {
		if u := os.Getenv(EnvVar); u != "" {
			serverURL = u
			return
		}
		serverURL, serverErr = startContainer()
	})
	if serverErr != nil {
		t.Fatalf("testdb: %s (%v)", howTo, serverErr)
	}
	return serverURL
}

func startContainer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("docker: %w", err)
	}
	if err := provider.Health(ctx); err != nil {
		return "", fmt.Errorf("docker not reachable: %w", err)
	}
	c, err := tcpostgres.Run(ctx, "postgres:16-alpine",
		tcpostgres.WithDatabase("test"), tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"), tcpostgres.BasicWaitStrategies())
	if err != nil {
		return "", fmt.Errorf("start postgres container: %w", err)
	}
	// The container is reaped by testcontainers' Ryuk when the test binary exits.
	return c.ConnectionString(ctx, "sslmode=disable")
}

// ensureTemplate builds (once per migration set, across processes) a
// template database holding the current schema and returns its name.
func ensureTemplate(t testing.TB, ctx context.Context, admin string) string {
	t.Helper()
	name := "fleetd_tmpl_" + migrationsHash(t)
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateReady[name] {
		return name
	}
	conn := connect(t, ctx, admin)
	defer conn.Close(context.WithoutCancel(ctx))
	// Serialise template builds across test binaries running in parallel.
	const lock = int64(0x666c74656d706c) // "fltempl"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		t.Fatalf("testdb: lock: %v", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lock) //nolint:errcheck

	var exists bool
	if err := conn.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&exists); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if !exists {
		building := name + "_b"
		_, _ = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building))
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
			t.Fatalf("testdb: create template: %v", err)
		}
		pool, err := pgxpool.New(ctx, withDatabase(t, admin, building))
		if err != nil {
			t.Fatalf("testdb: connect template: %v", err)
		}
		err = dbmigrate.Up(ctx, pool, nil)
		pool.Close()
		if err != nil {
			t.Fatalf("testdb: migrate template: %v", err)
		}
		for _, q := range []string{
			fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name),
			fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name),
			fmt.Sprintf("ALTER DATABASE %s WITH is_template true", name),
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("testdb: finish template: %s: %v", q, err)
			}
		}
	}
	templateReady[name] = true
	return name
}

// migrationsHash identifies the migration set, so that a changed migration
// file gets a new template instead of a stale schema.
func migrationsHash(t testing.TB) string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			t.Fatalf("testdb: read migration %s: %v", n, err)
		}
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func connect(t testing.TB, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("testdb: connect to %s: %v (%s)", redact(dsn), err, howTo)
	}
	return conn
}

func withDatabase(t testing.TB, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("testdb: %s must be a postgres:// URL", EnvVar)
	}
	u.Path = "/" + db
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
