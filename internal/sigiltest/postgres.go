package sigiltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
)

// DefaultPostgres is the database the tests use unless SIGIL_TEST_POSTGRES
// names another. `make test` makes sure it exists (starting PostgreSQL from
// Debian's packages if none is running).
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/sigil_test?sslmode=disable"

// Engine is the store engine the integration tests run against:
// SIGIL_TEST_ENGINE=postgres or sqlite (the default).
func Engine() string {
	if os.Getenv("SIGIL_TEST_ENGINE") == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// PostgresURL creates an empty schema for one test in the test database and
// returns a store URL that uses it; the schema is dropped afterwards. A
// database that cannot be reached fails the test.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SIGIL_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("PostgreSQL is required but not reachable at %s: %v (run `make test`, which starts it, or set SIGIL_TEST_POSTGRES)", base, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec(`DROP SCHEMA "` + schema + `" CASCADE`)
		db.Close()
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// StoreURL returns a fresh store for one test on the engine under test:
// "" (SQLite in the data directory) or a PostgreSQL schema URL.
func StoreURL(t testing.TB) string {
	if Engine() == "postgres" {
		return PostgresURL(t)
	}
	return ""
}

// StoreArgs returns the `sigil serve` arguments that select a fresh store on
// the engine under test (nothing for SQLite in the data directory). Call it
// once per data directory and reuse the result across restarts.
func StoreArgs(t testing.TB) []string {
	if u := StoreURL(t); u != "" {
		return []string{"--store", u}
	}
	return nil
}
