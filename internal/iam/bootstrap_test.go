package iam_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/sigiltest"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

// TestBootstrapRace starts several "nodes" on one new database at once:
// exactly one creates the administrator, on both engines.
func TestBootstrapRace(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			url := "sqlite:" + filepath.Join(t.TempDir(), "db")
			if engine == "postgres" {
				url = sigiltest.PostgresURL(t)
			}
			mk, _ := seal.NewMasterKey(bytes.Repeat([]byte{4}, 32))
			var wg sync.WaitGroup
			results := make(chan *iam.BootstrapResult, 6)
			for i := 0; i < 6; i++ {
				st, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				wg.Add(1)
				go func(st store.Store) {
					defer wg.Done()
					res, err := iam.New(st, seal.NewKeyring(mk), clock.NewFake(time.Now())).Bootstrap(context.Background())
					if err != nil {
						t.Error(err)
					}
					results <- res
				}(st)
			}
			wg.Wait()
			close(results)
			created := 0
			for r := range results {
				if r != nil {
					created++
				}
			}
			st, _ := sqlstore.Open(context.Background(), url, sqlstore.Options{})
			defer st.Close()
			var n int
			st.View(context.Background(), func(tx store.Tx) (err error) { n, err = tx.Accounts().Count(context.Background()); return })
			if created != 1 || n != 1 {
				t.Fatalf("%d nodes bootstrapped, %d accounts", created, n)
			}
		})
	}
}
