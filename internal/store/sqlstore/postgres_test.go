package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sigilhq/sigil/internal/sigiltest"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
	"github.com/sigilhq/sigil/internal/store/storetest"
)

func openPostgres(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sigiltest.PostgresURL(t), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) { storetest.Run(t, openPostgres) }

// TestPostgresMigrateTogether opens several stores on one new database at
// once, as nodes starting together do: migrations run once, nobody fails.
func TestPostgresMigrateTogether(t *testing.T) {
	url := sigiltest.PostgresURL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent start: %v", err)
		}
	}
	s, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := s.MigrationCount(t.Context()); n != sqlstore.MigrationsAvailable("postgres") {
		t.Fatalf("%d migrations recorded, want %d", n, sqlstore.MigrationsAvailable("postgres"))
	}
}
