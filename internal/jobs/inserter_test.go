package jobs_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/internal/jobs"
	"github.com/fleetd/fleetd/internal/testdb"
)

// TestInserterGoesThroughTheBoundClient: an Inserter refuses to insert
// until it is bound, then inserts through its client, in and out of a
// transaction.
func TestInserterGoesThroughTheBoundClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	var q jobs.Inserter
	_, err := q.Insert(ctx, noopArgs{}, nil)
	require.ErrorContains(t, err, "not built yet")

	client, err := jobs.NewClient(pool, nil, jobs.Config{}, zaptest.NewLogger(t))
	require.NoError(t, err)
	q.Bind(client)
	_, err = q.Insert(ctx, noopArgs{N: 1}, nil)
	require.NoError(t, err)
	_, err = q.InsertMany(ctx, []river.InsertManyParams{{Args: noopArgs{N: 2}}})
	require.NoError(t, err)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = q.InsertTx(ctx, tx, noopArgs{N: 3}, nil)
	require.NoError(t, err)
	_, err = q.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: noopArgs{N: 4}}})
	require.NoError(t, err)
	n, err := q.InsertManyFastTx(ctx, tx, []river.InsertManyParams{{Args: noopArgs{N: 5}}})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, tx.Commit(ctx))
	var count int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'noop'`).Scan(&count))
	require.Equal(t, 5, count)
}
