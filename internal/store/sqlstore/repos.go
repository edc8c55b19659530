package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// The repositories' statements, registered so that Open can prepare them
// before any transaction holds a connection.
var (
	qMetaInsert   = register(`INSERT INTO meta (key, value) VALUES (?, ?)`)
	qLeaseAcquire = register(`INSERT INTO leases (name, holder, token, expires_at) VALUES (?, ?, 1, ?)
		ON CONFLICT (name) DO UPDATE SET
			token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END,
			holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`)
	qLeaseToken      = register(`SELECT token FROM leases WHERE name = ? AND holder = ?`)
	qLeaseCheck      = register(`SELECT token FROM leases WHERE name = ? AND holder = ? /*FOR UPDATE*/`)
	qLeaseRelease    = register(`UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?`)
	qLeaseGet        = register(`SELECT name, holder, token, expires_at FROM leases WHERE name = ?`)
	qMetaGet         = register(`SELECT value FROM meta WHERE key = ?`)
	qMetaPut         = register(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
	qAccountInsert   = register(`INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`)
	qAccountGet      = register(`SELECT id, name, created_at FROM accounts WHERE id = ?`)
	qAccountCount    = register(`SELECT COUNT(*) FROM accounts`)
	qAccessKeyInsert = register(`INSERT INTO access_keys (id, account_id, principal_arn, secret_sealed, status, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
	qAccessKeyGet    = register(`SELECT id, account_id, principal_arn, secret_sealed, status, created_at FROM access_keys WHERE id = ?`)
	qCAInsert        = register(`INSERT INTO certificate_authorities (` + caColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
	qCAGet    = register(`SELECT ` + caColumns + ` FROM certificate_authorities WHERE id = ?`)
	qCAUpdate = register(`UPDATE certificate_authorities SET
		type = ?, status = ?, status_before_deletion = ?, failure_reason = ?, usage_mode = ?, key_storage = ?,
		config = ?, revocation_config = ?, key_ref = ?, csr = ?, certificate = ?, chain = ?, serial = ?,
		not_before = ?, not_after = ?, last_state_change_at = ?, restorable_until = ?, version = version + 1
		WHERE id = ? AND version = ?`)
	qCAExists = register(`SELECT 1 FROM certificate_authorities WHERE id = ?`)
	qCAList   = register(`SELECT ` + caColumns + ` FROM certificate_authorities
			WHERE account_id = ? ORDER BY created_at, id LIMIT ?`)
	qCAListAfter = register(`SELECT ` + caColumns + ` FROM certificate_authorities
			WHERE account_id = ? AND (created_at > ? OR (created_at = ? AND id > ?))
			ORDER BY created_at, id LIMIT ?`)
	qCAVersion            = register(`SELECT version FROM certificate_authorities WHERE id = ?`)
	qCACountByAccount     = register(`SELECT COUNT(*) FROM certificate_authorities WHERE account_id = ?`)
	qCAARN                = register(`SELECT arn FROM certificate_authorities WHERE id = ?`)
	qTagsDeleteAll        = register(`DELETE FROM tags WHERE resource_arn = ?`)
	qCADeleteCertificates = register(`DELETE FROM certificates WHERE ca_id = ?`)
	qCADelete             = register(`DELETE FROM certificate_authorities WHERE id = ?`)
	qCADeletedBefore      = register(`SELECT id FROM certificate_authorities
		WHERE status = 'DELETED' AND restorable_until < ? ORDER BY restorable_until LIMIT ?`)
	qCertInsert = register(`INSERT INTO certificates
		(ca_id, serial, account_id, der, not_before, not_after, issued_at, template_arn, crl_partition) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qCertGet    = register(`SELECT ` + certColumns + ` FROM certificates WHERE ca_id = ? AND serial = ?`)
	qCertRevoke = register(`UPDATE certificates SET revoked_at = ?, revocation_reason = ?
		WHERE ca_id = ? AND serial = ? AND revoked_at IS NULL`)
	qCertExists  = register(`SELECT 1 FROM certificates WHERE ca_id = ? AND serial = ?`)
	qCertRevoked = register(`SELECT serial, revoked_at, revocation_reason FROM certificates
		WHERE ca_id = ? AND crl_partition = ? AND revoked_at IS NOT NULL AND not_after > ? ORDER BY serial`)
	qCertRevokedAll = register(`SELECT serial, revoked_at, revocation_reason FROM certificates
		WHERE ca_id = ? AND revoked_at IS NOT NULL AND not_after > ? ORDER BY crl_partition, serial`)
	qCertEach  = register(`SELECT ` + certColumns + ` FROM certificates WHERE ca_id = ? ORDER BY issued_at, serial`)
	qCRLEnsure = register(`INSERT INTO crls (ca_id, partition, refresh_at) VALUES (?, ?, ?)
		ON CONFLICT (ca_id, partition) DO NOTHING`)
	qCRLMark = register(`INSERT INTO crls (ca_id, partition, refresh_at, pending) VALUES (?, ?, ?, 1)
		ON CONFLICT (ca_id, partition) DO UPDATE SET pending = crls.pending + 1, refresh_at = excluded.refresh_at`)
	qCRLTouch   = register(`UPDATE crls SET pending = pending + 1, refresh_at = ? WHERE ca_id = ? AND partition = ?`)
	qCRLResched = register(`UPDATE crls SET refresh_at = ? WHERE ca_id = ? AND partition = ?`)
	qCRLGet     = register(`SELECT c.ca_id, c.partition, COALESCE(f.number, 0), f.this_update, f.next_update, c.refresh_at, c.pending, f.der
		FROM crls c LEFT JOIN crl_files f ON f.ca_id = c.ca_id AND f.partition = c.partition WHERE c.ca_id = ? AND c.partition = ?`)
	qCRLDue = register(`SELECT c.ca_id, c.partition, COALESCE(f.number, 0), f.this_update, f.next_update, c.refresh_at, c.pending
		FROM crls c LEFT JOIN crl_files f ON f.ca_id = c.ca_id AND f.partition = c.partition
		WHERE c.refresh_at <= ? ORDER BY c.refresh_at LIMIT ?`)
	qCRLPartitions = register(`SELECT c.ca_id, c.partition, COALESCE(f.number, 0), f.this_update, f.next_update, c.refresh_at, c.pending
		FROM crls c LEFT JOIN crl_files f ON f.ca_id = c.ca_id AND f.partition = c.partition WHERE c.ca_id = ? ORDER BY c.partition`)
	qCRLSave = register(`UPDATE crls SET pending = pending - ?, refresh_at = CASE WHEN pending - ? > 0 THEN refresh_at ELSE ? END
		WHERE ca_id = ? AND partition = ?`)
	qCRLNumber  = register(`SELECT number FROM crl_files WHERE ca_id = ? AND partition = ?`)
	qCRLFilePut = register(`INSERT INTO crl_files (ca_id, partition, number, this_update, next_update, der) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (ca_id, partition) DO UPDATE SET number = excluded.number, this_update = excluded.this_update,
		next_update = excluded.next_update, der = excluded.der`)
	qSeqReserve = register(`INSERT INTO ca_sequences (ca_id, name, next) VALUES (?, ?, ?)
		ON CONFLICT (ca_id, name) DO UPDATE SET next = ca_sequences.next + ? RETURNING next`)
	qResponderGet = register(`SELECT ca_id, key_ref, certificate, not_after FROM ocsp_responders WHERE ca_id = ?`)
	qResponderPut = register(`INSERT INTO ocsp_responders (ca_id, key_ref, certificate, not_after) VALUES (?, ?, ?, ?)
		ON CONFLICT (ca_id) DO UPDATE SET key_ref = excluded.key_ref, certificate = excluded.certificate, not_after = excluded.not_after`)
	qReportInsert      = register(`INSERT INTO audit_reports (id, ca_id, status, bucket, object_key, format, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	qReportGet         = register(`SELECT id, ca_id, status, bucket, object_key, format, created_at FROM audit_reports WHERE id = ?`)
	qReportStatus      = register(`UPDATE audit_reports SET status = ? WHERE id = ?`)
	qReportBusy        = register(`SELECT COUNT(*) FROM audit_reports WHERE ca_id = ? AND status = 'CREATING'`)
	qReportStale       = register(`UPDATE audit_reports SET status = 'FAILED' WHERE status = 'CREATING' AND created_at < ?`)
	qCRLRemove         = register(`DELETE FROM crls WHERE ca_id = ? AND partition = ?`)
	qCRLFileRemove     = register(`DELETE FROM crl_files WHERE ca_id = ? AND partition = ?`)
	qCADeleteCRLFiles  = register(`DELETE FROM crl_files WHERE ca_id = ?`)
	qCAEach            = register(`SELECT ` + caColumns + ` FROM certificate_authorities ORDER BY created_at, id`)
	qCADeleteCRLs      = register(`DELETE FROM crls WHERE ca_id = ?`)
	qCADeleteSequences = register(`DELETE FROM ca_sequences WHERE ca_id = ?`)
	qCADeleteResponder = register(`DELETE FROM ocsp_responders WHERE ca_id = ?`)
	qCADeleteReports   = register(`DELETE FROM audit_reports WHERE ca_id = ?`)
	qCertCountByCA     = register(`SELECT COUNT(*) FROM certificates WHERE ca_id = ?`)
	qTagList           = register(`SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key`)
	qTagInsert         = register(`INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?)`)
	qIdemGet           = register(`SELECT scope, token, fingerprint, result, expires_at FROM idempotency
		WHERE scope = ? AND token = ? AND expires_at > ?`)
	qIdemPut = register(`INSERT INTO idempotency (scope, token, fingerprint, result, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, token) DO UPDATE SET fingerprint = excluded.fingerprint, result = excluded.result,
			expires_at = excluded.expires_at
		WHERE idempotency.expires_at <= ?`)
)

// Times are stored as microseconds since the epoch; zero is NULL.
func tm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().UnixMicro()
}

func fromTm(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// ---- meta ----

type metaRepo struct{ t *tx }

func (r metaRepo) Get(ctx context.Context, key string) (string, error) {
	var v string
	err := r.t.queryRow(ctx, qMetaGet, key).Scan(&v)
	return v, r.t.s.classify(err, "get meta")
}

func (r metaRepo) Put(ctx context.Context, key, value string) error {
	_, err := r.t.exec(ctx, "put meta",
		qMetaPut, key, value)
	return err
}

func (r metaRepo) Insert(ctx context.Context, key, value string) error {
	_, err := r.t.exec(ctx, "insert meta", qMetaInsert, key, value)
	return err
}

// ---- accounts ----

type accountRepo struct{ t *tx }

func (r accountRepo) Insert(ctx context.Context, a *store.Account) error {
	_, err := r.t.exec(ctx, "insert account",
		qAccountInsert, a.ID, a.Name, tm(a.CreatedAt))
	return err
}

func (r accountRepo) Get(ctx context.Context, id string) (*store.Account, error) {
	var a store.Account
	var created sql.NullInt64
	err := r.t.queryRow(ctx, qAccountGet, id).Scan(&a.ID, &a.Name, &created)
	if err != nil {
		return nil, r.t.s.classify(err, "get account")
	}
	a.CreatedAt = fromTm(created)
	return &a, nil
}

func (r accountRepo) Count(ctx context.Context) (int, error) {
	var n int
	err := r.t.queryRow(ctx, qAccountCount).Scan(&n)
	return n, r.t.s.classify(err, "count accounts")
}

// ---- access keys ----

type accessKeyRepo struct{ t *tx }

func (r accessKeyRepo) Insert(ctx context.Context, k *store.AccessKey) error {
	_, err := r.t.exec(ctx, "insert access key",
		qAccessKeyInsert,
		k.ID, k.Account, k.PrincipalARN, k.SecretSealed, k.Status, tm(k.CreatedAt))
	return err
}

func (r accessKeyRepo) Get(ctx context.Context, id string) (*store.AccessKey, error) {
	var k store.AccessKey
	var created sql.NullInt64
	err := r.t.queryRow(ctx, qAccessKeyGet, id).
		Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.SecretSealed, &k.Status, &created)
	if err != nil {
		return nil, r.t.s.classify(err, "get access key")
	}
	k.CreatedAt = fromTm(created)
	return &k, nil
}

// ---- certificate authorities ----

type caRepo struct{ t *tx }

const caColumns = `id, arn, account_id, type, status, status_before_deletion, failure_reason, usage_mode, key_storage,
	config, revocation_config, key_ref, csr, certificate, chain, serial, not_before, not_after, created_at,
	last_state_change_at, restorable_until, version`

func scanCA(sc interface{ Scan(...any) error }) (*store.CA, error) {
	var c store.CA
	var nb, na, created, changed, restorable sql.NullInt64
	err := sc.Scan(&c.ID, &c.ARN, &c.Account, &c.Type, &c.Status, &c.StatusBeforeDeletion, &c.FailureReason,
		&c.UsageMode, &c.KeyStorageSecurityStandard, &c.Config, &c.RevocationConfig, &c.KeyRef, &c.CSR,
		&c.Certificate, &c.Chain, &c.Serial, &nb, &na, &created, &changed, &restorable, &c.Version)
	if err != nil {
		return nil, err
	}
	c.NotBefore, c.NotAfter = fromTm(nb), fromTm(na)
	c.CreatedAt, c.LastStateChangeAt, c.RestorableUntil = fromTm(created), fromTm(changed), fromTm(restorable)
	return &c, nil
}

func (r caRepo) Insert(ctx context.Context, c *store.CA) error {
	_, err := r.t.exec(ctx, "insert certificate authority", qCAInsert,
		c.ID, c.ARN, c.Account, c.Type, c.Status, c.StatusBeforeDeletion, c.FailureReason, c.UsageMode,
		c.KeyStorageSecurityStandard, c.Config, nullBytes(c.RevocationConfig), c.KeyRef, c.CSR,
		nullBytes(c.Certificate), nullBytes(c.Chain), c.Serial, tm(c.NotBefore), tm(c.NotAfter), tm(c.CreatedAt),
		tm(c.LastStateChangeAt), tm(c.RestorableUntil))
	if err == nil {
		c.Version = 1
	}
	return err
}

func (r caRepo) Get(ctx context.Context, id string) (*store.CA, error) {
	c, err := scanCA(r.t.queryRow(ctx, qCAGet, id))
	if err != nil {
		return nil, r.t.s.classify(err, "get certificate authority")
	}
	return c, nil
}

func (r caRepo) Version(ctx context.Context, id string) (int64, error) {
	var v int64
	err := r.t.queryRow(ctx, qCAVersion, id).Scan(&v)
	return v, r.t.s.classify(err, "get certificate authority version")
}

func (r caRepo) Update(ctx context.Context, c *store.CA) error {
	res, err := r.t.exec(ctx, "update certificate authority", qCAUpdate,
		c.Type, c.Status, c.StatusBeforeDeletion, c.FailureReason, c.UsageMode, c.KeyStorageSecurityStandard,
		c.Config, nullBytes(c.RevocationConfig), c.KeyRef, c.CSR, nullBytes(c.Certificate), nullBytes(c.Chain),
		c.Serial, tm(c.NotBefore), tm(c.NotAfter), tm(c.LastStateChangeAt), tm(c.RestorableUntil), c.ID, c.Version)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return errs.Wrap(err, "update certificate authority")
	}
	if n == 0 {
		var exists int
		if err := r.t.queryRow(ctx, qCAExists, c.ID).Scan(&exists); err != nil {
			return r.t.s.classify(err, "update certificate authority")
		}
		return store.ErrStale
	}
	c.Version++
	return nil
}

func (r caRepo) List(ctx context.Context, account string, after *store.CACursor, limit int) ([]*store.CA, error) {
	var rows *sql.Rows
	var err error
	if after == nil {
		rows, err = r.t.query(ctx, "list certificate authorities", qCAList, account, limit)
	} else {
		ts := after.CreatedAt.UTC().UnixMicro()
		rows, err = r.t.query(ctx, "list certificate authorities", qCAListAfter, account, ts, ts, after.ID, limit)
	}
	if err != nil {
		return nil, err
	}
	return r.t.scanCAs(rows, "list certificate authorities")
}

// scanCAs reads every CA of rows and closes them.
func (t *tx) scanCAs(rows *sql.Rows, what string) ([]*store.CA, error) {
	defer rows.Close()
	var out []*store.CA
	for rows.Next() {
		c, err := scanCA(rows)
		if err != nil {
			return nil, t.s.classify(err, "scan certificate authority")
		}
		out = append(out, c)
	}
	return out, t.s.classify(rows.Err(), what)
}

func (r caRepo) Each(ctx context.Context, fn func(*store.CA) error) error {
	rows, err := r.t.query(ctx, "list certificate authorities", qCAEach)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCA(rows)
		if err != nil {
			return r.t.s.classify(err, "scan certificate authority")
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return r.t.s.classify(rows.Err(), "list certificate authorities")
}

func (r caRepo) CountByAccount(ctx context.Context, account string) (int, error) {
	var n int
	err := r.t.queryRow(ctx, qCACountByAccount, account).Scan(&n)
	return n, r.t.s.classify(err, "count certificate authorities")
}

func (r caRepo) Delete(ctx context.Context, id string) error {
	var arn string
	if err := r.t.queryRow(ctx, qCAARN, id).Scan(&arn); err != nil {
		return r.t.s.classify(err, "delete certificate authority")
	}
	if _, err := r.t.exec(ctx, "delete tags", qTagsDeleteAll, arn); err != nil {
		return err
	}
	for _, q := range []string{qCADeleteCertificates, qCADeleteCRLs, qCADeleteCRLFiles, qCADeleteSequences, qCADeleteResponder, qCADeleteReports,
		qCAGranteesDelete, qCAPolicyDelete, qCAPermissionsDeleteAll} {
		if _, err := r.t.exec(ctx, "delete certificate authority data", q, id); err != nil {
			return err
		}
	}
	_, err := r.t.exec(ctx, "delete certificate authority", qCADelete, id)
	return err
}

func (r caRepo) DeletedBefore(ctx context.Context, t time.Time, limit int) ([]string, error) {
	rows, err := r.t.query(ctx, "list purgeable certificate authorities", qCADeletedBefore, tm(t), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, r.t.s.classify(err, "scan id")
		}
		ids = append(ids, id)
	}
	return ids, r.t.s.classify(rows.Err(), "list purgeable certificate authorities")
}

// ---- certificates ----

type certRepo struct{ t *tx }

const certColumns = `ca_id, serial, account_id, der, not_before, not_after, issued_at, template_arn, crl_partition,
	revoked_at, revocation_reason`

func scanCert(sc interface{ Scan(...any) error }) (*store.Certificate, error) {
	var c store.Certificate
	var nb, na, issued, revoked sql.NullInt64
	if err := sc.Scan(&c.CAID, &c.Serial, &c.Account, &c.DER, &nb, &na, &issued, &c.TemplateARN, &c.CRLPartition,
		&revoked, &c.RevocationReason); err != nil {
		return nil, err
	}
	c.NotBefore, c.NotAfter, c.IssuedAt, c.RevokedAt = fromTm(nb), fromTm(na), fromTm(issued), fromTm(revoked)
	return &c, nil
}

func (r certRepo) Insert(ctx context.Context, c *store.Certificate) error {
	_, err := r.t.exec(ctx, "insert certificate", qCertInsert,
		c.CAID, c.Serial, c.Account, c.DER, tm(c.NotBefore), tm(c.NotAfter), tm(c.IssuedAt), c.TemplateARN, c.CRLPartition)
	return err
}

func (r certRepo) Get(ctx context.Context, caID, serial string) (*store.Certificate, error) {
	c, err := scanCert(r.t.queryRow(ctx, qCertGet, caID, serial))
	if err != nil {
		return nil, r.t.s.classify(err, "get certificate")
	}
	return c, nil
}

func (r certRepo) Revoke(ctx context.Context, caID, serial string, at time.Time, reason string) error {
	res, err := r.t.exec(ctx, "revoke certificate", qCertRevoke, tm(at), reason, caID, serial)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return errs.Wrap(err, "revoke certificate")
	} else if n == 1 {
		return nil
	}
	var one int
	if err := r.t.queryRow(ctx, qCertExists, caID, serial).Scan(&one); err != nil {
		return r.t.s.classify(err, "revoke certificate")
	}
	return store.ErrConflict // it exists, so it was revoked already
}

func (r certRepo) Revoked(ctx context.Context, caID string, partition int64, notAfterSince time.Time, fn func(store.RevokedEntry) error) error {
	q, args := qCertRevoked, []any{caID, partition, tm(notAfterSince)}
	if partition == 0 {
		q, args = qCertRevokedAll, []any{caID, tm(notAfterSince)}
	}
	rows, err := r.t.query(ctx, "list revoked certificates", q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e store.RevokedEntry
		var at sql.NullInt64
		if err := rows.Scan(&e.Serial, &at, &e.Reason); err != nil {
			return r.t.s.classify(err, "scan revoked certificate")
		}
		e.RevokedAt = fromTm(at)
		if err := fn(e); err != nil {
			return err
		}
	}
	return r.t.s.classify(rows.Err(), "list revoked certificates")
}

func (r certRepo) Each(ctx context.Context, caID string, fn func(*store.Certificate) error) error {
	rows, err := r.t.query(ctx, "list certificates", qCertEach, caID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCert(rows)
		if err != nil {
			return r.t.s.classify(err, "scan certificate")
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return r.t.s.classify(rows.Err(), "list certificates")
}

func (r certRepo) CountByCA(ctx context.Context, caID string) (int, error) {
	var n int
	err := r.t.queryRow(ctx, qCertCountByCA, caID).Scan(&n)
	return n, r.t.s.classify(err, "count certificates")
}

// ---- tags ----

type tagRepo struct{ t *tx }

func (r tagRepo) List(ctx context.Context, arn string) ([]store.Tag, error) {
	rows, err := r.t.query(ctx, "list tags", qTagList, arn)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Tag
	for rows.Next() {
		var tg store.Tag
		if err := rows.Scan(&tg.Key, &tg.Value); err != nil {
			return nil, r.t.s.classify(err, "scan tag")
		}
		out = append(out, tg)
	}
	return out, r.t.s.classify(rows.Err(), "list tags")
}

func (r tagRepo) Replace(ctx context.Context, arn string, tags []store.Tag) error {
	if _, err := r.t.exec(ctx, "delete tags", qTagsDeleteAll, arn); err != nil {
		return err
	}
	for _, tg := range tags {
		if _, err := r.t.exec(ctx, "insert tag", qTagInsert,
			arn, tg.Key, tg.Value); err != nil {
			return err
		}
	}
	return nil
}

// ---- idempotency ----

type idemRepo struct{ t *tx }

func (r idemRepo) Get(ctx context.Context, scope, token string, now time.Time) (*store.IdempotencyRecord, error) {
	var rec store.IdempotencyRecord
	var exp sql.NullInt64
	err := r.t.queryRow(ctx, qIdemGet, scope, token, tm(now)).
		Scan(&rec.Scope, &rec.Token, &rec.Fingerprint, &rec.Result, &exp)
	if err != nil {
		return nil, r.t.s.classify(err, "get idempotency record")
	}
	rec.ExpiresAt = fromTm(exp)
	return &rec, nil
}

func (r idemRepo) Put(ctx context.Context, rec *store.IdempotencyRecord, now time.Time) error {
	// Replace an expired record; leave an unexpired one alone and report a
	// conflict.
	res, err := r.t.exec(ctx, "put idempotency record", qIdemPut,
		rec.Scope, rec.Token, rec.Fingerprint, rec.Result, tm(rec.ExpiresAt), tm(now))
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return errs.Wrap(err, "put idempotency record")
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// ---- leases ----

type leaseRepo struct{ t *tx }

func (r leaseRepo) Acquire(ctx context.Context, name, holder string, now, expires time.Time) (int64, bool, error) {
	res, err := r.t.exec(ctx, "acquire lease", qLeaseAcquire, name, holder, tm(expires), tm(now))
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, errs.Wrap(err, "acquire lease")
	} else if n == 0 {
		return 0, false, nil
	}
	var token int64
	if err := r.t.queryRow(ctx, qLeaseToken, name, holder).Scan(&token); err != nil {
		return 0, false, r.t.s.classify(err, "read lease token")
	}
	return token, true, nil
}

func (r leaseRepo) Check(ctx context.Context, name, holder string, token int64) error {
	var got int64
	err := r.t.queryRow(ctx, qLeaseCheck, name, holder).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && got != token) {
		return store.ErrStale
	}
	return r.t.s.classify(err, "check lease")
}

func (r leaseRepo) Release(ctx context.Context, name, holder string) error {
	_, err := r.t.exec(ctx, "release lease", qLeaseRelease, name, holder)
	return err
}

func (r leaseRepo) Get(ctx context.Context, name string) (*store.Lease, error) {
	var l store.Lease
	var exp sql.NullInt64
	if err := r.t.queryRow(ctx, qLeaseGet, name).Scan(&l.Name, &l.Holder, &l.Token, &exp); err != nil {
		return nil, r.t.s.classify(err, "get lease")
	}
	l.ExpiresAt = fromTm(exp)
	return &l, nil
}

// ---- CRLs ----

type crlRepo struct{ t *tx }

func scanCRL(sc interface{ Scan(...any) error }, withDER bool) (*store.CRL, error) {
	var c store.CRL
	var this, next, refresh sql.NullInt64
	dest := []any{&c.CAID, &c.Partition, &c.Number, &this, &next, &refresh, &c.Pending}
	if withDER {
		dest = append(dest, &c.DER)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	c.ThisUpdate, c.NextUpdate, c.RefreshAt = fromTm(this), fromTm(next), fromTm(refresh)
	return &c, nil
}

func (r crlRepo) Ensure(ctx context.Context, caID string, partition int64, refreshAt time.Time) error {
	_, err := r.t.exec(ctx, "ensure CRL", qCRLEnsure, caID, partition, tm(refreshAt))
	return err
}

func (r crlRepo) MarkPending(ctx context.Context, caID string, partition int64, now time.Time) error {
	_, err := r.t.exec(ctx, "mark CRL pending", qCRLMark, caID, partition, tm(now))
	return err
}

func (r crlRepo) Touch(ctx context.Context, caID string, partition int64, now time.Time) error {
	_, err := r.t.exec(ctx, "touch CRL", qCRLTouch, tm(now), caID, partition)
	return err
}

func (r crlRepo) Reschedule(ctx context.Context, caID string, partition int64, refreshAt time.Time) error {
	_, err := r.t.exec(ctx, "reschedule CRL", qCRLResched, tm(refreshAt), caID, partition)
	return err
}

func (r crlRepo) Get(ctx context.Context, caID string, partition int64) (*store.CRL, error) {
	c, err := scanCRL(r.t.queryRow(ctx, qCRLGet, caID, partition), true)
	if err != nil {
		return nil, r.t.s.classify(err, "get CRL")
	}
	return c, nil
}

func (r crlRepo) Number(ctx context.Context, caID string, partition int64) (int64, error) {
	var n int64
	err := r.t.queryRow(ctx, qCRLNumber, caID, partition).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, r.t.s.classify(err, "get CRL number")
}

func (r crlRepo) list(ctx context.Context, q string, args ...any) ([]*store.CRL, error) {
	rows, err := r.t.query(ctx, "list CRLs", q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.CRL
	for rows.Next() {
		c, err := scanCRL(rows, false)
		if err != nil {
			return nil, r.t.s.classify(err, "scan CRL")
		}
		out = append(out, c)
	}
	return out, r.t.s.classify(rows.Err(), "list CRLs")
}

func (r crlRepo) Due(ctx context.Context, now time.Time, limit int) ([]*store.CRL, error) {
	return r.list(ctx, qCRLDue, tm(now), limit)
}

func (r crlRepo) Partitions(ctx context.Context, caID string) ([]*store.CRL, error) {
	return r.list(ctx, qCRLPartitions, caID)
}

func (r crlRepo) Save(ctx context.Context, c *store.CRL, covered int64) error {
	res, err := r.t.exec(ctx, "save CRL", qCRLSave, covered, covered, tm(c.RefreshAt), c.CAID, c.Partition)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return errs.Wrap(err, "save CRL")
	} else if n == 0 {
		return store.ErrNotFound
	}
	_, err = r.t.exec(ctx, "save CRL", qCRLFilePut, c.CAID, c.Partition, c.Number, tm(c.ThisUpdate), tm(c.NextUpdate), c.DER)
	return err
}

func (r crlRepo) Remove(ctx context.Context, caID string, partition int64) error {
	if _, err := r.t.exec(ctx, "remove CRL", qCRLFileRemove, caID, partition); err != nil {
		return err
	}
	_, err := r.t.exec(ctx, "remove CRL", qCRLRemove, caID, partition)
	return err
}

// ---- sequences ----

type seqRepo struct{ t *tx }

func (r seqRepo) Reserve(ctx context.Context, caID, name string, n int64) (int64, error) {
	var next int64
	if err := r.t.queryRow(ctx, qSeqReserve, caID, name, 1+n, n).Scan(&next); err != nil {
		return 0, r.t.s.classify(err, "reserve sequence")
	}
	return next - n, nil
}

// ---- OCSP responders ----

type responderRepo struct{ t *tx }

func (r responderRepo) Get(ctx context.Context, caID string) (*store.OCSPResponder, error) {
	var o store.OCSPResponder
	var na sql.NullInt64
	if err := r.t.queryRow(ctx, qResponderGet, caID).Scan(&o.CAID, &o.KeyRef, &o.Certificate, &na); err != nil {
		return nil, r.t.s.classify(err, "get OCSP responder")
	}
	o.NotAfter = fromTm(na)
	return &o, nil
}

func (r responderRepo) Put(ctx context.Context, o *store.OCSPResponder) error {
	_, err := r.t.exec(ctx, "put OCSP responder", qResponderPut, o.CAID, o.KeyRef, o.Certificate, tm(o.NotAfter))
	return err
}

// ---- audit reports ----

type reportRepo struct{ t *tx }

func (r reportRepo) Insert(ctx context.Context, a *store.AuditReport) error {
	_, err := r.t.exec(ctx, "insert audit report", qReportInsert, a.ID, a.CAID, a.Status, a.Bucket, a.Key, a.Format, tm(a.CreatedAt))
	return err
}

func (r reportRepo) Get(ctx context.Context, id string) (*store.AuditReport, error) {
	var a store.AuditReport
	var created sql.NullInt64
	if err := r.t.queryRow(ctx, qReportGet, id).Scan(&a.ID, &a.CAID, &a.Status, &a.Bucket, &a.Key, &a.Format, &created); err != nil {
		return nil, r.t.s.classify(err, "get audit report")
	}
	a.CreatedAt = fromTm(created)
	return &a, nil
}

func (r reportRepo) SetStatus(ctx context.Context, id, status string) error {
	_, err := r.t.exec(ctx, "update audit report", qReportStatus, status, id)
	return err
}

func (r reportRepo) Creating(ctx context.Context, caID string) (bool, error) {
	var n int
	err := r.t.queryRow(ctx, qReportBusy, caID).Scan(&n)
	return n > 0, r.t.s.classify(err, "count audit reports")
}

func (r reportRepo) FailStale(ctx context.Context, before time.Time) (int, error) {
	res, err := r.t.exec(ctx, "fail stale audit reports", qReportStale, tm(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), errs.Wrap(err, "fail stale audit reports")
}
