package certmgr

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

type allowAll struct{}

func (allowAll) Authorize(context.Context, iam.Principal, iam.Request) error { return nil }

// benchCerts is how many certificates the listing benchmarks hold.
const benchCerts = 100_000

// fillStore makes a store with n certificates of one account: a tenth RSA,
// a hundredth exported with renewal due now, the rest due in the future.
func fillStore(b *testing.B, n int) (*Service, *clock.Fake, []*store.ACMCertificate) {
	b.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(base.Add(time.Duration(n) * time.Second))
	var all []*store.ACMCertificate
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := st.Update(context.Background(), func(tx store.Tx) error {
			for i := start; i < start+batch && i < n; i++ {
				created := base.Add(time.Duration(i) * time.Second)
				id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
				c := &store.ACMCertificate{
					ID: id, ARN: certARN("us-east-1", "123456789012", id), Account: "123456789012", Type: TypePrivate,
					Status: StatusIssued, DomainName: fmt.Sprintf("host%d.svc%d.internal", i, i%100),
					Names:        []store.CertName{{Kind: "DNS", Name: fmt.Sprintf("host%d.svc%d.internal", i, i%100)}},
					KeyAlgorithm: "EC_prime256v1", CreatedAt: created, NotBefore: created, NotAfter: created.Add(PrivateValidity),
					ExportOption: ExportEnabled, KeyUsages: 1, ExtKeyUsages: 3, CommonName: fmt.Sprintf("host%d", i),
					Certificate: make([]byte, 700), PrivateKey: make([]byte, 200),
				}
				if i%10 == 0 {
					c.KeyAlgorithm = "RSA_2048"
				}
				if i%100 == 0 {
					c.Exported, c.RenewAt = true, clk.Now().Add(-time.Hour)
				} else {
					c.RenewAt = c.NotAfter.Add(-RenewBefore)
				}
				if err := tx.ACMCertificates().Insert(context.Background(), c); err != nil {
					return err
				}
				all = append(all, c)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	svc := New(st, nil, nil, allowAll{}, clk, Options{Region: "us-east-1"})
	return svc, clk, all
}

var benchAdmin = iam.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/admin", Admin: true}

// BenchmarkListCertificates100k lists pages of 100 among 100,000
// certificates: the first page and a page 90% deep cost the same, because
// pagination continues from a key (an index seek), not an offset.
func BenchmarkListCertificates100k(b *testing.B) {
	svc, _, all := fillStore(b, benchCerts)
	in := ListInput{KeyTypes: []string{"EC_prime256v1", "RSA_2048"}, MaxItems: 100}
	scope := scopeOf("list", benchAdmin.Account, in.Statuses, in.KeyTypes, in.KeyUsages, in.ExtKeyUsages,
		in.ExportOption, in.ManagedBy, in.KeyPairOrigins, in.SortBy, in.SortOrder)
	deep := all[benchCerts*9/10]
	deepToken := encodeToken(scope, sortValue(deep, "created_at"), deep.ID)
	for _, bc := range []struct {
		name  string
		token string
	}{{"first-page", ""}, {"deep-page-90pct", deepToken}} {
		b.Run(bc.name, func(b *testing.B) {
			in := in
			in.NextToken = bc.token
			for b.Loop() {
				page, err := svc.List(context.Background(), benchAdmin, in)
				if err != nil || len(page.Certificates) != 100 {
					b.Fatalf("%v %d", err, len(page.Certificates))
				}
			}
		})
	}
	b.Run("rsa-only-deep", func(b *testing.B) {
		in := ListInput{MaxItems: 100} // the default filter: RSA only
		scope := scopeOf("list", benchAdmin.Account, in.Statuses, []string{"RSA_1024", "RSA_2048"}, in.KeyUsages,
			in.ExtKeyUsages, in.ExportOption, in.ManagedBy, in.KeyPairOrigins, in.SortBy, in.SortOrder)
		in.NextToken = encodeToken(scope, sortValue(deep, "created_at"), deep.ID)
		for b.Loop() {
			if page, err := svc.List(context.Background(), benchAdmin, in); err != nil || len(page.Certificates) != 100 {
				b.Fatalf("%v", err)
			}
		}
	})
}

// BenchmarkSearchCertificates100k searches by DNS name and by expiry range
// among 100,000 certificates, first and deep pages.
func BenchmarkSearchCertificates100k(b *testing.B) {
	svc, _, all := fillStore(b, benchCerts)
	dns := &Filter{Match: &Match{Field: "DnsName", Op: "CONTAINS", Value: ".svc7.internal"}}
	expiring := &Filter{Match: &Match{Field: "NotAfter", End: all[benchCerts/2].NotAfter}}
	for _, bc := range []struct {
		name   string
		filter *Filter
		sortBy string
		deepAt int
	}{
		{"dns-contains", dns, "", benchCerts * 9 / 10},
		{"not-after-range-by-expiry", expiring, "NOT_AFTER", benchCerts * 4 / 10},
	} {
		where, err := (&filterBuilder{}).build(bc.filter, 1)
		if err != nil {
			b.Fatal(err)
		}
		sortField := "created_at"
		if bc.sortBy != "" {
			sortField = searchSorts[bc.sortBy]
		}
		scope := scopeOf("search", benchAdmin.Account, where, sortField, "")
		deep := all[bc.deepAt]
		for _, page := range []struct {
			name  string
			token string
		}{{"first-page", ""}, {"deep-page", encodeToken(scope, sortValue(deep, sortField), deep.ID)}} {
			b.Run(bc.name+"/"+page.name, func(b *testing.B) {
				for b.Loop() {
					res, err := svc.Search(context.Background(), benchAdmin,
						SearchInput{Filter: bc.filter, MaxResults: 100, SortBy: bc.sortBy, NextToken: page.token})
					if err != nil || len(res.Certificates) == 0 {
						b.Fatalf("%v", err)
					}
				}
			})
		}
	}
}

// BenchmarkRenewalDue100k measures how the renewal job finds the 1,000
// certificates due among 100,000 (through its due-date index).
func BenchmarkRenewalDue100k(b *testing.B) {
	svc, clk, _ := fillStore(b, benchCerts)
	for b.Loop() {
		var ids []string
		err := svc.store.View(context.Background(), func(tx store.Tx) (err error) {
			ids, err = tx.ACMCertificates().RenewalDue(context.Background(), clk.Now(), jobBatch)
			return err
		})
		if err != nil || len(ids) != jobBatch {
			b.Fatalf("%v %d", err, len(ids))
		}
	}
}
