package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// ---- ACM certificates ----

// acmSummaryColumns are the columns a listing returns; acmColumns add the
// certificate, chain and sealed key.
const acmSummaryColumns = `c.id, c.arn, c.account_id, c.type, c.status, c.domain_name, c.names, c.key_algorithm,
	c.signature_algorithm, c.serial, c.subject, c.issuer, c.common_name, c.key_usages, c.ext_key_usages,
	c.not_before, c.not_after, c.created_at, c.issued_at, c.imported_at, c.revoked_at, c.revocation_reason,
	c.ca_arn, c.pca_certificate_arn, c.export_option, c.exported, c.in_use_by, c.renewal_status,
	c.renewal_reason, c.renewal_updated_at, c.failure_reason, c.renew_at, c.expiry_event_at, c.version`

const acmColumns = acmSummaryColumns + `, c.certificate, c.chain, c.private_key`

var (
	qACMInsert = register(`INSERT INTO acm_certificates (id, arn, account_id, type, status, domain_name, names,
		key_algorithm, signature_algorithm, serial, subject, issuer, common_name, key_usages, ext_key_usages,
		not_before, not_after, created_at, issued_at, imported_at, revoked_at, revocation_reason, ca_arn,
		pca_certificate_arn, export_option, exported, in_use_by, renewal_status, renewal_reason,
		renewal_updated_at, failure_reason, renew_at, expiry_event_at, version, certificate, chain, private_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1,
			?, ?, ?)`)
	qACMGet    = register(`SELECT ` + acmColumns + ` FROM acm_certificates c WHERE c.id = ?`)
	qACMUpdate = register(`UPDATE acm_certificates SET type = ?, status = ?, domain_name = ?, names = ?,
		key_algorithm = ?, signature_algorithm = ?, serial = ?, subject = ?, issuer = ?, common_name = ?,
		key_usages = ?, ext_key_usages = ?, not_before = ?, not_after = ?, issued_at = ?, imported_at = ?,
		revoked_at = ?, revocation_reason = ?, ca_arn = ?, pca_certificate_arn = ?, export_option = ?,
		exported = ?, in_use_by = ?, renewal_status = ?, renewal_reason = ?, renewal_updated_at = ?,
		failure_reason = ?, renew_at = ?, expiry_event_at = ?, certificate = ?, chain = ?, private_key = ?,
		version = version + 1
		WHERE id = ? AND version = ?`)
	qACMExists      = register(`SELECT 1 FROM acm_certificates WHERE id = ?`)
	qACMDelete      = register(`DELETE FROM acm_certificates WHERE id = ?`)
	qACMNamesDelete = register(`DELETE FROM acm_certificate_names WHERE cert_id = ?`)
	qACMNameInsert  = register(`INSERT INTO acm_certificate_names (cert_id, kind, name) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`)
	qACMCount      = register(`SELECT COUNT(*) FROM acm_certificates WHERE account_id = ? AND type = ?`)
	qACMRenewalDue = register(`SELECT id FROM acm_certificates WHERE renew_at IS NOT NULL AND renew_at <= ?
		ORDER BY renew_at LIMIT ?`)
	qACMExpiryEventDue = register(`SELECT id FROM acm_certificates
		WHERE expiry_event_at IS NOT NULL AND expiry_event_at <= ? ORDER BY expiry_event_at LIMIT ?`)
	qACMExpiredDue = register(`SELECT id FROM acm_certificates WHERE status = 'ISSUED' AND not_after <= ?
		ORDER BY not_after LIMIT ?`)
	// The CASE keeps an event that is due later than the new schedule's
	// first event from moving earlier than "after".
	qACMReschedule = register(`UPDATE acm_certificates
		SET expiry_event_at = CASE WHEN not_after - ? > ? THEN not_after - ? ELSE ? END
		WHERE account_id = ? AND status = 'ISSUED' AND not_after > ?`)
	qSettingGet = register(`SELECT value FROM account_settings WHERE account_id = ? AND name = ?`)
	qSettingPut = register(`INSERT INTO account_settings (account_id, name, value) VALUES (?, ?, ?)
		ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value`)
	qEventInsert = register(`INSERT INTO events (id, account_id, source, detail_type, time, body)
		VALUES (?, ?, ?, ?, ?, ?)`)
	qEventList = register(`SELECT id, account_id, source, detail_type, time, body, delivered_at FROM events
		WHERE account_id = ? ORDER BY time, id LIMIT ?`)
	qEventListAfter = register(`SELECT id, account_id, source, detail_type, time, body, delivered_at FROM events
		WHERE account_id = ? AND (time > ? OR (time = ? AND id > ?)) ORDER BY time, id LIMIT ?`)
	qEventUndelivered = register(`SELECT id, account_id, source, detail_type, time, body, delivered_at FROM events
		WHERE delivered_at IS NULL ORDER BY time, id LIMIT ?`)
	qEventDelivered = register(`UPDATE events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL`)
	qEventBacklog   = register(`SELECT COUNT(*) FROM events WHERE delivered_at IS NULL`)
	qEventPurge     = register(`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE delivered_at IS NOT NULL AND delivered_at < ? LIMIT ?)`)
	qACMExpiries    = register(`SELECT arn, domain_name, type, status, not_after FROM acm_certificates ORDER BY id`)
)

type acmRepo struct{ t *tx }

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scan modes: which byte columns follow the summary columns.
const (
	scanSummary = iota
	scanWithDER
	scanFull
)

func scanACM(sc interface{ Scan(...any) error }, mode int) (*store.ACMCertificate, error) {
	var c store.ACMCertificate
	var names, inUse string
	var exported int64
	var nb, na, created, issued, imported, revoked, renewalUpdated, renewAt, eventAt sql.NullInt64
	dest := []any{&c.ID, &c.ARN, &c.Account, &c.Type, &c.Status, &c.DomainName, &names, &c.KeyAlgorithm,
		&c.SignatureAlgorithm, &c.Serial, &c.Subject, &c.Issuer, &c.CommonName, &c.KeyUsages, &c.ExtKeyUsages,
		&nb, &na, &created, &issued, &imported, &revoked, &c.RevocationReason,
		&c.CAARN, &c.PCACertificateARN, &c.ExportOption, &exported, &inUse, &c.RenewalStatus,
		&c.RenewalReason, &renewalUpdated, &c.FailureReason, &renewAt, &eventAt, &c.Version}
	switch mode {
	case scanWithDER:
		dest = append(dest, &c.Certificate)
	case scanFull:
		dest = append(dest, &c.Certificate, &c.Chain, &c.PrivateKey)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(names), &c.Names); err != nil {
		return nil, errs.Wrap(err, "decode certificate names")
	}
	if err := json.Unmarshal([]byte(inUse), &c.InUseBy); err != nil {
		return nil, errs.Wrap(err, "decode certificate users")
	}
	c.Exported = exported != 0
	c.NotBefore, c.NotAfter, c.CreatedAt = fromTm(nb), fromTm(na), fromTm(created)
	c.IssuedAt, c.ImportedAt, c.RevokedAt = fromTm(issued), fromTm(imported), fromTm(revoked)
	c.RenewalUpdatedAt, c.RenewAt, c.ExpiryEventAt = fromTm(renewalUpdated), fromTm(renewAt), fromTm(eventAt)
	return &c, nil
}

// encodeLists returns the JSON columns of a certificate.
func encodeLists(c *store.ACMCertificate) (names, inUse string, err error) {
	n := c.Names
	if n == nil {
		n = []store.CertName{}
	}
	u := c.InUseBy
	if u == nil {
		u = []string{}
	}
	nb, err := json.Marshal(n)
	if err != nil {
		return "", "", errs.Wrap(err, "encode certificate names")
	}
	ub, err := json.Marshal(u)
	if err != nil {
		return "", "", errs.Wrap(err, "encode certificate users")
	}
	return string(nb), string(ub), nil
}

func (r acmRepo) insertNames(ctx context.Context, c *store.ACMCertificate) error {
	for _, n := range c.Names {
		if _, err := r.t.exec(ctx, "insert certificate name", qACMNameInsert, c.ID, n.Kind, n.Name); err != nil {
			return err
		}
	}
	return nil
}

func (r acmRepo) Insert(ctx context.Context, c *store.ACMCertificate) error {
	names, inUse, err := encodeLists(c)
	if err != nil {
		return err
	}
	_, err = r.t.exec(ctx, "insert ACM certificate", qACMInsert,
		c.ID, c.ARN, c.Account, c.Type, c.Status, c.DomainName, names, c.KeyAlgorithm, c.SignatureAlgorithm,
		c.Serial, c.Subject, c.Issuer, c.CommonName, c.KeyUsages, c.ExtKeyUsages, tm(c.NotBefore), tm(c.NotAfter),
		tm(c.CreatedAt), tm(c.IssuedAt), tm(c.ImportedAt), tm(c.RevokedAt), c.RevocationReason, c.CAARN,
		c.PCACertificateARN, c.ExportOption, boolInt(c.Exported), inUse, c.RenewalStatus, c.RenewalReason,
		tm(c.RenewalUpdatedAt), c.FailureReason, tm(c.RenewAt), tm(c.ExpiryEventAt),
		nullBytes(c.Certificate), nullBytes(c.Chain), nullBytes(c.PrivateKey))
	if err != nil {
		return err
	}
	if err := r.insertNames(ctx, c); err != nil {
		return err
	}
	c.Version = 1
	return nil
}

func (r acmRepo) Get(ctx context.Context, id string) (*store.ACMCertificate, error) {
	c, err := scanACM(r.t.queryRow(ctx, qACMGet, id), scanFull)
	if err != nil {
		return nil, r.t.s.classify(err, "get ACM certificate")
	}
	return c, nil
}

func (r acmRepo) Update(ctx context.Context, c *store.ACMCertificate) error {
	names, inUse, err := encodeLists(c)
	if err != nil {
		return err
	}
	res, err := r.t.exec(ctx, "update ACM certificate", qACMUpdate,
		c.Type, c.Status, c.DomainName, names, c.KeyAlgorithm, c.SignatureAlgorithm, c.Serial, c.Subject,
		c.Issuer, c.CommonName, c.KeyUsages, c.ExtKeyUsages, tm(c.NotBefore), tm(c.NotAfter), tm(c.IssuedAt),
		tm(c.ImportedAt), tm(c.RevokedAt), c.RevocationReason, c.CAARN, c.PCACertificateARN, c.ExportOption,
		boolInt(c.Exported), inUse, c.RenewalStatus, c.RenewalReason, tm(c.RenewalUpdatedAt), c.FailureReason,
		tm(c.RenewAt), tm(c.ExpiryEventAt), nullBytes(c.Certificate), nullBytes(c.Chain), nullBytes(c.PrivateKey),
		c.ID, c.Version)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return errs.Wrap(err, "update ACM certificate")
	}
	if n == 0 {
		var one int
		if err := r.t.queryRow(ctx, qACMExists, c.ID).Scan(&one); err != nil {
			return r.t.s.classify(err, "update ACM certificate")
		}
		return store.ErrStale
	}
	if _, err := r.t.exec(ctx, "delete certificate names", qACMNamesDelete, c.ID); err != nil {
		return err
	}
	if err := r.insertNames(ctx, c); err != nil {
		return err
	}
	c.Version++
	return nil
}

func (r acmRepo) Delete(ctx context.Context, id string) error {
	if _, err := r.t.exec(ctx, "delete certificate names", qACMNamesDelete, id); err != nil {
		return err
	}
	res, err := r.t.exec(ctx, "delete ACM certificate", qACMDelete, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return errs.Wrap(err, "delete ACM certificate")
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (r acmRepo) Count(ctx context.Context, account, typ string) (int, error) {
	var n int
	err := r.t.queryRow(ctx, qACMCount, account, typ).Scan(&n)
	return n, r.t.s.classify(err, "count ACM certificates")
}

func (r acmRepo) RenewalDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return r.t.ids(ctx, "list renewals due", qACMRenewalDue, tm(now), limit)
}

func (r acmRepo) ExpiryEventDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return r.t.ids(ctx, "list expiry events due", qACMExpiryEventDue, tm(now), limit)
}

func (r acmRepo) ExpiredDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return r.t.ids(ctx, "list expired certificates", qACMExpiredDue, tm(now), limit)
}

func (r acmRepo) RescheduleExpiryEvents(ctx context.Context, account string, before time.Duration, after time.Time) error {
	b := before.Microseconds()
	a := after.UTC().UnixMicro()
	_, err := r.t.exec(ctx, "reschedule expiry events", qACMReschedule, b, a, b, a, account, a)
	return err
}

// acmField is how a CertFilter field maps to SQL: a column expression, how
// its values are encoded, and whether it is text.
type acmField struct {
	expr string
	kind byte // 's' text, 'i' integer, 't' time, 'b' boolean
}

var acmFields = map[string]acmField{
	"arn":                 {"c.arn", 's'},
	"type":                {"c.type", 's'},
	"status":              {"c.status", 's'},
	"domain_name":         {"c.domain_name", 's'},
	"key_algorithm":       {"c.key_algorithm", 's'},
	"signature_algorithm": {"c.signature_algorithm", 's'},
	"serial":              {"c.serial", 's'},
	"subject":             {"c.subject", 's'},
	"issuer":              {"c.issuer", 's'},
	"common_name":         {"c.common_name", 's'},
	"key_usages":          {"c.key_usages", 'i'},
	"ext_key_usages":      {"c.ext_key_usages", 'i'},
	"not_before":          {"COALESCE(c.not_before, 0)", 't'},
	"not_after":           {"COALESCE(c.not_after, 0)", 't'},
	"created_at":          {"c.created_at", 't'},
	"issued_at":           {"COALESCE(c.issued_at, 0)", 't'},
	"imported_at":         {"COALESCE(c.imported_at, 0)", 't'},
	"revoked_at":          {"COALESCE(c.revoked_at, 0)", 't'},
	"export_option":       {"c.export_option", 's'},
	"exported":            {"c.exported", 'b'},
	"in_use":              {"CASE WHEN c.in_use_by = '[]' THEN 0 ELSE 1 END", 'b'},
	"renewal_status":      {"c.renewal_status", 's'},
	"ca_arn":              {"c.ca_arn", 's'},
}

// queryBuilder assembles a dynamic query with its arguments.
type queryBuilder struct {
	pg   bool
	sb   strings.Builder
	args []any
	size int // predicates so far, to bound a hostile filter
}

func (b *queryBuilder) arg(v any) {
	b.sb.WriteByte('?')
	b.args = append(b.args, v)
}

func encodeFilterValue(kind byte, v any) (any, error) {
	switch kind {
	case 's':
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		return s, nil
	case 'i':
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("want an int64, got %T", v)
		}
		return n, nil
	case 't':
		switch t := v.(type) {
		case time.Time:
			return t.UTC().UnixMicro(), nil
		case int64: // a cursor value, already in microseconds
			return t, nil
		}
		return nil, fmt.Errorf("want a time, got %T", v)
	case 'b':
		switch t := v.(type) {
		case bool:
			return boolInt(t), nil
		case int64:
			return t, nil
		}
		return nil, fmt.Errorf("want a bool, got %T", v)
	}
	return nil, fmt.Errorf("unknown field kind %q", kind)
}

// where writes the SQL of a filter.
func (b *queryBuilder) where(f *store.CertFilter) error {
	b.size++
	if b.size > 1000 {
		return errs.New(errs.Invalid, "the filter has too many terms")
	}
	switch {
	case len(f.And) > 0 || len(f.Or) > 0:
		op, list := " AND ", f.And
		if len(f.Or) > 0 {
			op, list = " OR ", f.Or
		}
		b.sb.WriteByte('(')
		for i, g := range list {
			if i > 0 {
				b.sb.WriteString(op)
			}
			if err := b.where(g); err != nil {
				return err
			}
		}
		b.sb.WriteByte(')')
		return nil
	case f.Not != nil:
		b.sb.WriteString("(NOT ")
		if err := b.where(f.Not); err != nil {
			return err
		}
		b.sb.WriteByte(')')
		return nil
	}
	if f.Field == "name" || strings.HasPrefix(f.Field, "name:") {
		b.sb.WriteString("EXISTS (SELECT 1 FROM acm_certificate_names n WHERE n.cert_id = c.id")
		if kind, ok := strings.CutPrefix(f.Field, "name:"); ok {
			b.sb.WriteString(" AND n.kind = ")
			b.arg(kind)
		}
		b.sb.WriteString(" AND ")
		if err := b.predicate("n.name", 's', f); err != nil {
			return err
		}
		b.sb.WriteByte(')')
		return nil
	}
	fd, ok := acmFields[f.Field]
	if !ok {
		return errs.New(errs.Invalid, "%s", "unknown certificate field "+f.Field)
	}
	return b.predicate(fd.expr, fd.kind, f)
}

func (b *queryBuilder) predicate(expr string, kind byte, f *store.CertFilter) error {
	one := func() (any, error) {
		if len(f.Values) != 1 {
			return nil, fmt.Errorf("operator %s wants one value", f.Op)
		}
		return encodeFilterValue(kind, f.Values[0])
	}
	switch f.Op {
	case store.OpIn:
		if len(f.Values) == 0 {
			b.sb.WriteString("1 = 0")
			return nil
		}
		b.sb.WriteString(expr + " IN (")
		for i, v := range f.Values {
			if i > 0 {
				b.sb.WriteString(", ")
			}
			ev, err := encodeFilterValue(kind, v)
			if err != nil {
				return errs.Wrap(err, "filter "+f.Field)
			}
			b.arg(ev)
		}
		b.sb.WriteByte(')')
	case store.OpPrefix, store.OpContains:
		v, err := one()
		if err != nil || kind != 's' {
			return errs.New(errs.Internal, "%s", "filter "+f.Field+": bad text match")
		}
		// Byte-exact and case-sensitive on both engines (LIKE is not).
		switch {
		case f.Op == store.OpPrefix:
			b.sb.WriteString("substr(" + expr + ", 1, " + fmt.Sprint(len(v.(string))) + ") = ")
			b.arg(v)
		case b.pg:
			b.sb.WriteString("strpos(" + expr + ", ")
			b.arg(v)
			b.sb.WriteString(") > 0")
		default:
			b.sb.WriteString("instr(" + expr + ", ")
			b.arg(v)
			b.sb.WriteString(") > 0")
		}
	case store.OpGE, store.OpLE:
		v, err := one()
		if err != nil {
			return errs.Wrap(err, "filter "+f.Field)
		}
		op := " >= "
		if f.Op == store.OpLE {
			op = " <= "
		}
		b.sb.WriteString(expr + op)
		b.arg(v)
	case store.OpAnyBits, store.OpAllBits:
		v, err := one()
		if err != nil || kind != 'i' {
			return errs.New(errs.Internal, "%s", "filter "+f.Field+": bad bit match")
		}
		b.sb.WriteString("(" + expr + " & ")
		b.arg(v)
		if f.Op == store.OpAnyBits {
			b.sb.WriteString(") <> 0")
		} else {
			b.sb.WriteString(") = ")
			b.arg(v)
		}
	default:
		return errs.New(errs.Internal, "%s", "unknown filter operator "+f.Op)
	}
	return nil
}

func (r acmRepo) Query(ctx context.Context, q store.CertQuery) ([]*store.ACMCertificate, error) {
	sortField := q.SortBy
	if sortField == "" {
		sortField = "created_at"
	}
	sf, ok := acmFields[sortField]
	if !ok {
		return nil, errs.New(errs.Invalid, "%s", "cannot sort by "+sortField)
	}
	b := &queryBuilder{pg: r.t.s.dialect.name() == "postgres"}
	cols := acmSummaryColumns
	if q.WithDER {
		cols += ", c.certificate"
	}
	b.sb.WriteString("SELECT " + cols + " FROM acm_certificates c WHERE c.account_id = ")
	b.arg(q.Account)
	if q.Where != nil {
		b.sb.WriteString(" AND ")
		if err := b.where(q.Where); err != nil {
			return nil, err
		}
	}
	cmp, dir := " > ", ""
	if q.Desc {
		cmp, dir = " < ", " DESC"
	}
	if q.After != nil {
		v, err := encodeFilterValue(sf.kind, q.After.Value)
		if err != nil {
			return nil, errs.New(errs.Invalid, "bad listing position")
		}
		// A row-value comparison, which both engines turn into one range
		// seek on the (account, sort column, id) index; the equivalent
		// "a > x OR (a = x AND id > y)" makes SQLite scan from the start.
		// The redundant scalar bound lets SQLite start the seek there
		// when the filter also bounds the sort column from the other side.
		b.sb.WriteString(" AND (" + sf.expr + ", c.id)" + cmp + "(")
		b.arg(v)
		b.sb.WriteString(", ")
		b.arg(q.After.ID)
		bound := " >= "
		if q.Desc {
			bound = " <= "
		}
		b.sb.WriteString(") AND " + sf.expr + bound)
		b.arg(v)
	}
	b.sb.WriteString(" ORDER BY " + sf.expr + dir + ", c.id" + dir + " LIMIT ")
	b.arg(q.Limit)

	rows, err := r.t.conn().QueryContext(ctx, r.t.s.dialect.rebind(b.sb.String()), b.args...)
	if err != nil {
		return nil, r.t.s.classify(err, "query ACM certificates")
	}
	defer rows.Close()
	var out []*store.ACMCertificate
	for rows.Next() {
		mode := scanSummary
		if q.WithDER {
			mode = scanWithDER
		}
		c, err := scanACM(rows, mode)
		if err != nil {
			return nil, r.t.s.classify(err, "scan ACM certificate")
		}
		out = append(out, c)
	}
	return out, r.t.s.classify(rows.Err(), "query ACM certificates")
}

// ---- account settings ----

type settingRepo struct{ t *tx }

func (r settingRepo) Get(ctx context.Context, account, name string) (string, error) {
	var v string
	err := r.t.queryRow(ctx, qSettingGet, account, name).Scan(&v)
	return v, r.t.s.classify(err, "get account setting")
}

func (r settingRepo) Put(ctx context.Context, account, name, value string) error {
	_, err := r.t.exec(ctx, "put account setting", qSettingPut, account, name, value)
	return err
}

// ---- events (the outbox) ----

type eventRepo struct{ t *tx }

func (r eventRepo) Append(ctx context.Context, e *store.Event) error {
	_, err := r.t.exec(ctx, "append event", qEventInsert, e.ID, e.Account, e.Source, e.DetailType, tm(e.Time), e.Body)
	return err
}

func (r eventRepo) List(ctx context.Context, account string, afterTime time.Time, afterID string, limit int) ([]*store.Event, error) {
	var rows *sql.Rows
	var err error
	if afterID == "" {
		rows, err = r.t.query(ctx, "list events", qEventList, account, limit)
	} else {
		at := afterTime.UTC().UnixMicro()
		rows, err = r.t.query(ctx, "list events", qEventListAfter, account, at, at, afterID, limit)
	}
	if err != nil {
		return nil, err
	}
	return r.scan(rows)
}

func (r eventRepo) Undelivered(ctx context.Context, limit int) ([]*store.Event, error) {
	rows, err := r.t.query(ctx, "list undelivered events", qEventUndelivered, limit)
	if err != nil {
		return nil, err
	}
	return r.scan(rows)
}

func (r eventRepo) MarkDelivered(ctx context.Context, id string, at time.Time) error {
	return r.t.execOne(ctx, "mark event delivered", qEventDelivered, tm(at), id)
}

func (r eventRepo) CountUndelivered(ctx context.Context) (int, error) {
	var n int
	err := r.t.queryRow(ctx, qEventBacklog).Scan(&n)
	return n, r.t.s.classify(err, "count undelivered events")
}

func (r eventRepo) PurgeDelivered(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := r.t.exec(ctx, "purge delivered events", qEventPurge, tm(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (r eventRepo) scan(rows *sql.Rows) ([]*store.Event, error) {
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		var e store.Event
		var at, delivered sql.NullInt64
		if err := rows.Scan(&e.ID, &e.Account, &e.Source, &e.DetailType, &at, &e.Body, &delivered); err != nil {
			return nil, r.t.s.classify(err, "scan event")
		}
		e.Time, e.DeliveredAt = fromTm(at), fromTm(delivered)
		out = append(out, &e)
	}
	return out, r.t.s.classify(rows.Err(), "list events")
}

func (r acmRepo) Expiries(ctx context.Context, fn func(arn, domain, typ, status string, notAfter time.Time) error) error {
	rows, err := r.t.query(ctx, "list certificate expiries", qACMExpiries)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var arn, domain, typ, status string
		var na sql.NullInt64
		if err := rows.Scan(&arn, &domain, &typ, &status, &na); err != nil {
			return r.t.s.classify(err, "scan certificate expiry")
		}
		if err := fn(arn, domain, typ, status, fromTm(na)); err != nil {
			return err
		}
	}
	return r.t.s.classify(rows.Err(), "list certificate expiries")
}
