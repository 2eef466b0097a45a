package pgstore_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authix-go/authix/pgstore"
)

// A replica's start: the tables, then a Store that listens for the other
// replicas' logouts. Behind PgBouncer in transaction pooling mode, add
// default_query_exec_mode=exec to DATABASE_URL and give WithPolling.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		log.Fatal(err)
	}
	store, err := pgstore.New(pool) // or pgstore.New(pool, pgstore.WithPolling(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	var id [32]byte // authix.TokenID: the vault passes these
	if err := store.Revoke(ctx, id, time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err) // the logout did not commit: tell the user
	}
}
