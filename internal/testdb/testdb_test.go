package testdb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/dbmigrate"
	"github.com/fleetd/fleetd/internal/testdb"
)

func TestFreshDatabasesAreMigratedAndIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := testdb.New(t), testdb.New(t)

	var dbA, dbB string
	require.NoError(t, a.QueryRow(ctx, "SELECT current_database()").Scan(&dbA))
	require.NoError(t, b.QueryRow(ctx, "SELECT current_database()").Scan(&dbB))
	require.NotEqual(t, dbA, dbB)

	sts, err := dbmigrate.Status(ctx, a)
	require.NoError(t, err)
	require.NotEmpty(t, sts)
	for _, s := range sts {
		require.True(t, s.Applied, "migration %s %d not applied", s.Source, s.Version)
	}
	// River's tables are there too.
	var n int
	require.NoError(t, a.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&n))
	require.Zero(t, n)
}
