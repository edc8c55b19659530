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
		(ca_id, serial, account_id, der, not_before, not_after, issued_at, template_arn) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qCertGet = register(`SELECT ca_id, serial, account_id, der, not_before, not_after, issued_at, template_arn
		FROM certificates WHERE ca_id = ? AND serial = ?`)
	qCertCountByCA = register(`SELECT COUNT(*) FROM certificates WHERE ca_id = ?`)
	qTagList       = register(`SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key`)
	qTagInsert     = register(`INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?)`)
	qIdemGet       = register(`SELECT scope, token, fingerprint, result, expires_at FROM idempotency
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
	defer rows.Close()
	var out []*store.CA
	for rows.Next() {
		c, err := scanCA(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "scan certificate authority")
		}
		out = append(out, c)
	}
	return out, r.t.s.classify(rows.Err(), "list certificate authorities")
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
	if _, err := r.t.exec(ctx, "delete certificates", qCADeleteCertificates, id); err != nil {
		return err
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

func (r certRepo) Insert(ctx context.Context, c *store.Certificate) error {
	_, err := r.t.exec(ctx, "insert certificate", qCertInsert,
		c.CAID, c.Serial, c.Account, c.DER, tm(c.NotBefore), tm(c.NotAfter), tm(c.IssuedAt), c.TemplateARN)
	return err
}

func (r certRepo) Get(ctx context.Context, caID, serial string) (*store.Certificate, error) {
	var c store.Certificate
	var nb, na, issued sql.NullInt64
	err := r.t.queryRow(ctx, qCertGet, caID, serial).
		Scan(&c.CAID, &c.Serial, &c.Account, &c.DER, &nb, &na, &issued, &c.TemplateARN)
	if err != nil {
		return nil, r.t.s.classify(err, "get certificate")
	}
	c.NotBefore, c.NotAfter, c.IssuedAt = fromTm(nb), fromTm(na), fromTm(issued)
	return &c, nil
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
