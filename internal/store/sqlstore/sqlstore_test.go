package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
