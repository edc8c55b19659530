package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/sigiltest"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

func openEngine(t *testing.T, engine string) *sqlstore.Store {
	t.Helper()
	url := "sqlite:" + filepath.Join(t.TempDir(), "db")
	if engine == "postgres" {
		url = sigiltest.PostgresURL(t)
	}
	s, err := sqlstore.Open(context.Background(), url, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var at = time.Date(2026, 7, 8, 9, 10, 11, 123456000, time.UTC)

func fill(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		tx.Meta().Put(ctx, "master_key_id", "abc")
		tx.Accounts().Insert(ctx, &store.Account{ID: "111122223333", Name: "a", CreatedAt: at})
		tx.AccessKeys().Insert(ctx, &store.AccessKey{ID: "AKIA1", Account: "111122223333", PrincipalARN: "arn:p",
			SecretSealed: []byte{0, 1, 2, 255}, Status: "Active", CreatedAt: at})
		ca := &store.CA{ID: "ca1", ARN: "arn:ca1", Account: "111122223333", Type: "ROOT", Status: "ACTIVE", UsageMode: "GENERAL_PURPOSE",
			KeyStorageSecurityStandard: "X", Config: []byte(`{"a":"é"}`), KeyRef: []byte{9, 9}, CSR: []byte{1}, Certificate: []byte{2},
			Serial: "01", NotBefore: at, NotAfter: at.Add(time.Hour), CreatedAt: at, LastStateChangeAt: at}
		if err := tx.CAs().Insert(ctx, ca); err != nil {
			return err
		}
		tx.Certificates().Insert(ctx, &store.Certificate{CAID: "ca1", Serial: "0a", Account: "111122223333", DER: []byte("der"),
			NotBefore: at, NotAfter: at, IssuedAt: at, TemplateARN: "t"})
		tx.Tags().Replace(ctx, "arn:ca1", []store.Tag{{Key: "k", Value: "v"}, {Key: "empty"}})
		return tx.Idempotency().Put(ctx, &store.IdempotencyRecord{Scope: "s", Token: "t", Fingerprint: []byte{7}, Result: "r",
			ExpiresAt: at.Add(time.Hour)}, at)
	})
	if err != nil {
		t.Fatal(err)
	}
}

type snapshot struct {
	Meta  string
	Acct  *store.Account
	Key   *store.AccessKey
	CA    *store.CA
	Cert  *store.Certificate
	Tags  []store.Tag
	Idem  *store.IdempotencyRecord
	Count int
}

func snap(t *testing.T, s store.Store) snapshot {
	ctx := context.Background()
	var out snapshot
	err := s.View(ctx, func(tx store.Tx) (err error) {
		out.Meta, _ = tx.Meta().Get(ctx, "master_key_id")
		out.Acct, _ = tx.Accounts().Get(ctx, "111122223333")
		out.Key, _ = tx.AccessKeys().Get(ctx, "AKIA1")
		out.CA, _ = tx.CAs().Get(ctx, "ca1")
		out.Cert, _ = tx.Certificates().Get(ctx, "ca1", "0a")
		out.Tags, _ = tx.Tags().List(ctx, "arn:ca1")
		out.Idem, _ = tx.Idempotency().Get(ctx, "s", "t", at)
		out.Count, err = tx.Certificates().CountByCA(ctx, "ca1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDumpLoadAcrossEngines(t *testing.T) {
	for _, pair := range [][2]string{{"sqlite", "sqlite"}, {"sqlite", "postgres"}, {"postgres", "sqlite"}} {
		t.Run(pair[0]+"-to-"+pair[1], func(t *testing.T) {
			src, dst := openEngine(t, pair[0]), openEngine(t, pair[1])
			fill(t, src)
			var buf bytes.Buffer
			st, err := src.Dump(context.Background(), &buf)
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != 8 {
				t.Fatalf("dumped %d rows: %v", st.Rows, st.Tables)
			}
			if _, err := dst.Load(context.Background(), bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatal(err)
			}
			want, got := snap(t, src), snap(t, dst)
			got.CA.Version, want.CA.Version = 0, 0
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("restored data differs:\nwant %+v\ngot  %+v", want, got)
			}
			// Loading twice is refused: the target is no longer empty.
			if _, err := dst.Load(context.Background(), bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "not empty") {
				t.Fatalf("second load: %v", err)
			}
		})
	}
}

func TestLoadRefusesBrokenDumps(t *testing.T) {
	src := openEngine(t, "sqlite")
	fill(t, src)
	var buf bytes.Buffer
	if _, err := src.Dump(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	full := buf.String()
	cases := map[string]string{
		"truncated":      full[:len(full)-20],
		"no header":      full[strings.Index(full, "\n")+1:],
		"unknown table":  strings.Replace(full, `"table":"tags"`, `"table":"secrets"`, 1),
		"unknown column": strings.Replace(full, `"columns":["resource_arn"`, `"columns":["resource_urn"`, 1),
		"future schema":  strings.Replace(full, fmt.Sprintf(`"schema":%d`, sqlstore.MigrationsAvailable("sqlite")), `"schema":99`, 1),
	}
	for name, dump := range cases {
		dst := openEngine(t, "sqlite")
		if _, err := dst.Load(context.Background(), strings.NewReader(dump)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		// Nothing was half-restored.
		if s := snap(t, dst); s.Acct != nil || s.CA != nil {
			t.Errorf("%s: partial restore left data behind", name)
		}
	}
}
