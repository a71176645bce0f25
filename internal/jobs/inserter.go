package jobs

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Inserter is the River client as the services that insert jobs see it. It
// exists before the client does: River needs every worker when the client
// is built, the workers need the services, and the services need to insert.
// So the services are given an Inserter, the workers are built on them, the
// client on the workers, and Bind points the Inserter at the client, all
// in one constructor (internal/app.New) before it returns. An insert before
// Bind fails; nothing is ever inserted through a second client.
type Inserter struct{ c atomic.Pointer[Client] }

var errNotBound = errors.New("job queue: not built yet")

// Bind makes every insert go through c.
func (q *Inserter) Bind(c *Client) { q.c.Store(c) }

func (q *Inserter) client() (*Client, error) {
	c := q.c.Load()
	if c == nil {
		return nil, errNotBound
	}
	return c, nil
}

// Insert is river.Client.Insert.
func (q *Inserter) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	c, err := q.client()
	if err != nil {
		return nil, err
	}
	return c.Insert(ctx, args, opts)
}

// InsertTx is river.Client.InsertTx.
func (q *Inserter) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	c, err := q.client()
	if err != nil {
		return nil, err
	}
	return c.InsertTx(ctx, tx, args, opts)
}

// InsertMany is river.Client.InsertMany.
func (q *Inserter) InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	c, err := q.client()
	if err != nil {
		return nil, err
	}
	return c.InsertMany(ctx, params)
}

// InsertManyTx is river.Client.InsertManyTx.
func (q *Inserter) InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	c, err := q.client()
	if err != nil {
		return nil, err
	}
	return c.InsertManyTx(ctx, tx, params)
}

// InsertManyFastTx is river.Client.InsertManyFastTx.
func (q *Inserter) InsertManyFastTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) (int, error) {
	c, err := q.client()
	if err != nil {
		return 0, err
	}
	return c.InsertManyFastTx(ctx, tx, params)
}
