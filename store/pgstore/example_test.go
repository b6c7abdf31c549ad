package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/go2fa/go2fa/store/pgstore"
)

// A Store on the database named by DATABASE_URL, in a schema of its own.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	// Create or update the schema; safe when several instances start at once.
	if err := pgstore.Migrate(ctx, pool, pgstore.WithSchema("myapp_2fa")); err != nil {
		log.Fatal(err)
	}
	st, err := pgstore.New(pool, pgstore.WithSchema("myapp_2fa"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	// Pass st as otp.Config.Store.
}
