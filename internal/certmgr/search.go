package certmgr

import (
	"context"
	"crypto/x509"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// Filter is a SearchCertificates filter statement: exactly one of And, Or,
// Not or Match.
type Filter struct {
	And   []*Filter
	Or    []*Filter
	Not   *Filter
	Match *Match
}

// Match compares one attribute of a certificate. Field is the wire name of
// the attribute (CertificateArn, CommonName, DnsName, KeyUsage,
// ExtendedKeyUsage, KeyAlgorithm, SerialNumber, NotBefore, NotAfter,
// Status, Type, RenewalStatus, Exported, InUse, ExportOption,
// CertificateKeyPairOrigin, ManagedBy, ValidationMethod, AcmeAccountId,
// AcmeEndpointArn). Op is EQUALS or CONTAINS for names; other fields
// compare for equality, and NotBefore/NotAfter with the inclusive range
// [Start, End] (either end may be zero: open).
type Match struct {
	Field string
	Op    string
	Value string
	Bool  bool
	Start time.Time
	End   time.Time
}

// SearchInput is a SearchCertificates request.
type SearchInput struct {
	Filter     *Filter
	MaxResults int
	NextToken  string
	SortBy     string
	SortOrder  string
}

// Limits on a filter statement, so a request cannot make an unbounded
// query.
const (
	maxFilterDepth = 10
	maxFilterTerms = 100
)

// searchSorts maps SearchCertificates SortBy values to store fields.
var searchSorts = map[string]string{
	"CREATED_AT": "created_at", "NOT_AFTER": "not_after", "NOT_BEFORE": "not_before", "STATUS": "status",
	"RENEWAL_STATUS": "renewal_status", "EXPORTED": "exported", "IN_USE": "in_use",
	"KEY_ALGORITHM": "key_algorithm", "TYPE": "type", "CERTIFICATE_ARN": "arn", "COMMON_NAME": "common_name",
	"REVOKED_AT": "revoked_at", "ISSUED_AT": "issued_at", "IMPORTED_AT": "imported_at",
	"EXPORT_OPTION": "export_option",
	// Every certificate has the same value of these here; they sort by
	// creation.
	"RENEWAL_ELIGIBILITY": "created_at", "MANAGED_BY": "created_at", "VALIDATION_METHOD": "created_at",
	"ACME_ENDPOINT_ARN": "created_at", "ACME_ACCOUNT_ID": "created_at", "CERTIFICATE_KEY_PAIR_ORIGIN": "type",
}

type filterBuilder struct{ terms int }

func (b *filterBuilder) build(f *Filter, depth int) (*store.CertFilter, error) {
	if f == nil {
		return nil, errs.New(errs.Invalid, "A filter statement must set one of And, Or, Not or Filter.")
	}
	if depth > maxFilterDepth {
		return nil, errs.New(errs.Invalid, "The filter statement is nested more than %d levels deep.", maxFilterDepth)
	}
	b.terms++
	if b.terms > maxFilterTerms {
		return nil, errs.New(errs.Invalid, "The filter statement has more than %d terms.", maxFilterTerms)
	}
	set := 0
	for _, ok := range []bool{f.And != nil, f.Or != nil, f.Not != nil, f.Match != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, errs.New(errs.Invalid, "A filter statement must set exactly one of And, Or, Not or Filter.")
	}
	switch {
	case f.And != nil || f.Or != nil:
		list := f.And
		if f.Or != nil {
			list = f.Or
		}
		if len(list) == 0 {
			return nil, errs.New(errs.Invalid, "And and Or need at least one filter statement.")
		}
		out := make([]*store.CertFilter, len(list))
		for i, g := range list {
			sf, err := b.build(g, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = sf
		}
		if f.And != nil {
			return &store.CertFilter{And: out}, nil
		}
		return &store.CertFilter{Or: out}, nil
	case f.Not != nil:
		sf, err := b.build(f.Not, depth+1)
		if err != nil {
			return nil, err
		}
		return &store.CertFilter{Not: sf}, nil
	}
	return matchFilter(f.Match)
}

// none matches no certificate.
var none = &store.CertFilter{Field: "status", Op: store.OpIn}

func matchFilter(m *Match) (*store.CertFilter, error) {
	eq := func(field string, v any) *store.CertFilter {
		return &store.CertFilter{Field: field, Op: store.OpIn, Values: []any{v}}
	}
	enum := func(field string, allowed []string) (*store.CertFilter, error) {
		if !contains(allowed, m.Value) {
			return nil, errs.New(errs.Invalid, "%q is not a valid %s; valid values: %s.", m.Value, m.Field, strings.Join(allowed, ", "))
		}
		return eq(field, m.Value), nil
	}
	text := func(field string, fold bool) (*store.CertFilter, error) {
		v := m.Value
		if v == "" {
			return nil, errs.New(errs.Invalid, "%s needs a non-empty Value.", m.Field)
		}
		if fold {
			v = strings.ToLower(v)
		}
		switch m.Op {
		case "EQUALS":
			return eq(field, v), nil
		case "CONTAINS":
			return &store.CertFilter{Field: field, Op: store.OpContains, Values: []any{v}}, nil
		}
		return nil, errs.New(errs.Invalid, "ComparisonOperator %q is not valid; use EQUALS or CONTAINS.", m.Op)
	}
	rangeOf := func(field string) (*store.CertFilter, error) {
		var and []*store.CertFilter
		if !m.Start.IsZero() {
			and = append(and, &store.CertFilter{Field: field, Op: store.OpGE, Values: []any{m.Start}})
		}
		if !m.End.IsZero() {
			and = append(and, &store.CertFilter{Field: field, Op: store.OpLE, Values: []any{m.End}})
		}
		if len(and) == 0 {
			return nil, errs.New(errs.Invalid, "%s needs a Start, an End or both.", m.Field)
		}
		return &store.CertFilter{And: and}, nil
	}
	switch m.Field {
	case "CertificateArn":
		return eq("arn", m.Value), nil
	case "CommonName":
		return text("common_name", false)
	case "DnsName":
		return text("name:DNS", true)
	case "KeyUsage":
		i := indexOf(KeyUsageNames, m.Value)
		if i < 0 {
			return nil, errs.New(errs.Invalid, "%q is not a valid KeyUsage.", m.Value)
		}
		return &store.CertFilter{Field: "key_usages", Op: store.OpAnyBits, Values: []any{int64(1) << i}}, nil
	case "ExtendedKeyUsage":
		e, ok := ekuByName(m.Value)
		if !ok {
			return nil, errs.New(errs.Invalid, "%q is not a valid ExtendedKeyUsage.", m.Value)
		}
		return &store.CertFilter{Field: "ext_key_usages", Op: store.OpAnyBits, Values: []any{e.bit}}, nil
	case "KeyAlgorithm":
		return enum("key_algorithm", KeyAlgorithms)
	case "SerialNumber":
		n, err := pki.ParseSerialHex(m.Value)
		if err != nil {
			return nil, errs.New(errs.Invalid, "%q is not a serial number in hex.", m.Value)
		}
		return eq("serial", colonHex(n.Bytes())), nil
	case "NotAfter":
		return rangeOf("not_after")
	case "NotBefore":
		return rangeOf("not_before")
	case "Status":
		return enum("status", Statuses)
	case "Type":
		if m.Value == "AMAZON_ISSUED" {
			return none, nil
		}
		return enum("type", []string{TypePrivate, TypeImported, "AMAZON_ISSUED"})
	case "RenewalStatus":
		return enum("renewal_status", []string{RenewalPending, "PENDING_VALIDATION", RenewalSuccess, RenewalFailed})
	case "ExportOption":
		return enum("export_option", []string{ExportEnabled, ExportDisabled})
	case "Exported":
		return eq("exported", m.Bool), nil
	case "InUse":
		return eq("in_use", m.Bool), nil
	case "CertificateKeyPairOrigin":
		switch m.Value {
		case "AWS_MANAGED":
			return eq("type", TypePrivate), nil
		case "CUSTOMER_PROVIDED":
			return eq("type", TypeImported), nil
		case "ACME":
			return none, nil
		}
		return nil, errs.New(errs.Invalid, "%q is not a valid CertificateKeyPairOrigin.", m.Value)
	case "ManagedBy", "ValidationMethod", "AcmeAccountId", "AcmeEndpointArn":
		return none, nil // no certificate here has one
	}
	return nil, errs.New(errs.Invalid, "Unknown filter %q.", m.Field)
}

// Search finds the caller's certificates that match a filter statement,
// sorted and paged; each result also carries its parsed X.509 certificate.
func (s *Service) Search(ctx context.Context, p iam.Principal, in SearchInput) (*Page, error) {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm:SearchCertificates", Resource: "*"}); err != nil {
		return nil, err
	}
	if in.MaxResults == 0 {
		in.MaxResults = 100
	}
	if in.MaxResults < 1 || in.MaxResults > 1000 {
		return nil, validation("maxResults", in.MaxResults, "Member must have value between 1 and 1000")
	}
	sortField := "created_at"
	if in.SortBy != "" {
		f, ok := searchSorts[in.SortBy]
		if !ok {
			return nil, validation("sortBy", in.SortBy, "Member must be a valid SearchCertificatesSortBy value")
		}
		sortField = f
	}
	if in.SortOrder != "" && in.SortOrder != "ASCENDING" && in.SortOrder != "DESCENDING" {
		return nil, validation("sortOrder", in.SortOrder, "Member must satisfy enum value set: [ASCENDING, DESCENDING]")
	}
	var where *store.CertFilter
	if in.Filter != nil {
		var err error
		if where, err = (&filterBuilder{}).build(in.Filter, 1); err != nil {
			return nil, err
		}
	}
	scope := scopeOf("search", p.Account, where, sortField, in.SortOrder)
	after, err := decodeToken(in.NextToken, scope)
	if err != nil {
		return nil, err
	}
	var recs []*store.ACMCertificate
	err = s.store.View(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.ACMCertificates().Query(ctx, store.CertQuery{
			Account: p.Account, Where: where, SortBy: sortField, Desc: in.SortOrder == "DESCENDING", After: after,
			Limit: in.MaxResults + 1, WithDER: true,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &Page{}
	if len(recs) > in.MaxResults {
		recs = recs[:in.MaxResults]
		last := recs[len(recs)-1]
		page.NextToken = encodeToken(scope, sortValue(last, sortField), last.ID)
	}
	now := s.clock.Now()
	for _, r := range recs {
		page.Certificates = append(page.Certificates, view(r, now))
		var x *x509.Certificate
		if r.Certificate != nil {
			x, _ = x509.ParseCertificate(r.Certificate)
		}
		page.X509 = append(page.X509, x)
	}
	return page, nil
}
