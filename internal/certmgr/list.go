package certmgr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// ListInput filters, sorts and pages ListCertificates.
type ListInput struct {
	Statuses       []string
	KeyTypes       []string // nil: RSA_1024 and RSA_2048 only, as on AWS
	KeyUsages      []string
	ExtKeyUsages   []string
	ExportOption   string
	ManagedBy      string
	KeyPairOrigins []string
	MaxItems       int
	NextToken      string
	SortBy         string // "" or CREATED_AT
	SortOrder      string // ASCENDING or DESCENDING; with SortBy
}

// Page is one page of certificates.
type Page struct {
	Certificates []*Certificate
	X509         []*x509.Certificate // Search only: each certificate parsed (nil if not issued)
	NextToken    string
}

// Statuses are every ACM certificate status.
var Statuses = []string{"PENDING_VALIDATION", "ISSUED", "INACTIVE", "EXPIRED", "VALIDATION_TIMED_OUT", "REVOKED", "FAILED"}

// pageToken is an opaque position in a listing: a hash of the listing it
// belongs to, the sort value of the last certificate returned, and its ID.
type pageToken struct {
	Scope string          `json:"s"`
	Value json.RawMessage `json:"v"`
	ID    string          `json:"i"`
}

func scopeOf(parts ...any) string {
	b, _ := json.Marshal(parts)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func encodeToken(scope string, value any, id string) string {
	v, _ := json.Marshal(value)
	b, _ := json.Marshal(pageToken{Scope: scope, Value: v, ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(tok, scope string) (*store.CertCursor, error) {
	if tok == "" {
		return nil, nil
	}
	bad := errs.Coded(errs.Invalid, CodeInvalidNextToken, "The NextToken is not valid for this request.")
	if len(tok) > 10000 {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, bad
	}
	var t pageToken
	if json.Unmarshal(raw, &t) != nil || t.Scope != scope || t.ID == "" {
		return nil, bad
	}
	d := json.NewDecoder(bytes.NewReader(t.Value))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil, bad
	}
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return nil, bad
		}
		return &store.CertCursor{Value: n, ID: t.ID}, nil
	case string:
		return &store.CertCursor{Value: x, ID: t.ID}, nil
	}
	return nil, bad
}

// sortValue is the value of the sort column of a record, as a cursor
// holds it.
func sortValue(c *store.ACMCertificate, field string) any {
	micros := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UTC().UnixMicro()
	}
	b := func(v bool) int64 {
		if v {
			return 1
		}
		return 0
	}
	switch field {
	case "", "created_at":
		return micros(c.CreatedAt)
	case "not_after":
		return micros(c.NotAfter)
	case "not_before":
		return micros(c.NotBefore)
	case "issued_at":
		return micros(c.IssuedAt)
	case "imported_at":
		return micros(c.ImportedAt)
	case "revoked_at":
		return micros(c.RevokedAt)
	case "status":
		return c.Status
	case "renewal_status":
		return c.RenewalStatus
	case "key_algorithm":
		return c.KeyAlgorithm
	case "type":
		return c.Type
	case "arn":
		return c.ARN
	case "common_name":
		return c.CommonName
	case "export_option":
		return c.ExportOption
	case "exported":
		return b(c.Exported)
	case "in_use":
		return b(len(c.InUseBy) > 0)
	}
	return micros(c.CreatedAt)
}

// List lists the caller's certificates as ListCertificates does.
func (s *Service) List(ctx context.Context, p iam.Principal, in ListInput) (*Page, error) {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm:ListCertificates", Resource: "*"}); err != nil {
		return nil, err
	}
	if in.MaxItems == 0 {
		in.MaxItems = 1000
	}
	if in.MaxItems < 1 || in.MaxItems > 1000 {
		return nil, validation("maxItems", in.MaxItems, "Member must have value between 1 and 1000")
	}
	if (in.SortBy == "") != (in.SortOrder == "") {
		return nil, errs.Coded(errs.Invalid, CodeInvalidArgs, "SortBy and SortOrder must be given together.")
	}
	if in.SortBy != "" && in.SortBy != "CREATED_AT" {
		return nil, validation("sortBy", in.SortBy, "Member must satisfy enum value set: [CREATED_AT]")
	}
	if in.SortOrder != "" && in.SortOrder != "ASCENDING" && in.SortOrder != "DESCENDING" {
		return nil, validation("sortOrder", in.SortOrder, "Member must satisfy enum value set: [ASCENDING, DESCENDING]")
	}
	var and []*store.CertFilter
	in2 := func(field string, values []string, allowed []string, wire string) error {
		if len(values) == 0 {
			return nil
		}
		vs := make([]any, len(values))
		for i, v := range values {
			if allowed != nil && !contains(allowed, v) {
				return errs.Coded(errs.Invalid, CodeInvalidArgs, "%q is not a valid %s; valid values: %s.", v, wire, strings.Join(allowed, ", "))
			}
			vs[i] = v
		}
		and = append(and, &store.CertFilter{Field: field, Op: store.OpIn, Values: vs})
		return nil
	}
	keyTypes := in.KeyTypes
	if keyTypes == nil {
		keyTypes = []string{"RSA_1024", "RSA_2048"}
	}
	if err := in2("status", in.Statuses, Statuses, "certificate status"); err != nil {
		return nil, err
	}
	if err := in2("key_algorithm", keyTypes, KeyAlgorithms, "key type"); err != nil {
		return nil, err
	}
	if in.ExportOption != "" {
		if err := in2("export_option", []string{in.ExportOption}, []string{ExportEnabled, ExportDisabled}, "export option"); err != nil {
			return nil, err
		}
	}
	if in.ManagedBy != "" {
		// No certificate is managed by another service here.
		and = append(and, &store.CertFilter{Field: "status", Op: store.OpIn})
	}
	for _, o := range in.KeyPairOrigins {
		if !contains([]string{"AWS_MANAGED", "ACME", "CUSTOMER_PROVIDED"}, o) {
			return nil, errs.Coded(errs.Invalid, CodeInvalidArgs, "%q is not a valid key pair origin.", o)
		}
	}
	if len(in.KeyPairOrigins) > 0 {
		var types []any
		if contains(in.KeyPairOrigins, "AWS_MANAGED") {
			types = append(types, TypePrivate)
		}
		if contains(in.KeyPairOrigins, "CUSTOMER_PROVIDED") {
			types = append(types, TypeImported)
		}
		and = append(and, &store.CertFilter{Field: "type", Op: store.OpIn, Values: types})
	}
	if f, err := usageFilter(in.KeyUsages, in.ExtKeyUsages); err != nil {
		return nil, err
	} else if f != nil {
		and = append(and, f...)
	}
	var where *store.CertFilter
	if len(and) > 0 {
		where = &store.CertFilter{And: and}
	}
	scope := scopeOf("list", p.Account, in.Statuses, keyTypes, in.KeyUsages, in.ExtKeyUsages, in.ExportOption,
		in.ManagedBy, in.KeyPairOrigins, in.SortBy, in.SortOrder)
	return s.query(ctx, p.Account, where, "created_at", in.SortOrder == "DESCENDING", in.MaxItems, in.NextToken, scope)
}

// usageFilter turns key usage and extended key usage names into filters: a
// certificate matches when it has any of the named usages. ANY matches
// every certificate.
func usageFilter(kus, ekus []string) ([]*store.CertFilter, error) {
	var out []*store.CertFilter
	if len(kus) > 0 && !contains(kus, "ANY") {
		var bits int64
		for _, k := range kus {
			i := indexOf(KeyUsageNames, k)
			if i < 0 && k != "CUSTOM" {
				return nil, errs.Coded(errs.Invalid, CodeInvalidArgs, "%q is not a valid key usage.", k)
			}
			if i >= 0 {
				bits |= 1 << i
			}
		}
		out = append(out, &store.CertFilter{Field: "key_usages", Op: store.OpAnyBits, Values: []any{bits}})
	}
	if len(ekus) > 0 {
		var bits int64
		for _, k := range ekus {
			e, ok := ekuByName(k)
			if !ok {
				return nil, errs.Coded(errs.Invalid, CodeInvalidArgs, "%q is not a valid extended key usage.", k)
			}
			bits |= e.bit
		}
		out = append(out, &store.CertFilter{Field: "ext_key_usages", Op: store.OpAnyBits, Values: []any{bits}})
	}
	return out, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// query runs a filtered, sorted page and makes its token.
func (s *Service) query(ctx context.Context, account string, where *store.CertFilter, sortField string, desc bool,
	limit int, token, scope string) (*Page, error) {
	after, err := decodeToken(token, scope)
	if err != nil {
		return nil, err
	}
	var recs []*store.ACMCertificate
	err = s.store.View(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.ACMCertificates().Query(ctx, store.CertQuery{
			Account: account, Where: where, SortBy: sortField, Desc: desc, After: after, Limit: limit + 1,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &Page{}
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		page.NextToken = encodeToken(scope, sortValue(last, sortField), last.ID)
	}
	now := s.clock.Now()
	for _, r := range recs {
		page.Certificates = append(page.Certificates, view(r, now))
	}
	return page, nil
}
