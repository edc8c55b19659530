// Package storetest is the conformance suite for store.Store
// implementations. Every engine runs the same tests (SQLite always,
// PostgreSQL where available), so behaviour cannot drift between them.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/store"
)

// Opener returns a fresh, empty store for one test.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Meta", testMeta},
		{"Accounts", testAccounts},
		{"AccessKeys", testAccessKeys},
		{"CARoundTrip", testCARoundTrip},
		{"CAOptimisticConcurrency", testCAOptimistic},
		{"CAList", testCAList},
		{"CADeleteCascades", testCADelete},
		{"Certificates", testCertificates},
		{"Tags", testTags},
		{"Idempotency", testIdempotency},
		{"Rollback", testRollback},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentMixedOutcomes", testMixedOutcomes},
		{"Cancelled", testCancelled},
		{"MetaInsertOnce", testMetaInsert},
		{"Leases", testLeases},
		{"LeaseRace", testLeaseRace},
		{"Revocation", testRevocation},
		{"CRLCycle", testCRLCycle},
		{"Sequences", testSequences},
		{"ResponderAndReports", testResponderAndReports},
		{"DeleteCAData", testDeleteCAData},
		{"ACMRoundTrip", testACMRoundTrip},
		{"ACMQuery", testACMQuery},
		{"ACMDue", testACMDue},
		{"SettingsAndEvents", testSettingsAndEvents},
		{"AuditEvents", testAuditEvents},
		{"CAAccess", testCAAccess},
		{"OutboxAndDeliveries", testOutboxAndDeliveries},
		{"DeployTokens", testDeployTokens},
		{"DeployAgents", testDeployAgents},
		{"DeployProfiles", testDeployProfiles},
		{"Deployments", testDeployments},
		{"DeployTargets", testDeployTargets},
		{"DeployZeroValues", testDeployZeroValues},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// base is a fixed instant with microsecond precision.
var base = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func mustAccount(t *testing.T, s store.Store, id string) {
	update(t, s, func(tx store.Tx) error {
		return tx.Accounts().Insert(ctx, &store.Account{ID: id, Name: "acct " + id, CreatedAt: base})
	})
}

func newCA(id, account string, created time.Time) *store.CA {
	return &store.CA{
		ID: id, ARN: "arn:aws:acm-pca:us-east-1:" + account + ":certificate-authority/" + id, Account: account,
		Type: "ROOT", Status: "PENDING_CERTIFICATE", UsageMode: "GENERAL_PURPOSE",
		KeyStorageSecurityStandard: "FIPS_140_2_LEVEL_3_OR_HIGHER", Config: []byte(`{"k":"v"}`),
		KeyRef: []byte("ref-" + id), CSR: []byte{0x30, 0x01}, CreatedAt: created, LastStateChangeAt: created,
	}
}

func testMeta(t *testing.T, s store.Store) {
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Meta().Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing meta: %v", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.Meta().Put(ctx, "k", "v1") })
	update(t, s, func(tx store.Tx) error { return tx.Meta().Put(ctx, "k", "v2") })
	s.View(ctx, func(tx store.Tx) error {
		if v, err := tx.Meta().Get(ctx, "k"); err != nil || v != "v2" {
			t.Errorf("meta = %q, %v", v, err)
		}
		return nil
	})
}

func testAccounts(t *testing.T, s store.Store) {
	mustAccount(t, s, "111111111111")
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Accounts().Insert(ctx, &store.Account{ID: "111111111111", Name: "dup", CreatedAt: base})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate account: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, "111111111111")
		if err != nil || a.Name != "acct 111111111111" || !a.CreatedAt.Equal(base) {
			t.Errorf("get account = %+v, %v", a, err)
		}
		if n, err := tx.Accounts().Count(ctx); n != 1 || err != nil {
			t.Errorf("count = %d, %v", n, err)
		}
		if _, err := tx.Accounts().Get(ctx, "999999999999"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing account: %v", err)
		}
		return nil
	})
}

func testAccessKeys(t *testing.T, s store.Store) {
	mustAccount(t, s, "111111111111")
	k := &store.AccessKey{ID: "AKIAEXAMPLE", Account: "111111111111", PrincipalARN: "arn:aws:iam::111111111111:user/admin",
		SecretSealed: []byte{1, 2, 3}, Status: "Active", CreatedAt: base}
	update(t, s, func(tx store.Tx) error { return tx.AccessKeys().Insert(ctx, k) })
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.AccessKeys().Get(ctx, "AKIAEXAMPLE")
		if err != nil || got.PrincipalARN != k.PrincipalARN || !bytes.Equal(got.SecretSealed, k.SecretSealed) || got.Status != "Active" {
			t.Errorf("get access key = %+v, %v", got, err)
		}
		if _, err := tx.AccessKeys().Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing key: %v", err)
		}
		return nil
	})
	// A key for an account that does not exist is refused.
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.AccessKeys().Insert(ctx, &store.AccessKey{ID: "AKIAOTHER", Account: "222222222222", PrincipalARN: "x",
			SecretSealed: []byte{1}, Status: "Active", CreatedAt: base})
	})
	if err == nil {
		t.Error("access key for a missing account accepted")
	}
}

func testCARoundTrip(t *testing.T, s store.Store) {
	c := newCA("ca-1", "111111111111", base)
	c.RevocationConfig = []byte(`{"crl":false}`)
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, c) })
	if c.Version != 1 {
		t.Fatalf("version after insert = %d", c.Version)
	}
	var got *store.CA
	s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.CAs().Get(ctx, "ca-1"); return })
	if got == nil || got.ARN != c.ARN || got.Certificate != nil || got.Chain != nil || !got.NotAfter.IsZero() ||
		!got.CreatedAt.Equal(base) || string(got.RevocationConfig) != `{"crl":false}` || got.Version != 1 {
		t.Fatalf("round trip: %+v", got)
	}
	got.Status = "ACTIVE"
	got.Certificate = []byte{0x30, 0x02}
	got.Chain = []byte("chain")
	got.NotBefore, got.NotAfter = base, base.AddDate(10, 0, 0)
	got.RevocationConfig = nil
	update(t, s, func(tx store.Tx) error { return tx.CAs().Update(ctx, got) })
	if got.Version != 2 {
		t.Fatalf("version after update = %d", got.Version)
	}
	s.View(ctx, func(tx store.Tx) error {
		if v, err := tx.CAs().Version(ctx, "ca-1"); v != 2 || err != nil {
			t.Errorf("Version = %d, %v", v, err)
		}
		if _, err := tx.CAs().Version(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Version of a missing CA: %v", err)
		}
		return nil
	})
	var again *store.CA
	s.View(ctx, func(tx store.Tx) (err error) { again, err = tx.CAs().Get(ctx, "ca-1"); return })
	if again.Status != "ACTIVE" || !bytes.Equal(again.Certificate, []byte{0x30, 0x02}) || !again.NotAfter.Equal(base.AddDate(10, 0, 0)) ||
		again.RevocationConfig != nil || again.Version != 2 {
		t.Fatalf("after update: %+v", again)
	}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate CA: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CAs().Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing CA: %v", err)
		}
		return nil
	})
	err = s.Update(ctx, func(tx store.Tx) error { return tx.CAs().Update(ctx, newCA("nope", "1", base)) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of missing CA: %v", err)
	}
}

func testCAOptimistic(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)) })
	var a, b *store.CA
	s.View(ctx, func(tx store.Tx) (err error) { a, err = tx.CAs().Get(ctx, "ca-1"); return })
	s.View(ctx, func(tx store.Tx) (err error) { b, err = tx.CAs().Get(ctx, "ca-1"); return })
	a.Status = "ACTIVE"
	update(t, s, func(tx store.Tx) error { return tx.CAs().Update(ctx, a) })
	b.Status = "DISABLED"
	err := s.Update(ctx, func(tx store.Tx) error { return tx.CAs().Update(ctx, b) })
	if !errors.Is(err, store.ErrStale) {
		t.Fatalf("lost update not detected: %v", err)
	}
	var got *store.CA
	s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.CAs().Get(ctx, "ca-1"); return })
	if got.Status != "ACTIVE" {
		t.Fatalf("stale write went through: %s", got.Status)
	}
}

func testCAList(t *testing.T, s store.Store) {
	// 25 CAs in one account (some sharing a creation time), 3 in another.
	update(t, s, func(tx store.Tx) error {
		for i := 0; i < 25; i++ {
			if err := tx.CAs().Insert(ctx, newCA(fmt.Sprintf("a-%02d", i), "111111111111", base.Add(time.Duration(i/2)*time.Second))); err != nil {
				return err
			}
		}
		for i := 0; i < 3; i++ {
			if err := tx.CAs().Insert(ctx, newCA(fmt.Sprintf("b-%02d", i), "222222222222", base)); err != nil {
				return err
			}
		}
		return nil
	})
	var seen []string
	var cursor *store.CACursor
	for page := 0; page < 10; page++ {
		var got []*store.CA
		s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.CAs().List(ctx, "111111111111", cursor, 7); return })
		for _, c := range got {
			seen = append(seen, c.ID)
		}
		if len(got) < 7 {
			break
		}
		last := got[len(got)-1]
		cursor = &store.CACursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if len(seen) != 25 {
		t.Fatalf("listed %d CAs: %v", len(seen), seen)
	}
	all := 0
	s.View(ctx, func(tx store.Tx) error { return tx.CAs().Each(ctx, func(*store.CA) error { all++; return nil }) })
	if all != 28 {
		t.Errorf("Each saw %d CAs, want 28", all)
	}
	s.View(ctx, func(tx store.Tx) error {
		if n, err := tx.CAs().CountByAccount(ctx, "222222222222"); n != 3 || err != nil {
			t.Errorf("CountByAccount = %d, %v", n, err)
		}
		return nil
	})
	for i, id := range seen {
		if id != fmt.Sprintf("a-%02d", i) {
			t.Fatalf("order: %v", seen)
		}
	}
}

func testCADelete(t *testing.T, s store.Store) {
	c := newCA("ca-1", "111111111111", base)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CAs().Insert(ctx, c); err != nil {
			return err
		}
		if err := tx.Tags().Replace(ctx, c.ARN, []store.Tag{{Key: "k", Value: "v"}}); err != nil {
			return err
		}
		return tx.Certificates().Insert(ctx, &store.Certificate{CAID: "ca-1", Serial: "01", Account: "111111111111",
			DER: []byte{1}, NotBefore: base, NotAfter: base.Add(time.Hour), IssuedAt: base, TemplateARN: "t"})
	})
	// Purge candidates: only DELETED CAs whose window has ended.
	c.Status, c.RestorableUntil = "DELETED", base.Add(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.CAs().Update(ctx, c) })
	s.View(ctx, func(tx store.Tx) error {
		if ids, err := tx.CAs().DeletedBefore(ctx, base, 10); err != nil || len(ids) != 0 {
			t.Errorf("purgeable before window end: %v %v", ids, err)
		}
		if ids, err := tx.CAs().DeletedBefore(ctx, base.Add(2*time.Hour), 10); err != nil || len(ids) != 1 || ids[0] != "ca-1" {
			t.Errorf("purgeable after window end: %v %v", ids, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.CAs().Delete(ctx, "ca-1") })
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CAs().Get(ctx, "ca-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CA survived delete: %v", err)
		}
		if _, err := tx.Certificates().Get(ctx, "ca-1", "01"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("certificate survived CA delete: %v", err)
		}
		if tags, _ := tx.Tags().List(ctx, c.ARN); len(tags) != 0 {
			t.Errorf("tags survived CA delete: %v", tags)
		}
		return nil
	})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CAs().Delete(ctx, "ca-1") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func testCertificates(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)) })
	cert := &store.Certificate{CAID: "ca-1", Serial: "0a0b", Account: "111111111111", DER: []byte{0x30, 3},
		NotBefore: base, NotAfter: base.AddDate(1, 0, 0), IssuedAt: base, TemplateARN: "arn:tpl"}
	update(t, s, func(tx store.Tx) error { return tx.Certificates().Insert(ctx, cert) })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.Certificates().Insert(ctx, cert) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate serial: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Certificates().Get(ctx, "ca-1", "0a0b")
		if err != nil || !bytes.Equal(got.DER, cert.DER) || !got.NotAfter.Equal(cert.NotAfter) || got.TemplateARN != "arn:tpl" {
			t.Errorf("get certificate = %+v, %v", got, err)
		}
		if _, err := tx.Certificates().Get(ctx, "ca-2", "0a0b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("certificate of another CA: %v", err)
		}
		if n, err := tx.Certificates().CountByCA(ctx, "ca-1"); n != 1 || err != nil {
			t.Errorf("count = %d %v", n, err)
		}
		return nil
	})
}

func testTags(t *testing.T, s store.Store) {
	arn := "arn:x"
	update(t, s, func(tx store.Tx) error {
		return tx.Tags().Replace(ctx, arn, []store.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: ""}})
	})
	update(t, s, func(tx store.Tx) error {
		return tx.Tags().Replace(ctx, "arn:other", []store.Tag{{Key: "z", Value: "9"}})
	})
	s.View(ctx, func(tx store.Tx) error {
		tags, err := tx.Tags().List(ctx, arn)
		if err != nil || len(tags) != 2 || tags[0] != (store.Tag{Key: "a"}) || tags[1] != (store.Tag{Key: "b", Value: "2"}) {
			t.Errorf("tags = %v, %v", tags, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.Tags().Replace(ctx, arn, nil) })
	s.View(ctx, func(tx store.Tx) error {
		if tags, _ := tx.Tags().List(ctx, arn); len(tags) != 0 {
			t.Errorf("tags not cleared: %v", tags)
		}
		if tags, _ := tx.Tags().List(ctx, "arn:other"); len(tags) != 1 {
			t.Errorf("other resource's tags touched: %v", tags)
		}
		return nil
	})
}

func testIdempotency(t *testing.T, s store.Store) {
	rec := &store.IdempotencyRecord{Scope: "s", Token: "tok", Fingerprint: []byte{1}, Result: "arn:1", ExpiresAt: base.Add(5 * time.Minute)}
	update(t, s, func(tx store.Tx) error { return tx.Idempotency().Put(ctx, rec, base) })
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Idempotency().Put(ctx, &store.IdempotencyRecord{Scope: "s", Token: "tok", Fingerprint: []byte{2}, Result: "arn:2",
			ExpiresAt: base.Add(10 * time.Minute)}, base.Add(time.Minute))
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("unexpired token reused: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Idempotency().Get(ctx, "s", "tok", base.Add(time.Minute))
		if err != nil || got.Result != "arn:1" || !bytes.Equal(got.Fingerprint, []byte{1}) {
			t.Errorf("get = %+v %v", got, err)
		}
		if _, err := tx.Idempotency().Get(ctx, "s", "tok", base.Add(6*time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired record returned: %v", err)
		}
		if _, err := tx.Idempotency().Get(ctx, "other", "tok", base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record leaked across scopes: %v", err)
		}
		return nil
	})
	// After expiry the token may be used again.
	update(t, s, func(tx store.Tx) error {
		return tx.Idempotency().Put(ctx, &store.IdempotencyRecord{Scope: "s", Token: "tok", Fingerprint: []byte{3}, Result: "arn:3",
			ExpiresAt: base.Add(20 * time.Minute)}, base.Add(6*time.Minute))
	})
	s.View(ctx, func(tx store.Tx) error {
		if got, err := tx.Idempotency().Get(ctx, "s", "tok", base.Add(7*time.Minute)); err != nil || got.Result != "arn:3" {
			t.Errorf("replaced record = %+v %v", got, err)
		}
		return nil
	})
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CAs().Get(ctx, "ca-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rolled-back insert is visible: %v", err)
		}
		return nil
	})
	// A panic inside fn reaches the caller, rolls back, and the store stays
	// usable.
	func() {
		defer func() {
			if p := recover(); p != "bug" {
				t.Errorf("panic not propagated to the caller: %v", p)
			}
		}()
		s.Update(ctx, func(tx store.Tx) error {
			tx.CAs().Insert(ctx, newCA("ca-2", "111111111111", base))
			panic("bug")
		})
	}()
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-3", "111111111111", base)) })
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CAs().Get(ctx, "ca-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("panicked insert is visible: %v", err)
		}
		return nil
	})
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)) })
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers*each+4*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errc <- s.Update(ctx, func(tx store.Tx) error {
					return tx.Certificates().Insert(ctx, &store.Certificate{CAID: "ca-1", Serial: fmt.Sprintf("%02x%04x", w, i),
						Account: "111111111111", DER: []byte{1}, NotBefore: base, NotAfter: base, IssuedAt: base, TemplateARN: "t"})
				})
			}
		}(w)
	}
	// Readers run alongside the writers.
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errc <- s.View(ctx, func(tx store.Tx) error { _, err := tx.CAs().Get(ctx, "ca-1"); return err })
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	s.View(ctx, func(tx store.Tx) error {
		if n, _ := tx.Certificates().CountByCA(ctx, "ca-1"); n != workers*each {
			t.Errorf("count = %d, want %d", n, workers*each)
		}
		return nil
	})
}

// testMixedOutcomes runs concurrent writers of which half fail after
// writing: exactly the successful ones persist (an implementation that
// batches writers must isolate them).
func testMixedOutcomes(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)) })
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Certificates().Insert(ctx, &store.Certificate{CAID: "ca-1", Serial: fmt.Sprintf("%04x", i),
					Account: "111111111111", DER: []byte{1}, NotBefore: base, NotAfter: base, IssuedAt: base, TemplateARN: "t"}); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
			if (i%2 == 1) != errors.Is(err, boom) {
				errc <- fmt.Errorf("writer %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	s.View(ctx, func(tx store.Tx) error {
		if n, _ := tx.Certificates().CountByCA(ctx, "ca-1"); n != 50 {
			t.Errorf("%d certificates persisted, want the 50 of the successful writers", n)
		}
		for i := 0; i < 100; i++ {
			_, err := tx.Certificates().Get(ctx, "ca-1", fmt.Sprintf("%04x", i))
			if (i%2 == 0) != (err == nil) {
				t.Errorf("writer %d: persisted=%v", i, err == nil)
			}
		}
		return nil
	})
}

func testCancelled(t *testing.T, s store.Store) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := s.Update(cctx, func(tx store.Tx) error { return tx.CAs().Insert(cctx, newCA("ca-1", "1", base)) })
	if err == nil {
		t.Fatal("cancelled context accepted")
	}
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CAs().Get(ctx, "ca-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("write with a cancelled context persisted: %v", err)
		}
		return nil
	})
}

func testMetaInsert(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.Meta().Insert(ctx, "once", "a") })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.Meta().Insert(ctx, "once", "b") })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second insert: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		if v, _ := tx.Meta().Get(ctx, "once"); v != "a" {
			t.Errorf("value %q", v)
		}
		return nil
	})
}

func acquire(t *testing.T, s store.Store, holder string, now time.Time) (int64, bool) {
	t.Helper()
	var token int64
	var held bool
	update(t, s, func(tx store.Tx) (err error) {
		token, held, err = tx.Leases().Acquire(ctx, "jobs", holder, now, now.Add(10*time.Second))
		return err
	})
	return token, held
}

func check(s store.Store, holder string, token int64) error {
	return s.Update(ctx, func(tx store.Tx) error { return tx.Leases().Check(ctx, "jobs", holder, token) })
}

func testLeases(t *testing.T, s store.Store) {
	if tok, held := acquire(t, s, "node-a", base); !held || tok != 1 {
		t.Fatalf("first acquire: %d %v", tok, held)
	}
	if _, held := acquire(t, s, "node-b", base.Add(5*time.Second)); held {
		t.Fatal("b took a lease a still holds")
	}
	if tok, held := acquire(t, s, "node-a", base.Add(5*time.Second)); !held || tok != 1 {
		t.Fatalf("renewal changed the token or failed: %d %v", tok, held)
	}
	if err := check(s, "node-a", 1); err != nil {
		t.Fatalf("holder's check: %v", err)
	}
	for _, bad := range []struct {
		holder string
		token  int64
	}{{"node-a", 2}, {"node-b", 1}} {
		if err := check(s, bad.holder, bad.token); !errors.Is(err, store.ErrStale) {
			t.Fatalf("check %v: %v", bad, err)
		}
	}
	// a stops renewing; once the lease expires b takes it with a new token,
	// and a is fenced out.
	tok, held := acquire(t, s, "node-b", base.Add(16*time.Second))
	if !held || tok != 2 {
		t.Fatalf("takeover: %d %v", tok, held)
	}
	if err := check(s, "node-a", 1); !errors.Is(err, store.ErrStale) {
		t.Fatalf("old holder not fenced: %v", err)
	}
	if _, held := acquire(t, s, "node-a", base.Add(17*time.Second)); held {
		t.Fatal("the old holder renewed a lease it lost")
	}
	s.View(ctx, func(tx store.Tx) error {
		l, err := tx.Leases().Get(ctx, "jobs")
		if err != nil || l.Holder != "node-b" || l.Token != 2 || !l.ExpiresAt.Equal(base.Add(26*time.Second)) {
			t.Errorf("lease %+v %v", l, err)
		}
		if _, err := tx.Leases().Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing lease: %v", err)
		}
		return nil
	})
	// Release hands the lease over at once.
	update(t, s, func(tx store.Tx) error { return tx.Leases().Release(ctx, "jobs", "node-b") })
	if tok, held := acquire(t, s, "node-a", base.Add(18*time.Second)); !held || tok != 3 {
		t.Fatalf("acquire after release: %d %v", tok, held)
	}
}

// testLeaseRace has many nodes grab a free lease at once: exactly one wins.
func testLeaseRace(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var held bool
			err := s.Update(ctx, func(tx store.Tx) (err error) {
				_, held, err = tx.Leases().Acquire(ctx, "race", fmt.Sprintf("node-%d", i), base, base.Add(time.Minute))
				return err
			})
			if err != nil {
				t.Error(err)
			}
			if held {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d nodes hold the lease", winners)
	}
}

func insertCert(t *testing.T, s store.Store, caID, serial string, partition int64, notAfter time.Time) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		return tx.Certificates().Insert(ctx, &store.Certificate{CAID: caID, Serial: serial, Account: "111111111111", DER: []byte{1},
			NotBefore: base, NotAfter: notAfter, IssuedAt: base, TemplateARN: "t", CRLPartition: partition})
	})
}

func testRevocation(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)) })
	later := base.AddDate(1, 0, 0)
	insertCert(t, s, "ca-1", "03", 1, later)
	insertCert(t, s, "ca-1", "01", 1, later)
	insertCert(t, s, "ca-1", "02", 2, later)
	insertCert(t, s, "ca-1", "04", 1, base.Add(time.Hour)) // expires soon
	revoke := func(serial, reason string) error {
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.Certificates().Revoke(ctx, "ca-1", serial, base.Add(time.Minute), reason)
		})
	}
	for _, serial := range []string{"03", "01", "02", "04"} {
		if err := revoke(serial, "KEY_COMPROMISE"); err != nil {
			t.Fatal(err)
		}
	}
	if err := revoke("01", "SUPERSEDED"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second revocation: %v", err)
	}
	if err := revoke("99", "SUPERSEDED"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking a missing certificate: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		c, err := tx.Certificates().Get(ctx, "ca-1", "01")
		if err != nil || !c.RevokedAt.Equal(base.Add(time.Minute)) || c.RevocationReason != "KEY_COMPROMISE" || c.CRLPartition != 1 {
			t.Errorf("revoked certificate %+v %v", c, err)
		}
		// Partition 1, excluding what expired before base+2h, in serial order.
		var got []string
		err = tx.Certificates().Revoked(ctx, "ca-1", 1, base.Add(2*time.Hour), func(e store.RevokedEntry) error {
			got = append(got, e.Serial+":"+e.Reason)
			return nil
		})
		if err != nil || strings.Join(got, ",") != "01:KEY_COMPROMISE,03:KEY_COMPROMISE" {
			t.Errorf("revoked in partition 1: %v %v", got, err)
		}
		// Partition 0 is the complete CRL: every partition, by partition then serial.
		got = nil
		err = tx.Certificates().Revoked(ctx, "ca-1", 0, base.Add(2*time.Hour), func(e store.RevokedEntry) error {
			got = append(got, e.Serial)
			return nil
		})
		if err != nil || strings.Join(got, ",") != "01,03,02" {
			t.Errorf("complete CRL entries: %v %v", got, err)
		}
		var all []string
		tx.Certificates().Each(ctx, "ca-1", func(c *store.Certificate) error { all = append(all, c.Serial); return nil })
		if len(all) != 4 {
			t.Errorf("Each: %v", all)
		}
		return nil
	})
}

func testCRLCycle(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CRLs().Ensure(ctx, "ca-1", 0, base.Add(time.Hour)) })
	update(t, s, func(tx store.Tx) error { return tx.CRLs().Ensure(ctx, "ca-1", 0, base) }) // no change
	due := func(at time.Time) []*store.CRL {
		var out []*store.CRL
		s.View(ctx, func(tx store.Tx) (err error) { out, err = tx.CRLs().Due(ctx, at, 10); return })
		return out
	}
	if d := due(base); len(d) != 0 {
		t.Fatalf("due before its time: %+v", d[0])
	}
	if d := due(base.Add(time.Hour)); len(d) != 1 || d[0].Pending != 0 {
		t.Fatalf("due at its time: %v", d)
	}
	// Two revocations make it due at once.
	update(t, s, func(tx store.Tx) error { return tx.CRLs().MarkPending(ctx, "ca-1", 0, base) })
	update(t, s, func(tx store.Tx) error { return tx.CRLs().MarkPending(ctx, "ca-1", 0, base) })
	d := due(base)
	if len(d) != 1 || d[0].Pending != 2 {
		t.Fatalf("after revocations: %+v", d)
	}
	// The job builds a CRL covering those 2; a third revocation arrives
	// meanwhile and must stay pending and due.
	update(t, s, func(tx store.Tx) error { return tx.CRLs().MarkPending(ctx, "ca-1", 0, base) })
	crl := &store.CRL{CAID: "ca-1", Partition: 0, Number: 7, ThisUpdate: base, NextUpdate: base.AddDate(0, 0, 7),
		RefreshAt: base.AddDate(0, 0, 3), DER: []byte{0x30, 0}}
	update(t, s, func(tx store.Tx) error { return tx.CRLs().Save(ctx, crl, 2) })
	if d := due(base); len(d) != 1 || d[0].Pending != 1 {
		t.Fatalf("a revocation made during generation was lost: %+v", d)
	}
	update(t, s, func(tx store.Tx) error {
		return tx.CRLs().Save(ctx, &store.CRL{CAID: "ca-1", Partition: 0, Number: 8,
			ThisUpdate: base, NextUpdate: base.AddDate(0, 0, 7), RefreshAt: base.AddDate(0, 0, 3), DER: []byte{0x30, 1}}, 1)
	})
	if d := due(base.AddDate(0, 0, 2)); len(d) != 0 {
		t.Fatalf("still due after a complete save: %+v", d)
	}
	s.View(ctx, func(tx store.Tx) error {
		c, err := tx.CRLs().Get(ctx, "ca-1", 0)
		if err != nil || c.Number != 8 || c.Pending != 0 || !bytes.Equal(c.DER, []byte{0x30, 1}) || !c.RefreshAt.Equal(base.AddDate(0, 0, 3)) {
			t.Errorf("saved CRL %+v %v", c, err)
		}
		if n, err := tx.CRLs().Number(ctx, "ca-1", 0); err != nil || n != 8 {
			t.Errorf("number of the published CRL: %d %v", n, err)
		}
		if n, err := tx.CRLs().Number(ctx, "ca-1", 5); err != nil || n != 0 {
			t.Errorf("number of an unpublished CRL: %d %v", n, err)
		}
		if _, err := tx.CRLs().Get(ctx, "ca-1", 5); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing partition: %v", err)
		}
		parts, _ := tx.CRLs().Partitions(ctx, "ca-1")
		if len(parts) != 1 || parts[0].DER != nil {
			t.Errorf("partitions %+v", parts)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.CRLs().Remove(ctx, "ca-1", 0) })
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CRLs().Get(ctx, "ca-1", 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("removed CRL: %v", err)
		}
		return nil
	})
	// Touch does not create rows.
	update(t, s, func(tx store.Tx) error { return tx.CRLs().Touch(ctx, "ca-1", 0, base) })
	if d := due(base); len(d) != 0 {
		t.Fatalf("touch created a row: %+v", d)
	}
	// A revocation in a partition without a row creates it.
	update(t, s, func(tx store.Tx) error { return tx.CRLs().MarkPending(ctx, "ca-1", 4, base) })
	if d := due(base); len(d) != 1 || d[0].Partition != 4 || d[0].Pending != 1 {
		t.Fatalf("new partition: %+v", d)
	}
	// Reschedule postpones without touching the pending count; Touch makes
	// it due again and counts as a change.
	update(t, s, func(tx store.Tx) error { return tx.CRLs().Reschedule(ctx, "ca-1", 4, base.Add(time.Hour)) })
	if d := due(base); len(d) != 0 {
		t.Fatalf("rescheduled row still due: %+v", d)
	}
	update(t, s, func(tx store.Tx) error { return tx.CRLs().Touch(ctx, "ca-1", 4, base) })
	if d := due(base); len(d) != 1 || d[0].Pending != 2 {
		t.Fatalf("touched row: %+v", d)
	}
}

func testSequences(t *testing.T, s store.Store) {
	var firsts []int64
	for i := 0; i < 3; i++ {
		update(t, s, func(tx store.Tx) error {
			f, err := tx.Sequences().Reserve(ctx, "ca-1", "serial", 100)
			firsts = append(firsts, f)
			return err
		})
	}
	if fmt.Sprint(firsts) != "[1 101 201]" {
		t.Fatalf("blocks start at %v", firsts)
	}
	update(t, s, func(tx store.Tx) error {
		f, err := tx.Sequences().Reserve(ctx, "ca-1", "crl", 1)
		if f != 1 {
			t.Errorf("a second counter starts at %d", f)
		}
		return err
	})
	// Concurrent reservations never overlap.
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				var f int64
				if err := s.Update(ctx, func(tx store.Tx) (err error) { f, err = tx.Sequences().Reserve(ctx, "ca-2", "serial", 10); return }); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[f] {
					t.Errorf("block %d handed out twice", f)
				}
				seen[f] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 80 {
		t.Fatalf("%d blocks", len(seen))
	}
}

func testResponderAndReports(t *testing.T, s store.Store) {
	r := &store.OCSPResponder{CAID: "ca-1", KeyRef: []byte("k"), Certificate: []byte("c1"), NotAfter: base.AddDate(0, 1, 0)}
	update(t, s, func(tx store.Tx) error { return tx.OCSPResponders().Put(ctx, r) })
	r.Certificate, r.NotAfter = []byte("c2"), base.AddDate(0, 2, 0)
	update(t, s, func(tx store.Tx) error { return tx.OCSPResponders().Put(ctx, r) })
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.OCSPResponders().Get(ctx, "ca-1")
		if err != nil || string(got.Certificate) != "c2" || !got.NotAfter.Equal(base.AddDate(0, 2, 0)) {
			t.Errorf("responder %+v %v", got, err)
		}
		if _, err := tx.OCSPResponders().Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing responder: %v", err)
		}
		return nil
	})
	rep := &store.AuditReport{ID: "r1", CAID: "ca-1", Status: "CREATING", Bucket: "b", Key: "audit-report/ca-1/r1.json", Format: "JSON", CreatedAt: base}
	update(t, s, func(tx store.Tx) error { return tx.AuditReports().Insert(ctx, rep) })
	s.View(ctx, func(tx store.Tx) error {
		if busy, _ := tx.AuditReports().Creating(ctx, "ca-1"); !busy {
			t.Error("report not in progress")
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		n, err := tx.AuditReports().FailStale(ctx, base)
		if n != 0 {
			t.Errorf("failed a report that is not stale yet")
		}
		return err
	})
	update(t, s, func(tx store.Tx) error { return tx.AuditReports().SetStatus(ctx, "r1", "SUCCESS") })
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.AuditReports().Get(ctx, "r1")
		if err != nil || got.Status != "SUCCESS" || got.Key != rep.Key || !got.CreatedAt.Equal(base) {
			t.Errorf("report %+v %v", got, err)
		}
		if busy, _ := tx.AuditReports().Creating(ctx, "ca-1"); busy {
			t.Error("finished report still in progress")
		}
		return nil
	})
	rep2 := &store.AuditReport{ID: "r2", CAID: "ca-1", Status: "CREATING", Bucket: "b", Key: "k", Format: "CSV", CreatedAt: base}
	update(t, s, func(tx store.Tx) error { return tx.AuditReports().Insert(ctx, rep2) })
	update(t, s, func(tx store.Tx) error {
		if n, err := tx.AuditReports().FailStale(ctx, base.Add(time.Hour)); n != 1 || err != nil {
			t.Errorf("FailStale = %d, %v", n, err)
		}
		return nil
	})
}

func testDeleteCAData(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, newCA("ca-1", "111111111111", base)) })
	update(t, s, func(tx store.Tx) error {
		tx.CRLs().Ensure(ctx, "ca-1", 0, base)
		tx.Sequences().Reserve(ctx, "ca-1", "serial", 10)
		tx.OCSPResponders().Put(ctx, &store.OCSPResponder{CAID: "ca-1", KeyRef: []byte("k"), Certificate: []byte("c"), NotAfter: base})
		return tx.AuditReports().Insert(ctx, &store.AuditReport{ID: "r", CAID: "ca-1", Status: "SUCCESS", Bucket: "b", Key: "k", Format: "JSON", CreatedAt: base})
	})
	update(t, s, func(tx store.Tx) error { return tx.CAs().Delete(ctx, "ca-1") })
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CRLs().Get(ctx, "ca-1", 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CRL survived: %v", err)
		}
		if _, err := tx.OCSPResponders().Get(ctx, "ca-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("responder survived: %v", err)
		}
		if _, err := tx.AuditReports().Get(ctx, "r"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("report survived: %v", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		f, err := tx.Sequences().Reserve(ctx, "ca-1", "serial", 1)
		if f != 1 {
			t.Errorf("sequence survived: next %d", f)
		}
		return err
	})
}

func newACM(id, account string, created time.Time) *store.ACMCertificate {
	return &store.ACMCertificate{
		ID: id, ARN: "arn:aws:acm:us-east-1:" + account + ":certificate/" + id, Account: account,
		Type: "PRIVATE", Status: "ISSUED", DomainName: id + ".example",
		Names:        []store.CertName{{Kind: "DNS", Name: id + ".example"}, {Kind: "DNS", Name: "www." + id + ".example"}},
		KeyAlgorithm: "EC_prime256v1", CreatedAt: created, NotBefore: created, NotAfter: created.Add(395 * 24 * time.Hour),
		ExportOption: "ENABLED", KeyUsages: 1, ExtKeyUsages: 3, Certificate: []byte{1, 2}, PrivateKey: []byte{3, 4},
	}
}

func testACMRoundTrip(t *testing.T, s store.Store) {
	c := newACM("c1", "111111111111", base)
	c.InUseBy = []string{"arn:x"}
	c.RenewAt = base.Add(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.ACMCertificates().Insert(ctx, c) })
	if c.Version != 1 {
		t.Fatalf("version = %d", c.Version)
	}
	var got *store.ACMCertificate
	s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.ACMCertificates().Get(ctx, "c1"); return err })
	if got == nil || got.ARN != c.ARN || len(got.Names) != 2 || got.Names[1].Name != "www.c1.example" ||
		!got.NotAfter.Equal(c.NotAfter) || len(got.InUseBy) != 1 || !bytes.Equal(got.PrivateKey, []byte{3, 4}) ||
		!got.RenewAt.Equal(c.RenewAt) || got.Exported || !got.ImportedAt.IsZero() {
		t.Fatalf("round trip: %+v", got)
	}
	// Optimistic concurrency: a stale copy cannot overwrite a newer one.
	stale := *got
	got.Exported, got.Names = true, []store.CertName{{Kind: "DNS", Name: "renamed.example"}}
	update(t, s, func(tx store.Tx) error { return tx.ACMCertificates().Update(ctx, got) })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.ACMCertificates().Update(ctx, &stale) })
	if !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	// Names are replaced with the row: the old name no longer matches.
	for name, want := range map[string]int{"renamed.example": 1, "www.c1.example": 0} {
		var page []*store.ACMCertificate
		s.View(ctx, func(tx store.Tx) (err error) {
			page, err = tx.ACMCertificates().Query(ctx, store.CertQuery{Account: "111111111111", Limit: 10,
				Where: &store.CertFilter{Field: "name:DNS", Op: store.OpIn, Values: []any{name}}})
			return err
		})
		if len(page) != want {
			t.Errorf("search %s: %d results, want %d", name, len(page), want)
		}
	}
	update(t, s, func(tx store.Tx) error { return tx.ACMCertificates().Delete(ctx, "c1") })
	err = s.View(ctx, func(tx store.Tx) error { _, err := tx.ACMCertificates().Get(ctx, "c1"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.ACMCertificates().Delete(ctx, "c1") })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func testACMQuery(t *testing.T, s store.Store) {
	const acct = "222222222222"
	update(t, s, func(tx store.Tx) error {
		for i := 0; i < 25; i++ {
			c := newACM(fmt.Sprintf("q%02d", i), acct, base.Add(time.Duration(i)*time.Minute))
			if i%2 == 1 {
				c.KeyAlgorithm, c.Status = "RSA_2048", "EXPIRED"
			}
			if i%5 == 0 {
				c.InUseBy = []string{"arn:user"}
			}
			if err := tx.ACMCertificates().Insert(ctx, c); err != nil {
				return err
			}
		}
		return tx.ACMCertificates().Insert(ctx, newACM("other", "333333333333", base))
	})
	query := func(q store.CertQuery) []string {
		t.Helper()
		q.Account = acct
		var ids []string
		for {
			var page []*store.ACMCertificate
			if err := s.View(ctx, func(tx store.Tx) (err error) { page, err = tx.ACMCertificates().Query(ctx, q); return err }); err != nil {
				t.Fatalf("query: %v", err)
			}
			for _, c := range page {
				if c.Certificate != nil || c.PrivateKey != nil {
					t.Fatalf("a listing returned key or certificate bytes")
				}
				ids = append(ids, c.ID)
			}
			if len(page) < q.Limit {
				return ids
			}
			last := page[len(page)-1]
			var v any = last.CreatedAt
			if q.SortBy == "key_algorithm" {
				v = last.KeyAlgorithm
			}
			q.After = &store.CertCursor{Value: v, ID: last.ID}
		}
	}
	all := query(store.CertQuery{Limit: 4})
	if len(all) != 25 || all[0] != "q00" || all[24] != "q24" {
		t.Fatalf("paged listing: %v", all)
	}
	desc := query(store.CertQuery{Limit: 7, Desc: true})
	if len(desc) != 25 || desc[0] != "q24" || desc[24] != "q00" {
		t.Fatalf("descending: %v", desc)
	}
	byAlg := query(store.CertQuery{Limit: 3, SortBy: "key_algorithm"})
	if len(byAlg) != 25 || byAlg[0] != "q00" || byAlg[12] != "q24" || byAlg[13] != "q01" {
		t.Fatalf("by key algorithm: %v", byAlg)
	}
	f := func(field, op string, v ...any) *store.CertFilter {
		return &store.CertFilter{Field: field, Op: op, Values: v}
	}
	for _, tc := range []struct {
		name  string
		where *store.CertFilter
		want  int
	}{
		{"status", f("status", store.OpIn, "EXPIRED"), 12},
		{"two statuses", f("status", store.OpIn, "EXPIRED", "ISSUED"), 25},
		{"and", &store.CertFilter{And: []*store.CertFilter{f("status", store.OpIn, "ISSUED"), f("in_use", store.OpIn, true)}}, 3},
		{"or", &store.CertFilter{Or: []*store.CertFilter{f("arn", store.OpContains, "q03"), f("arn", store.OpContains, "q04")}}, 2},
		{"not", &store.CertFilter{Not: f("in_use", store.OpIn, true)}, 20},
		{"prefix is case-sensitive", f("domain_name", store.OpPrefix, "Q1"), 0},
		{"prefix", f("domain_name", store.OpPrefix, "q1"), 10},
		{"name prefix", f("name", store.OpPrefix, "www.q2"), 5},
		{"name contains", f("name:DNS", store.OpContains, "q24.ex"), 1},
		{"time range", &store.CertFilter{And: []*store.CertFilter{
			f("created_at", store.OpGE, base.Add(10*time.Minute)), f("created_at", store.OpLE, base.Add(12*time.Minute))}}, 3},
		{"any bits", f("ext_key_usages", store.OpAnyBits, int64(2)), 25},
		{"all bits", f("ext_key_usages", store.OpAllBits, int64(7)), 0},
		{"exported", f("exported", store.OpIn, false), 25},
		{"empty in", f("status", store.OpIn), 0},
	} {
		if got := query(store.CertQuery{Limit: 100, Where: tc.where}); len(got) != tc.want {
			t.Errorf("%s: %d results (%v), want %d", tc.name, len(got), got, tc.want)
		}
	}
	var n int
	s.View(ctx, func(tx store.Tx) (err error) { n, err = tx.ACMCertificates().Count(ctx, acct, "PRIVATE"); return err })
	if n != 25 {
		t.Errorf("count = %d", n)
	}
}

func testACMDue(t *testing.T, s store.Store) {
	const acct = "444444444444"
	day := 24 * time.Hour
	update(t, s, func(tx store.Tx) error {
		for i, na := range []time.Duration{10 * day, 50 * day, 100 * day} {
			c := newACM(fmt.Sprintf("d%d", i), acct, base)
			c.NotAfter = base.Add(na)
			c.RenewAt = c.NotAfter.Add(-60 * day)
			if err := tx.ACMCertificates().Insert(ctx, c); err != nil {
				return err
			}
		}
		c := newACM("imported", acct, base)
		c.Type, c.NotAfter = "IMPORTED", base.Add(5*day)
		return tx.ACMCertificates().Insert(ctx, c)
	})
	ids := func(fn func(store.ACMCertificates) ([]string, error)) []string {
		var out []string
		s.View(ctx, func(tx store.Tx) (err error) { out, err = fn(tx.ACMCertificates()); return err })
		return out
	}
	if got := ids(func(r store.ACMCertificates) ([]string, error) { return r.RenewalDue(ctx, base, 10) }); len(got) != 2 || got[0] != "d0" {
		t.Errorf("renewals due = %v", got)
	}
	if got := ids(func(r store.ACMCertificates) ([]string, error) { return r.ExpiredDue(ctx, base.Add(20*day), 10) }); len(got) != 2 || got[0] != "imported" {
		t.Errorf("expired = %v", got)
	}
	// DaysBeforeExpiry 45: the 10-day certificates (issued and imported) get
	// an event now, as their first event time has passed; the 50-day one at
	// day 5, the 100-day one at day 55.
	update(t, s, func(tx store.Tx) error {
		return tx.ACMCertificates().RescheduleExpiryEvents(ctx, acct, 45*day, base)
	})
	if got := ids(func(r store.ACMCertificates) ([]string, error) { return r.ExpiryEventDue(ctx, base, 10) }); len(got) != 2 {
		t.Errorf("expiry events due now = %v", got)
	}
	if got := ids(func(r store.ACMCertificates) ([]string, error) { return r.ExpiryEventDue(ctx, base.Add(55*day), 10) }); len(got) != 4 {
		t.Errorf("expiry events due at day 55 = %v", got)
	}
	var d2 *store.ACMCertificate
	s.View(ctx, func(tx store.Tx) (err error) { d2, err = tx.ACMCertificates().Get(ctx, "d2"); return err })
	if !d2.ExpiryEventAt.Equal(base.Add(55 * day)) {
		t.Errorf("d2 next event = %v", d2.ExpiryEventAt)
	}
}

func testSettingsAndEvents(t *testing.T, s store.Store) {
	err := s.View(ctx, func(tx store.Tx) error { _, err := tx.AccountSettings().Get(ctx, "a", "x"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unset setting: %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.AccountSettings().Put(ctx, "a", "x", "1") })
	update(t, s, func(tx store.Tx) error { return tx.AccountSettings().Put(ctx, "a", "x", "2") })
	var v string
	s.View(ctx, func(tx store.Tx) (err error) { v, err = tx.AccountSettings().Get(ctx, "a", "x"); return err })
	if v != "2" {
		t.Fatalf("setting = %q", v)
	}
	update(t, s, func(tx store.Tx) error {
		for i := 0; i < 5; i++ {
			e := &store.Event{ID: fmt.Sprintf("e%d", i), Account: "a", Source: "aws.acm", DetailType: "x",
				Time: base.Add(time.Duration(i%3) * time.Second), Body: []byte(`{}`)}
			if err := tx.Events().Append(ctx, e); err != nil {
				return err
			}
		}
		return tx.Events().Append(ctx, &store.Event{ID: "other", Account: "b", Time: base, Body: []byte(`{}`)})
	})
	var got []string
	afterTime, afterID := time.Time{}, ""
	for {
		var page []*store.Event
		s.View(ctx, func(tx store.Tx) (err error) {
			page, err = tx.Events().List(ctx, "a", afterTime, afterID, 2)
			return err
		})
		for _, e := range page {
			got = append(got, e.ID)
		}
		if len(page) < 2 {
			break
		}
		afterTime, afterID = page[1].Time, page[1].ID
	}
	if strings.Join(got, ",") != "e0,e3,e1,e4,e2" {
		t.Fatalf("events in order = %v", got)
	}
}

func testAuditEvents(t *testing.T, s store.Store) {
	const acct = "111122223333"
	arn := func(i int) string { return fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/k%d", acct, i) }
	ev := func(pos int64, name string, at time.Time, res ...store.AuditResource) *store.AuditEvent {
		return &store.AuditEvent{Position: pos, ID: fmt.Sprintf("id-%d", pos), Account: acct, Time: at, Name: name,
			Source: "kms.amazonaws.com", ReadOnly: name == "Decrypt", Username: "alice", AccessKeyID: "AKIA1",
			RequestID: fmt.Sprintf("r%d", pos), Body: fmt.Sprintf(`{"eventID":"id-%d"}`, pos), MAC: []byte{byte(pos)}, Resources: res}
	}
	keyRes := func(i int) store.AuditResource { return store.AuditResource{Type: "AWS::KMS::Key", Name: arn(i)} }
	// Head: created once, locked, replaced.
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.AuditEvents().Head(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("head of an empty store: %v", err)
		}
		if err := tx.AuditEvents().CreateHead(ctx, &store.AuditHead{MAC: []byte{}, Tag: []byte{1}}); err != nil {
			return err
		}
		h, err := tx.AuditEvents().LockHead(ctx)
		if err != nil || h.Position != 0 || !bytes.Equal(h.Tag, []byte{1}) {
			t.Fatalf("locked head %+v %v", h, err)
		}
		return nil
	})
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.AuditEvents().CreateHead(ctx, &store.AuditHead{MAC: []byte{}, Tag: []byte{2}})
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second head: %v", err)
	}
	// Records, a duplicate that leaves the transaction usable, the head.
	update(t, s, func(tx store.Tx) error {
		a := tx.AuditEvents()
		for i, e := range []*store.AuditEvent{
			ev(1, "CreateKey", base, keyRes(1)),
			ev(2, "Decrypt", base.Add(time.Second), keyRes(1)),
			ev(3, "Decrypt", base.Add(time.Second), keyRes(2)),
			ev(4, "ScheduleKeyDeletion", base.Add(2*time.Second), keyRes(2), store.AuditResource{Type: "AWS::KMS::Alias", Name: "arn:aws:kms:us-east-1:111122223333:alias/a"}),
		} {
			if err := a.Append(ctx, e); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
		dup := ev(5, "Decrypt", base)
		dup.ID = "id-2"
		if err := a.Append(ctx, dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate ID: %v", err)
		}
		return a.SetHead(ctx, &store.AuditHead{Position: 4, MAC: []byte{4}, Tag: []byte{9}})
	})
	err := s.View(ctx, func(tx store.Tx) error {
		a := tx.AuditEvents()
		h, err := a.Head(ctx)
		if err != nil || h.Position != 4 || !bytes.Equal(h.MAC, []byte{4}) {
			t.Fatalf("head %+v %v", h, err)
		}
		got, err := a.Get(ctx, "id-3")
		want := ev(3, "Decrypt", base.Add(time.Second))
		want.Resources = nil
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("get: %+v %v, want %+v", got, err, want)
		}
		if _, err := a.Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get missing: %v", err)
		}
		var order []int64
		if err := a.EachChained(ctx, func(e *store.AuditEvent) error { order = append(order, e.Position); return nil }); err != nil {
			return err
		}
		if fmt.Sprint(order) != "[1 2 3 4]" {
			t.Fatalf("chain order %v", order)
		}
		var res []string
		if err := a.EachResource(ctx, func(r store.AuditResourceRow) error {
			res = append(res, fmt.Sprintf("%d %s %s %v", r.Position, r.Type, r.Name[len(r.Name)-2:], r.Time.Equal(base.Add(time.Duration(r.Position/2)*time.Second))))
			return nil
		}); err != nil {
			return err
		}
		sort.Strings(res)
		if fmt.Sprint(res) != "[1 AWS::KMS::Key k1 true 2 AWS::KMS::Key k1 true 3 AWS::KMS::Key k2 true 4 AWS::KMS::Alias /a true 4 AWS::KMS::Key k2 true]" {
			t.Fatalf("resources %v", res)
		}
		query := func(q store.AuditQuery) string {
			q.Account = acct
			if q.Limit == 0 {
				q.Limit = 10
			}
			es, err := a.Query(ctx, q)
			if err != nil {
				t.Fatalf("query %+v: %v", q, err)
			}
			var ps []int64
			for _, e := range es {
				ps = append(ps, e.Position)
			}
			return fmt.Sprint(ps)
		}
		for _, tc := range []struct {
			q    store.AuditQuery
			want string
		}{
			{store.AuditQuery{}, "[4 3 2 1]"},
			{store.AuditQuery{Limit: 2}, "[4 3]"},
			{store.AuditQuery{Before: &store.AuditCursor{Time: base.Add(time.Second), Position: 3}}, "[2 1]"},
			{store.AuditQuery{From: base.Add(time.Second), To: base.Add(time.Second)}, "[3 2]"},
			{store.AuditQuery{Attribute: "EventName", Value: "Decrypt"}, "[3 2]"},
			{store.AuditQuery{Attribute: "ReadOnly", Value: "false"}, "[4 1]"},
			{store.AuditQuery{Attribute: "EventId", Value: "id-4"}, "[4]"},
			{store.AuditQuery{Attribute: "Username", Value: "alice", Limit: 1}, "[4]"},
			{store.AuditQuery{Attribute: "AccessKeyId", Value: "AKIA2"}, "[]"},
			{store.AuditQuery{Attribute: "EventSource", Value: "kms.amazonaws.com", From: base.Add(2 * time.Second)}, "[4]"},
			{store.AuditQuery{Attribute: "ResourceName", Value: arn(1)}, "[2 1]"},
			{store.AuditQuery{Attribute: "ResourceName", Value: arn(2), Before: &store.AuditCursor{Time: base.Add(2 * time.Second), Position: 4}}, "[3]"},
			{store.AuditQuery{Attribute: "ResourceType", Value: "AWS::KMS::Alias"}, "[4]"},
			{store.AuditQuery{Attribute: "ResourceType", Value: "AWS::KMS::Key", To: base}, "[1]"},
		} {
			if got := query(tc.q); got != tc.want {
				t.Errorf("query %+v: %s, want %s", tc.q, got, tc.want)
			}
		}
		if es, _ := a.Query(ctx, store.AuditQuery{Account: "999988887777", Limit: 10}); len(es) != 0 {
			t.Fatalf("another account's query found %d records", len(es))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Pending records.
	update(t, s, func(tx store.Tx) error {
		a := tx.AuditEvents()
		for i := range 3 {
			p := &store.AuditPending{ID: fmt.Sprintf("p%d", i), Time: base, Body: "{}", MAC: []byte{1}, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
			if err := a.InsertPending(ctx, p); err != nil {
				return err
			}
		}
		if err := a.InsertPending(ctx, &store.AuditPending{ID: "p1", Time: base, Body: "{}", MAC: []byte{1}, CreatedAt: base}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate pending: %v", err)
		}
		if err := a.DeletePending(ctx, "p0"); err != nil {
			return err
		}
		if err := a.DeletePending(ctx, "p0"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete missing pending: %v", err)
		}
		ps, err := a.Pending(ctx, base.Add(time.Minute), 10)
		if err != nil || len(ps) != 1 || ps[0].ID != "p1" || !ps[0].Time.Equal(base) || ps[0].Body != "{}" || !ps[0].CreatedAt.Equal(base.Add(time.Minute)) {
			t.Fatalf("pending: %+v %v", ps, err)
		}
		return nil
	})
}

func testCAAccess(t *testing.T, s store.Store) {
	mine, other := "111111111111", "222222222222"
	for i, id := range []string{"ca-a", "ca-b", "ca-c"} {
		c := newCA(id, mine, base.Add(time.Duration(i)*time.Second))
		update(t, s, func(tx store.Tx) error { return tx.CAs().Insert(ctx, c) })
	}
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.CAAccess().GetPolicy(ctx, "ca-a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("policy of a CA without one: %v", err)
		}
		return nil
	})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CAAccess().DeletePolicy(ctx, "ca-a") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of a missing policy: %v", err)
	}
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"ca-c", "ca-a", "ca-b"} {
			if err := tx.CAAccess().PutPolicy(ctx, id, "p1-"+id, []string{other, "333333333333"}, base); err != nil {
				return err
			}
		}
		// Replacing a policy replaces its grantees.
		return tx.CAAccess().PutPolicy(ctx, "ca-b", "p2", []string{"333333333333"}, base)
	})
	s.View(ctx, func(tx store.Tx) error {
		if p, err := tx.CAAccess().GetPolicy(ctx, "ca-b"); err != nil || p != "p2" {
			t.Errorf("policy = %q, %v", p, err)
		}
		page, err := tx.CAAccess().ListShared(ctx, other, nil, 1)
		if err != nil || len(page) != 1 || page[0].ID != "ca-a" {
			t.Fatalf("shared page 1: %v %v", page, err)
		}
		page, err = tx.CAAccess().ListShared(ctx, other, &store.CACursor{CreatedAt: page[0].CreatedAt, ID: page[0].ID}, 10)
		if err != nil || len(page) != 1 || page[0].ID != "ca-c" || page[0].Account != mine {
			t.Fatalf("shared page 2: %v %v", page, err)
		}
		if page, _ := tx.CAAccess().ListShared(ctx, "333333333333", nil, 10); len(page) != 3 {
			t.Errorf("third account sees %d CAs", len(page))
		}
		return nil
	})
	perm := &store.CAPermission{CAID: "ca-a", Principal: "acm.amazonaws.com", SourceAccount: mine,
		Actions: []string{"IssueCertificate", "GetCertificate"}, CreatedAt: base}
	update(t, s, func(tx store.Tx) error { return tx.CAAccess().InsertPermission(ctx, perm) })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CAAccess().InsertPermission(ctx, perm) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate permission: %v", err)
	}
	s.View(ctx, func(tx store.Tx) error {
		ps, err := tx.CAAccess().Permissions(ctx, "ca-a")
		if err != nil || len(ps) != 1 || ps[0].SourceAccount != mine || len(ps[0].Actions) != 2 || ps[0].Actions[1] != "GetCertificate" ||
			!ps[0].CreatedAt.Equal(base) {
			t.Errorf("permissions: %+v %v", ps, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.CAAccess().DeletePolicy(ctx, "ca-c") })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CAAccess().DeletePermission(ctx, "ca-a", "x") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of a missing permission: %v", err)
	}
	// Deleting a CA removes its policy, grantees and permissions.
	update(t, s, func(tx store.Tx) error { return tx.CAs().Delete(ctx, "ca-a") })
	s.View(ctx, func(tx store.Tx) error {
		if page, _ := tx.CAAccess().ListShared(ctx, other, nil, 10); len(page) != 0 {
			t.Errorf("shared after deletes: %v", page)
		}
		if ps, _ := tx.CAAccess().Permissions(ctx, "ca-a"); len(ps) != 0 {
			t.Errorf("permissions survived the CA: %v", ps)
		}
		if _, err := tx.CAAccess().GetPolicy(ctx, "ca-a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("policy survived the CA: %v", err)
		}
		return nil
	})
}

func testOutboxAndDeliveries(t *testing.T, s store.Store) {
	for i, id := range []string{"e1", "e2", "e3"} {
		e := &store.Event{ID: id, Account: "111111111111", Source: "aws.acm", DetailType: "x", Time: base.Add(time.Duration(i) * time.Second), Body: []byte(`{}`)}
		update(t, s, func(tx store.Tx) error { return tx.Events().Append(ctx, e) })
	}
	update(t, s, func(tx store.Tx) error {
		if evs, err := tx.Events().Undelivered(ctx, 2); err != nil || len(evs) != 2 || evs[0].ID != "e1" {
			t.Errorf("undelivered: %v %v", evs, err)
		}
		if err := tx.Events().MarkDelivered(ctx, "e1", base); err != nil {
			return err
		}
		if err := tx.Events().MarkDelivered(ctx, "e1", base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("marking twice: %v", err)
		}
		return tx.Events().MarkDelivered(ctx, "e2", base.Add(time.Hour))
	})
	update(t, s, func(tx store.Tx) error {
		if n, err := tx.Events().CountUndelivered(ctx); err != nil || n != 1 {
			t.Errorf("backlog %d %v", n, err)
		}
		// Only fanned-out events older than the cut go.
		if n, err := tx.Events().PurgeDelivered(ctx, base.Add(time.Minute), 10); err != nil || n != 1 {
			t.Errorf("purged %d events, %v", n, err)
		}
		return nil
	})
	d := &store.EventDelivery{ID: "d1", EventID: "e1", Account: "111111111111", RuleARN: "r", TargetID: "t", TargetARN: "a",
		Body: []byte(`{}`), Status: "PENDING", MaxAttempts: 3, Expires: base.Add(time.Hour), NextAt: base, CreatedAt: base}
	update(t, s, func(tx store.Tx) error {
		if ok, err := tx.EventRules().InsertDelivery(ctx, d); err != nil || !ok {
			t.Errorf("insert delivery: %v %v", ok, err)
		}
		dup := *d
		dup.ID = "d2"
		if ok, err := tx.EventRules().InsertDelivery(ctx, &dup); err != nil || ok {
			t.Errorf("a second delivery of the same event to the same target: %v %v", ok, err)
		}
		return nil
	})
	s.View(ctx, func(tx store.Tx) error {
		if due, err := tx.EventRules().DueDeliveries(ctx, base.Add(-time.Second), 10); err != nil || len(due) != 0 {
			t.Errorf("due before NextAt: %v %v", due, err)
		}
		if due, err := tx.EventRules().DueDeliveries(ctx, base, 10); err != nil || len(due) != 1 || string(due[0].Body) != "{}" {
			t.Errorf("due: %v %v", due, err)
		}
		return nil
	})
	d.Status, d.Attempts, d.DeliveredAt = "DELIVERED", 1, base.Add(time.Second)
	update(t, s, func(tx store.Tx) error { return tx.EventRules().UpdateDelivery(ctx, d) })
	s.View(ctx, func(tx store.Tx) error {
		if c, err := tx.EventRules().CountDeliveries(ctx); err != nil || c["DELIVERED"] != 1 || c["PENDING"] != 0 {
			t.Errorf("counts %v %v", c, err)
		}
		if l, err := tx.EventRules().ListDeliveries(ctx, "111111111111", "DELIVERED", 10); err != nil || len(l) != 1 || l[0].Attempts != 1 {
			t.Errorf("list %v %v", l, err)
		}
		return nil
	})
	// A dead letter redriven is due again with a fresh budget.
	failed := *d
	failed.ID, failed.EventID, failed.Status, failed.Attempts, failed.LastError = "d3", "e3", "FAILED", 3, "HTTP 404"
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.EventRules().InsertDelivery(ctx, &failed); err != nil {
			return err
		}
		return tx.EventRules().UpdateDelivery(ctx, &failed)
	})
	update(t, s, func(tx store.Tx) error {
		if n, err := tx.EventRules().Redrive(ctx, "111111111111", "other", base, base.Add(time.Hour)); err != nil || n != 0 {
			t.Errorf("redrive of another event: %d %v", n, err)
		}
		if n, err := tx.EventRules().Redrive(ctx, "111111111111", "", base.Add(time.Minute), base.Add(time.Hour)); err != nil || n != 1 {
			t.Errorf("redrive: %d %v", n, err)
		}
		return nil
	})
	s.View(ctx, func(tx store.Tx) error {
		due, err := tx.EventRules().DueDeliveries(ctx, base.Add(time.Minute), 10)
		if err != nil || len(due) != 1 || due[0].ID != "d3" || due[0].Attempts != 0 || due[0].LastError != "" || !due[0].Expires.Equal(base.Add(time.Hour)) {
			t.Errorf("after redrive: %+v %v", due, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if n, err := tx.EventRules().PurgeDeliveries(ctx, "DELIVERED", base, 10); err != nil || n != 0 {
			t.Errorf("purged a delivery created at the cut: %d %v", n, err)
		}
		if n, err := tx.EventRules().PurgeDeliveries(ctx, "DELIVERED", base.Add(time.Second), 10); err != nil || n != 1 {
			t.Errorf("purged %d deliveries, %v", n, err)
		}
		return nil
	})
}

// expectErr runs fn in a write transaction and checks the error it ends with.
func expectErr(t *testing.T, s store.Store, what string, want error, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func testDeployTokens(t *testing.T, s store.Store) {
	mine, other := "111111111111", "222222222222"
	tok := func(id, account string, created time.Time) *store.AgentToken {
		return &store.AgentToken{ID: id, Account: account, Hash: []byte("hash-" + id), Tags: []byte(`{"env":"prod"}`),
			Description: "web " + id, CreatedBy: "arn:aws:iam::" + account + ":user/admin", CreatedAt: created,
			ExpiresAt: created.Add(time.Hour)}
	}
	update(t, s, func(tx store.Tx) error {
		for i, id := range []string{"et-b", "et-a", "et-c"} {
			if err := tx.Deploy().InsertToken(ctx, tok(id, mine, base.Add(time.Duration(i)*time.Second))); err != nil {
				return err
			}
		}
		return tx.Deploy().InsertToken(ctx, tok("et-x", other, base.Add(time.Hour)))
	})
	expectErr(t, s, "duplicate token", store.ErrConflict, func(tx store.Tx) error {
		return tx.Deploy().InsertToken(ctx, tok("et-a", mine, base))
	})
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetToken(ctx, "et-a")
		want := tok("et-a", mine, base.Add(time.Second))
		if err != nil || got.Account != mine || !bytes.Equal(got.Hash, want.Hash) || string(got.Tags) != string(want.Tags) ||
			got.Description != want.Description || got.CreatedBy != want.CreatedBy || !got.CreatedAt.Equal(want.CreatedAt) ||
			got.CreatedAt.Location() != time.UTC || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.UsedAt.IsZero() || got.UsedBy != "" {
			t.Errorf("get token = %+v, %v", got, err)
		}
		if _, err := tx.Deploy().GetToken(ctx, "et-missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing token: %v", err)
		}
		// Newest first, and only the account's own.
		l, err := tx.Deploy().ListTokens(ctx, mine)
		if err != nil || len(l) != 3 || l[0].ID != "et-c" || l[1].ID != "et-a" || l[2].ID != "et-b" {
			t.Errorf("list tokens = %v, %v", tokenIDs(l), err)
		}
		if l, err := tx.Deploy().ListTokens(ctx, "333333333333"); err != nil || len(l) != 0 {
			t.Errorf("tokens of an account without any: %v, %v", tokenIDs(l), err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.Deploy().UseToken(ctx, "et-a", "ag-1", base.Add(time.Minute)) })
	// A token is used once: the second enrolment loses.
	expectErr(t, s, "second use", store.ErrStale, func(tx store.Tx) error {
		return tx.Deploy().UseToken(ctx, "et-a", "ag-2", base.Add(2*time.Minute))
	})
	expectErr(t, s, "use of a missing token", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().UseToken(ctx, "et-missing", "ag-2", base)
	})
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetToken(ctx, "et-a")
		if err != nil || !got.UsedAt.Equal(base.Add(time.Minute)) || got.UsedBy != "ag-1" {
			t.Errorf("used token = %+v, %v", got, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.Deploy().DeleteToken(ctx, "et-a") })
	expectErr(t, s, "delete of a missing token", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().DeleteToken(ctx, "et-a")
	})
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Deploy().GetToken(ctx, "et-a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted token: %v", err)
		}
		if l, err := tx.Deploy().ListTokens(ctx, mine); err != nil || len(l) != 2 {
			t.Errorf("tokens after delete: %v, %v", tokenIDs(l), err)
		}
		if l, err := tx.Deploy().ListTokens(ctx, other); err != nil || len(l) != 1 || l[0].ID != "et-x" {
			t.Errorf("other account's tokens: %v, %v", tokenIDs(l), err)
		}
		return nil
	})
}

func tokenIDs(l []*store.AgentToken) []string {
	var out []string
	for _, x := range l {
		out = append(out, x.ID)
	}
	return out
}

func newAgent(id, account string) *store.Agent {
	return &store.Agent{ID: id, Account: account, Hostname: "host-" + id, Tags: []byte(`{"role":"web"}`), TokenID: "et-" + id,
		CertSerial: "0a", CertNotAfter: base.Add(30 * 24 * time.Hour), AgentVersion: "1.0.0", Status: "ACTIVE",
		CreatedAt: base, LastSeenAt: base}
}

func testDeployAgents(t *testing.T, s store.Store) {
	mine, other := "111111111111", "222222222222"
	a := newAgent("ag-b", mine)
	update(t, s, func(tx store.Tx) error {
		if err := tx.Deploy().InsertAgent(ctx, a); err != nil {
			return err
		}
		if err := tx.Deploy().InsertAgent(ctx, newAgent("ag-c", mine)); err != nil {
			return err
		}
		if err := tx.Deploy().InsertAgent(ctx, newAgent("ag-a", mine)); err != nil {
			return err
		}
		return tx.Deploy().InsertAgent(ctx, newAgent("ag-x", other))
	})
	if a.RowVersion != 1 {
		t.Errorf("inserted agent's version = %d", a.RowVersion)
	}
	expectErr(t, s, "duplicate agent", store.ErrConflict, func(tx store.Tx) error {
		return tx.Deploy().InsertAgent(ctx, newAgent("ag-b", mine))
	})
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetAgent(ctx, "ag-b")
		if err != nil || got.Account != mine || got.Hostname != "host-ag-b" || string(got.Tags) != `{"role":"web"}` ||
			got.TokenID != "et-ag-b" || got.CertSerial != "0a" || got.PrevSerial != "" || !got.CertNotAfter.Equal(a.CertNotAfter) ||
			got.AgentVersion != "1.0.0" || got.Status != "ACTIVE" || !got.CreatedAt.Equal(base) || !got.LastSeenAt.Equal(base) ||
			got.RowVersion != 1 {
			t.Errorf("get agent = %+v, %v", got, err)
		}
		if _, err := tx.Deploy().GetAgent(ctx, "ag-missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing agent: %v", err)
		}
		l, err := tx.Deploy().ListAgents(ctx, mine)
		if err != nil || len(l) != 3 || l[0].ID != "ag-a" || l[1].ID != "ag-b" || l[2].ID != "ag-c" {
			t.Errorf("list agents = %v, %v", l, err)
		}
		if l, err := tx.Deploy().ListAgents(ctx, other); err != nil || len(l) != 1 || l[0].ID != "ag-x" {
			t.Errorf("other account's agents = %v, %v", l, err)
		}
		if l, err := tx.Deploy().ListAgents(ctx, ""); err != nil || len(l) != 4 {
			t.Errorf("every account's agents = %v, %v", l, err)
		}
		return nil
	})
	// Renewing the certificate: the old serial becomes the previous one.
	stale := *a
	a.PrevSerial, a.CertSerial, a.CertNotAfter = a.CertSerial, "0b", base.Add(60*24*time.Hour)
	a.AgentVersion, a.Tags, a.LastSeenAt = "1.1.0", []byte(`{"role":"db"}`), base.Add(time.Minute)
	update(t, s, func(tx store.Tx) error { return tx.Deploy().UpdateAgent(ctx, a) })
	if a.RowVersion != 2 {
		t.Errorf("updated agent's version = %d", a.RowVersion)
	}
	stale.Status = "DEREGISTERED"
	expectErr(t, s, "stale agent update", store.ErrStale, func(tx store.Tx) error { return tx.Deploy().UpdateAgent(ctx, &stale) })
	missing := newAgent("ag-missing", mine)
	missing.RowVersion = 1
	expectErr(t, s, "update of a missing agent", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().UpdateAgent(ctx, missing)
	})
	update(t, s, func(tx store.Tx) error { return tx.Deploy().TouchAgent(ctx, "ag-b", base.Add(time.Hour)) })
	expectErr(t, s, "touch of a missing agent", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().TouchAgent(ctx, "ag-missing", base)
	})
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetAgent(ctx, "ag-b")
		if err != nil || got.CertSerial != "0b" || got.PrevSerial != "0a" || !got.CertNotAfter.Equal(base.Add(60*24*time.Hour)) ||
			got.AgentVersion != "1.1.0" || string(got.Tags) != `{"role":"db"}` || got.Status != "ACTIVE" ||
			!got.LastSeenAt.Equal(base.Add(time.Hour)) || got.RowVersion != 2 || !got.CreatedAt.Equal(base) {
			t.Errorf("agent after update and touch = %+v, %v", got, err)
		}
		return nil
	})
	// A touch does not change the version: an update from the current copy
	// still succeeds.
	a.Status = "DEREGISTERED"
	update(t, s, func(tx store.Tx) error { return tx.Deploy().UpdateAgent(ctx, a) })
	s.View(ctx, func(tx store.Tx) error {
		if got, err := tx.Deploy().GetAgent(ctx, "ag-b"); err != nil || got.Status != "DEREGISTERED" || got.RowVersion != 3 {
			t.Errorf("agent after second update = %+v, %v", got, err)
		}
		return nil
	})
}

func newDeployment(id, account, name, source string) *store.Deployment {
	return &store.Deployment{ID: id, Account: account, Name: name,
		ARN: "arn:aws:sigil-deploy:us-east-1:" + account + ":deployment/" + name, SourceARN: source,
		Selector: []byte(`{"role":"web"}`), Profile: "nginx", Spec: []byte(`{"cert":"/etc/ssl/c.pem"}`),
		Passphrase: "arn:aws:secretsmanager:us-east-1:" + account + ":secret:pw", Version: "v1", Serial: "01",
		Status: "ACTIVE", CreatedBy: "arn:aws:iam::" + account + ":user/admin", CreatedAt: base, UpdatedAt: base,
		TargetAccount: "333333333333", LastError: "the secret is not a bundle"}
}

func testDeployProfiles(t *testing.T, s store.Store) {
	mine, other := "111111111111", "222222222222"
	p := &store.DeployProfile{Account: mine, Name: "custom", Spec: []byte(`{"v":1}`), CreatedAt: base, UpdatedAt: base}
	update(t, s, func(tx store.Tx) error {
		for _, x := range []*store.DeployProfile{
			p,
			{Account: mine, Name: "another", Spec: []byte(`{}`), CreatedAt: base, UpdatedAt: base},
			{Account: other, Name: "custom", Spec: []byte(`{"v":"other"}`), CreatedAt: base, UpdatedAt: base},
		} {
			if err := tx.Deploy().PutProfile(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	// A second put replaces the profile (and keeps when it was created).
	update(t, s, func(tx store.Tx) error {
		return tx.Deploy().PutProfile(ctx, &store.DeployProfile{Account: mine, Name: "custom", Spec: []byte(`{"v":2}`),
			CreatedAt: base.Add(time.Hour), UpdatedAt: base.Add(time.Hour)})
	})
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetProfile(ctx, mine, "custom")
		if err != nil || got.Account != mine || got.Name != "custom" || string(got.Spec) != `{"v":2}` ||
			!got.CreatedAt.Equal(base) || !got.UpdatedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("get profile = %+v, %v", got, err)
		}
		if got, err := tx.Deploy().GetProfile(ctx, other, "custom"); err != nil || string(got.Spec) != `{"v":"other"}` {
			t.Errorf("other account's profile = %+v, %v", got, err)
		}
		if _, err := tx.Deploy().GetProfile(ctx, mine, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing profile: %v", err)
		}
		l, err := tx.Deploy().ListProfiles(ctx, mine)
		if err != nil || len(l) != 2 || l[0].Name != "another" || l[1].Name != "custom" || l[1].Account != mine {
			t.Errorf("list profiles = %v, %v", l, err)
		}
		if l, err := tx.Deploy().ListProfiles(ctx, other); err != nil || len(l) != 1 {
			t.Errorf("other account's profiles = %v, %v", l, err)
		}
		return nil
	})
	// ProfileInUse counts the account's deployments naming the profile.
	update(t, s, func(tx store.Tx) error {
		for _, d := range []*store.Deployment{
			newDeployment("dp-1", mine, "one", "arn:src"), newDeployment("dp-2", mine, "two", "arn:src"),
			newDeployment("dp-3", other, "one", "arn:src"), newDeployment("dp-4", mine, "three", "arn:src"),
		} {
			d.Profile = "custom"
			if d.ID == "dp-4" {
				d.Profile = "nginx"
			}
			if err := tx.Deploy().InsertDeployment(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	s.View(ctx, func(tx store.Tx) error {
		for _, c := range []struct {
			account, name string
			want          int
		}{{mine, "custom", 2}, {other, "custom", 1}, {mine, "another", 0}, {mine, "nginx", 1}, {"333333333333", "custom", 0}} {
			if n, err := tx.Deploy().ProfileInUse(ctx, c.account, c.name); err != nil || n != c.want {
				t.Errorf("profile %s/%s in use by %d, %v; want %d", c.account, c.name, n, err, c.want)
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.Deploy().DeleteProfile(ctx, mine, "another") })
	expectErr(t, s, "delete of a missing profile", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().DeleteProfile(ctx, mine, "another")
	})
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Deploy().GetProfile(ctx, mine, "another"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted profile: %v", err)
		}
		if l, err := tx.Deploy().ListProfiles(ctx, mine); err != nil || len(l) != 1 || l[0].Name != "custom" {
			t.Errorf("profiles after delete = %v, %v", l, err)
		}
		return nil
	})
}

func deploymentNames(l []*store.Deployment) []string {
	var out []string
	for _, d := range l {
		out = append(out, d.Account+"/"+d.Name)
	}
	return out
}

func testDeployments(t *testing.T, s store.Store) {
	mine, other := "111111111111", "222222222222"
	src, src2 := "arn:aws:acm:us-east-1:111111111111:certificate/c1", "arn:aws:acm:us-east-1:111111111111:certificate/c2"
	d := newDeployment("dp-web", mine, "web", src)
	update(t, s, func(tx store.Tx) error {
		if err := tx.Deploy().InsertDeployment(ctx, d); err != nil {
			return err
		}
		for _, x := range []*store.Deployment{
			newDeployment("dp-api", mine, "api", src2), newDeployment("dp-zed", mine, "zed", src),
			newDeployment("dp-other", other, "web", src),
		} {
			if err := tx.Deploy().InsertDeployment(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	if d.RowVersion != 1 {
		t.Errorf("inserted deployment's version = %d", d.RowVersion)
	}
	expectErr(t, s, "duplicate deployment name", store.ErrConflict, func(tx store.Tx) error {
		return tx.Deploy().InsertDeployment(ctx, newDeployment("dp-new", mine, "web", src))
	})
	expectErr(t, s, "duplicate deployment ID", store.ErrConflict, func(tx store.Tx) error {
		return tx.Deploy().InsertDeployment(ctx, newDeployment("dp-web", mine, "new", src))
	})
	check := func(what string, got *store.Deployment, err error) {
		t.Helper()
		want := newDeployment("dp-web", mine, "web", src)
		if err != nil || got.ID != want.ID || got.Account != mine || got.Name != "web" || got.ARN != want.ARN ||
			got.SourceARN != src || string(got.Selector) != string(want.Selector) || got.Profile != "nginx" ||
			string(got.Spec) != string(want.Spec) || got.Passphrase != want.Passphrase || got.Version != "v1" ||
			got.Serial != "01" || got.Status != "ACTIVE" || got.CreatedBy != want.CreatedBy || !got.CreatedAt.Equal(base) ||
			!got.UpdatedAt.Equal(base) || got.RowVersion != 1 || got.TargetAccount != "333333333333" ||
			got.LastError != "the secret is not a bundle" {
			t.Errorf("%s = %+v, %v", what, got, err)
		}
	}
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetDeployment(ctx, mine, "web")
		check("get deployment by name", got, err)
		got, err = tx.Deploy().GetDeploymentByID(ctx, "dp-web")
		check("get deployment by ID", got, err)
		if got, err := tx.Deploy().GetDeployment(ctx, other, "web"); err != nil || got.ID != "dp-other" {
			t.Errorf("other account's deployment = %+v, %v", got, err)
		}
		if _, err := tx.Deploy().GetDeployment(ctx, mine, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing deployment: %v", err)
		}
		if _, err := tx.Deploy().GetDeploymentByID(ctx, "dp-missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing deployment ID: %v", err)
		}
		l, err := tx.Deploy().ListDeployments(ctx, mine)
		if names := deploymentNames(l); err != nil || strings.Join(names, " ") != mine+"/api "+mine+"/web "+mine+"/zed" {
			t.Errorf("list deployments = %v, %v", names, err)
		}
		if l, err := tx.Deploy().ListDeployments(ctx, other); err != nil || len(l) != 1 || l[0].ID != "dp-other" {
			t.Errorf("other account's deployments = %v, %v", deploymentNames(l), err)
		}
		l, err = tx.Deploy().ListDeployments(ctx, "")
		names := deploymentNames(l)
		sort.Strings(names)
		if err != nil || strings.Join(names, " ") != mine+"/api "+mine+"/web "+mine+"/zed "+other+"/web" {
			t.Errorf("every account's deployments = %v, %v", names, err)
		}
		l, err = tx.Deploy().DeploymentsOf(ctx, src)
		names = deploymentNames(l)
		sort.Strings(names)
		if err != nil || strings.Join(names, " ") != mine+"/web "+mine+"/zed "+other+"/web" {
			t.Errorf("deployments of a source = %v, %v", names, err)
		}
		if l, err := tx.Deploy().DeploymentsOf(ctx, "arn:none"); err != nil || len(l) != 0 {
			t.Errorf("deployments of an unused source = %v, %v", deploymentNames(l), err)
		}
		return nil
	})
	stale := *d
	d.SourceARN, d.Selector, d.Profile, d.Spec = src2, []byte(`{"role":"db"}`), "apache", []byte(`{"x":2}`)
	d.Passphrase, d.Version, d.Serial, d.Status, d.UpdatedAt = "", "v2", "02", "DELETING", base.Add(time.Hour)
	d.LastError = ""
	update(t, s, func(tx store.Tx) error { return tx.Deploy().UpdateDeployment(ctx, d) })
	if d.RowVersion != 2 {
		t.Errorf("updated deployment's version = %d", d.RowVersion)
	}
	expectErr(t, s, "stale deployment update", store.ErrStale, func(tx store.Tx) error {
		return tx.Deploy().UpdateDeployment(ctx, &stale)
	})
	missing := newDeployment("dp-missing", mine, "missing", src)
	missing.RowVersion = 1
	expectErr(t, s, "update of a missing deployment", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().UpdateDeployment(ctx, missing)
	})
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetDeploymentByID(ctx, "dp-web")
		if err != nil || got.SourceARN != src2 || string(got.Selector) != `{"role":"db"}` || got.Profile != "apache" ||
			string(got.Spec) != `{"x":2}` || got.Passphrase != "" || got.Version != "v2" || got.Serial != "02" ||
			got.Status != "DELETING" || !got.UpdatedAt.Equal(base.Add(time.Hour)) || !got.CreatedAt.Equal(base) ||
			got.RowVersion != 2 || got.Name != "web" || got.LastError != "" || got.TargetAccount != "333333333333" {
			t.Errorf("deployment after update = %+v, %v", got, err)
		}
		if l, err := tx.Deploy().DeploymentsOf(ctx, src2); err != nil || len(l) != 2 {
			t.Errorf("deployments of the new source = %v, %v", deploymentNames(l), err)
		}
		return nil
	})
	// Deleting a deployment deletes its targets, and only its.
	update(t, s, func(tx store.Tx) error {
		for _, x := range []*store.DeployTarget{
			newTarget("dp-web", "ag-1", mine), newTarget("dp-web", "ag-2", mine), newTarget("dp-api", "ag-1", mine),
		} {
			if err := tx.Deploy().PutTarget(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.Deploy().DeleteDeployment(ctx, "dp-web") })
	expectErr(t, s, "delete of a missing deployment", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().DeleteDeployment(ctx, "dp-web")
	})
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Deploy().GetDeploymentByID(ctx, "dp-web"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted deployment: %v", err)
		}
		if l, err := tx.Deploy().TargetsOfDeployment(ctx, "dp-web"); err != nil || len(l) != 0 {
			t.Errorf("targets survived their deployment: %v, %v", l, err)
		}
		if _, err := tx.Deploy().GetTarget(ctx, "dp-web", "ag-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("target of a deleted deployment: %v", err)
		}
		if l, err := tx.Deploy().TargetsOfAgent(ctx, "ag-1"); err != nil || len(l) != 1 || l[0].DeploymentID != "dp-api" {
			t.Errorf("targets of another deployment after delete: %v, %v", l, err)
		}
		if l, err := tx.Deploy().ListDeployments(ctx, mine); err != nil || len(l) != 2 {
			t.Errorf("deployments after delete = %v, %v", deploymentNames(l), err)
		}
		return nil
	})
	// The name is free again.
	update(t, s, func(tx store.Tx) error {
		return tx.Deploy().InsertDeployment(ctx, newDeployment("dp-web2", mine, "web", src))
	})
}

func newTarget(deployment, agent, account string) *store.DeployTarget {
	return &store.DeployTarget{DeploymentID: deployment, AgentID: agent, Account: account, Generation: 1, Version: "v1",
		Serial: "01", Status: "PENDING", CreatedAt: base, UpdatedAt: base}
}

func testDeployTargets(t *testing.T, s store.Store) {
	mine := "111111111111"
	update(t, s, func(tx store.Tx) error {
		for _, x := range []*store.DeployTarget{
			newTarget("dp-b", "ag-2", mine), newTarget("dp-b", "ag-1", mine), newTarget("dp-a", "ag-1", mine),
			newTarget("dp-c", "ag-3", "222222222222"),
		} {
			if err := tx.Deploy().PutTarget(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetTarget(ctx, "dp-b", "ag-1")
		if err != nil || got.DeploymentID != "dp-b" || got.AgentID != "ag-1" || got.Account != mine || got.Generation != 1 ||
			got.Version != "v1" || got.Serial != "01" || got.Status != "PENDING" || got.Attempts != 0 || got.Message != "" ||
			!got.LeaseUntil.IsZero() || got.Installed != "" || !got.InstalledAt.IsZero() || len(got.Paths) != 0 ||
			!got.CreatedAt.Equal(base) || !got.UpdatedAt.Equal(base) {
			t.Errorf("get target = %+v, %v", got, err)
		}
		if _, err := tx.Deploy().GetTarget(ctx, "dp-b", "ag-3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing target: %v", err)
		}
		l, err := tx.Deploy().TargetsOfDeployment(ctx, "dp-b")
		if err != nil || len(l) != 2 || l[0].AgentID != "ag-1" || l[1].AgentID != "ag-2" {
			t.Errorf("targets of a deployment = %v, %v", l, err)
		}
		l, err = tx.Deploy().TargetsOfAgent(ctx, "ag-1")
		if err != nil || len(l) != 2 || l[0].DeploymentID != "dp-a" || l[1].DeploymentID != "dp-b" {
			t.Errorf("targets of an agent = %v, %v", l, err)
		}
		if l, err := tx.Deploy().TargetsOfAgent(ctx, "ag-missing"); err != nil || len(l) != 0 {
			t.Errorf("targets of an unknown agent = %v, %v", l, err)
		}
		n := 0
		counts, err := tx.Deploy().CountTargets(ctx)
		for _, c := range counts {
			n += c
		}
		if err != nil || n != 4 || counts["PENDING"] != 4 {
			t.Errorf("count targets = %v, %v", counts, err)
		}
		return nil
	})
	// A second put replaces the target (and keeps when it was created).
	x := newTarget("dp-b", "ag-1", mine)
	x.Generation, x.Version, x.Serial, x.Status, x.Attempts = 2, "v2", "02", "SUCCEEDED", 3
	x.Message, x.LeaseUntil, x.Installed, x.InstalledAt = "installed", base.Add(time.Minute), "02", base.Add(2*time.Minute)
	x.Paths, x.CreatedAt, x.UpdatedAt = []byte(`["/etc/ssl/c.pem"]`), base.Add(time.Hour), base.Add(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.Deploy().PutTarget(ctx, x) })
	s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Deploy().GetTarget(ctx, "dp-b", "ag-1")
		if err != nil || got.Generation != 2 || got.Version != "v2" || got.Serial != "02" || got.Status != "SUCCEEDED" ||
			got.Attempts != 3 || got.Message != "installed" || !got.LeaseUntil.Equal(base.Add(time.Minute)) ||
			got.Installed != "02" || !got.InstalledAt.Equal(base.Add(2*time.Minute)) || string(got.Paths) != `["/etc/ssl/c.pem"]` ||
			!got.CreatedAt.Equal(base) || !got.UpdatedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("target after second put = %+v, %v", got, err)
		}
		if l, err := tx.Deploy().TargetsOfDeployment(ctx, "dp-b"); err != nil || len(l) != 2 {
			t.Errorf("a second put added a target: %v, %v", l, err)
		}
		return nil
	})
	// Clearing the lease round-trips as zero.
	x.LeaseUntil, x.Paths = time.Time{}, nil
	update(t, s, func(tx store.Tx) error { return tx.Deploy().PutTarget(ctx, x) })
	s.View(ctx, func(tx store.Tx) error {
		if got, err := tx.Deploy().GetTarget(ctx, "dp-b", "ag-1"); err != nil || !got.LeaseUntil.IsZero() || len(got.Paths) != 0 {
			t.Errorf("target after clearing its lease = %+v, %v", got, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.Deploy().DeleteTarget(ctx, "dp-b", "ag-1") })
	expectErr(t, s, "delete of a missing target", store.ErrNotFound, func(tx store.Tx) error {
		return tx.Deploy().DeleteTarget(ctx, "dp-b", "ag-1")
	})
	s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Deploy().GetTarget(ctx, "dp-b", "ag-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted target: %v", err)
		}
		if l, err := tx.Deploy().TargetsOfDeployment(ctx, "dp-b"); err != nil || len(l) != 1 || l[0].AgentID != "ag-2" {
			t.Errorf("targets after delete = %v, %v", l, err)
		}
		if l, err := tx.Deploy().TargetsOfAgent(ctx, "ag-1"); err != nil || len(l) != 1 || l[0].DeploymentID != "dp-a" {
			t.Errorf("agent's targets after delete = %v, %v", l, err)
		}
		return nil
	})
}

// testDeployZeroValues stores records whose optional times and JSON are
// unset: zero times come back zero, nil JSON comes back empty.
func testDeployZeroValues(t *testing.T, s store.Store) {
	mine := "111111111111"
	update(t, s, func(tx store.Tx) error {
		if err := tx.Deploy().InsertToken(ctx, &store.AgentToken{ID: "et-z", Account: mine, Hash: []byte{1}, CreatedAt: base}); err != nil {
			return err
		}
		if err := tx.Deploy().InsertAgent(ctx, &store.Agent{ID: "ag-z", Account: mine, Status: "ACTIVE", CreatedAt: base}); err != nil {
			return err
		}
		if err := tx.Deploy().PutProfile(ctx, &store.DeployProfile{Account: mine, Name: "z", CreatedAt: base, UpdatedAt: base}); err != nil {
			return err
		}
		if err := tx.Deploy().InsertDeployment(ctx, &store.Deployment{ID: "dp-z", Account: mine, Name: "z", CreatedAt: base, UpdatedAt: base}); err != nil {
			return err
		}
		return tx.Deploy().PutTarget(ctx, &store.DeployTarget{DeploymentID: "dp-z", AgentID: "ag-z", Account: mine, CreatedAt: base, UpdatedAt: base})
	})
	s.View(ctx, func(tx store.Tx) error {
		if k, err := tx.Deploy().GetToken(ctx, "et-z"); err != nil || !k.ExpiresAt.IsZero() || !k.UsedAt.IsZero() || len(k.Tags) != 0 ||
			!k.CreatedAt.Equal(base) {
			t.Errorf("zero token = %+v, %v", k, err)
		}
		if a, err := tx.Deploy().GetAgent(ctx, "ag-z"); err != nil || !a.CertNotAfter.IsZero() || !a.LastSeenAt.IsZero() || len(a.Tags) != 0 {
			t.Errorf("zero agent = %+v, %v", a, err)
		}
		if p, err := tx.Deploy().GetProfile(ctx, mine, "z"); err != nil || len(p.Spec) != 0 {
			t.Errorf("zero profile = %+v, %v", p, err)
		}
		if d, err := tx.Deploy().GetDeployment(ctx, mine, "z"); err != nil || len(d.Selector) != 0 || len(d.Spec) != 0 || d.RowVersion != 1 {
			t.Errorf("zero deployment = %+v, %v", d, err)
		}
		if x, err := tx.Deploy().GetTarget(ctx, "dp-z", "ag-z"); err != nil || !x.LeaseUntil.IsZero() || !x.InstalledAt.IsZero() || len(x.Paths) != 0 {
			t.Errorf("zero target = %+v, %v", x, err)
		}
		return nil
	})
	// Times set and then cleared by an update come back zero too.
	update(t, s, func(tx store.Tx) error {
		a, err := tx.Deploy().GetAgent(ctx, "ag-z")
		if err != nil {
			return err
		}
		a.CertNotAfter, a.LastSeenAt = base, base
		if err := tx.Deploy().UpdateAgent(ctx, a); err != nil {
			return err
		}
		a.CertNotAfter, a.LastSeenAt = time.Time{}, time.Time{}
		return tx.Deploy().UpdateAgent(ctx, a)
	})
	s.View(ctx, func(tx store.Tx) error {
		if a, err := tx.Deploy().GetAgent(ctx, "ag-z"); err != nil || !a.CertNotAfter.IsZero() || !a.LastSeenAt.IsZero() || a.RowVersion != 3 {
			t.Errorf("agent with cleared times = %+v, %v", a, err)
		}
		return nil
	})
}
