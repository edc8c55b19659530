package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/storetest"
)

func openTemp(t *testing.T) store.Store {
	t.Helper()
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "sigil.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteConformance(t *testing.T) { storetest.Run(t, openTemp) }

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sigil.db")
	for i := 0; i < 2; i++ {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		var n int
		s.writer.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
		migs, _ := loadMigrations("sqlite")
		if n != len(migs) {
			t.Fatalf("open %d: %d migrations recorded, want %d", i, n, len(migs))
		}
		s.Close()
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sigil.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.writer.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`)
	s.Close()
	if _, err := Open(context.Background(), path, Options{}); err == nil {
		t.Fatal("opened a database from the future")
	}
}

func TestURLs(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:/var/lib/sigil.db":         "/var/lib/sigil.db",
		"sqlite:///var/lib/sigil.db":       "/var/lib/sigil.db",
		"sqlite:rel/s.db?synchronous=full": "rel/s.db",
		"/plain/path.db":                   "/plain/path.db",
	} {
		got, _, err := SQLitePath(in)
		if err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"mysql://x", "sqlite:", "sqlite:x.db?synchronous=off"} {
		if _, err := Open(context.Background(), bad, Options{}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// A data directory that cannot be created is a clear error.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(context.Background(), filepath.Join(f, "sub", "x.db"), Options{}); err == nil {
		t.Error("database under a regular file accepted")
	}
}

func TestRebindDollar(t *testing.T) {
	got := rebindDollar(`SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?`)
	if got != `SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2` {
		t.Fatal(got)
	}
}

// BenchmarkConcurrentInserts measures certificate inserts through Update
// from many goroutines: the group-commit writer's capacity.
func BenchmarkConcurrentInserts(b *testing.B) {
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(b.TempDir(), "sigil.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	s.Update(ctx, func(tx store.Tx) error {
		return tx.CAs().Insert(ctx, &store.CA{ID: "ca", ARN: "arn", Account: "1", Type: "ROOT", Status: "ACTIVE", UsageMode: "G",
			KeyStorageSecurityStandard: "F", Config: []byte("{}"), KeyRef: []byte("k"), CSR: []byte("c"), CreatedAt: now, LastStateChangeAt: now})
	})
	der := make([]byte, 700)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			err := s.Update(ctx, func(tx store.Tx) error {
				if _, err := tx.CAs().Version(ctx, "ca"); err != nil {
					return err
				}
				return tx.Certificates().Insert(ctx, &store.Certificate{CAID: "ca", Serial: fmt.Sprintf("%032x", i), Account: "1",
					DER: der, NotBefore: now, NotAfter: now, IssuedAt: now, TemplateARN: "t"})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestCloseWhileWriting closes the store under concurrent writers: every
// Update either commits or reports that the store is closed; nothing races
// or panics (run with -race).
func TestCloseWhileWriting(t *testing.T) {
	s, err := Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "sigil.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				err := s.Update(ctx, func(tx store.Tx) error { return tx.Meta().Put(ctx, fmt.Sprintf("k%d-%d", w, i), "v") })
				if err != nil && errs.KindOf(err) != errs.Unavailable && !strings.Contains(err.Error(), "closed") {
					t.Errorf("update during close: %v", err)
				}
			}
		}(w)
	}
	time.Sleep(5 * time.Millisecond)
	s.Close()
	wg.Wait()
}

// TestACMQueriesUseIndexes checks, with SQLite's query planner, that the
// scheduler's due-date queries read their partial indexes and that a page
// after a cursor seeks the listing index instead of scanning the table: the
// cost of a job run or a deep page must not grow with the certificates
// stored.
func TestACMQueriesUseIndexes(t *testing.T) {
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan := func(q string, args ...any) string {
		rows, err := st.reader.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	for q, index := range map[string]string{
		qACMRenewalDue:     "acm_certificates_renew",
		qACMExpiryEventDue: "acm_certificates_expiry_event",
		qACMExpiredDue:     "acm_certificates_expire",
		`SELECT c.id FROM acm_certificates c WHERE c.account_id = ? AND (c.created_at, c.id) > (?, ?) AND c.created_at >= ?
			ORDER BY c.created_at, c.id LIMIT 100`: "acm_certificates_created",
		`SELECT c.id FROM acm_certificates c WHERE c.account_id = ? AND COALESCE(c.not_after, 0) <= ?
			AND (COALESCE(c.not_after, 0), c.id) > (?, ?) AND COALESCE(c.not_after, 0) >= ?
			ORDER BY COALESCE(c.not_after, 0), c.id LIMIT 100`: "acm_certificates_not_after",
	} {
		p := plan(q, 1, 2, 3, 4, 5)
		if !strings.Contains(p, "USING INDEX "+index) && !strings.Contains(p, "USING COVERING INDEX "+index) {
			t.Errorf("%s\nplan: %s\nwant index %s", q, p, index)
		}
		// A page seeks to the cursor: the index search is bounded by more
		// than the account (the OR form of the cursor gives only account_id=?).
		if strings.Contains(q, "account_id") && !strings.Contains(p, "(account_id=? AND ") {
			t.Errorf("%s\nplan does not seek to the cursor: %s", q, p)
		}
		if strings.Contains(p, "SCAN c") && !strings.Contains(p, "USING") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\nplan scans or sorts: %s", q, p)
		}
	}
}
