package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
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
	err := r.t.queryRow(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v, r.t.s.classify(err, "get meta")
}

func (r metaRepo) Put(ctx context.Context, key, value string) error {
	_, err := r.t.exec(ctx, "put meta",
		`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// ---- accounts ----

type accountRepo struct{ t *tx }

func (r accountRepo) Insert(ctx context.Context, a *store.Account) error {
	_, err := r.t.exec(ctx, "insert account",
		`INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, a.ID, a.Name, tm(a.CreatedAt))
	return err
}

func (r accountRepo) Get(ctx context.Context, id string) (*store.Account, error) {
	var a store.Account
	var created sql.NullInt64
	err := r.t.queryRow(ctx, `SELECT id, name, created_at FROM accounts WHERE id = ?`, id).Scan(&a.ID, &a.Name, &created)
	if err != nil {
		return nil, r.t.s.classify(err, "get account")
	}
	a.CreatedAt = fromTm(created)
	return &a, nil
}

func (r accountRepo) Count(ctx context.Context) (int, error) {
	var n int
	err := r.t.queryRow(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n)
	return n, r.t.s.classify(err, "count accounts")
}

// ---- access keys ----

type accessKeyRepo struct{ t *tx }

func (r accessKeyRepo) Insert(ctx context.Context, k *store.AccessKey) error {
	_, err := r.t.exec(ctx, "insert access key",
		`INSERT INTO access_keys (id, account_id, principal_arn, secret_sealed, status, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Account, k.PrincipalARN, k.SecretSealed, k.Status, tm(k.CreatedAt))
	return err
}

func (r accessKeyRepo) Get(ctx context.Context, id string) (*store.AccessKey, error) {
	var k store.AccessKey
	var created sql.NullInt64
	err := r.t.queryRow(ctx, `SELECT id, account_id, principal_arn, secret_sealed, status, created_at FROM access_keys WHERE id = ?`, id).
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
	_, err := r.t.exec(ctx, "insert certificate authority", `INSERT INTO certificate_authorities (`+caColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
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
	c, err := scanCA(r.t.queryRow(ctx, `SELECT `+caColumns+` FROM certificate_authorities WHERE id = ?`, id))
	if err != nil {
		return nil, r.t.s.classify(err, "get certificate authority")
	}
	return c, nil
}

func (r caRepo) Update(ctx context.Context, c *store.CA) error {
	res, err := r.t.exec(ctx, "update certificate authority", `UPDATE certificate_authorities SET
		type = ?, status = ?, status_before_deletion = ?, failure_reason = ?, usage_mode = ?, key_storage = ?,
		config = ?, revocation_config = ?, key_ref = ?, csr = ?, certificate = ?, chain = ?, serial = ?,
		not_before = ?, not_after = ?, last_state_change_at = ?, restorable_until = ?, version = version + 1
		WHERE id = ? AND version = ?`,
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
		if err := r.t.queryRow(ctx, `SELECT 1 FROM certificate_authorities WHERE id = ?`, c.ID).Scan(&exists); err != nil {
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
		rows, err = r.t.query(ctx, "list certificate authorities", `SELECT `+caColumns+` FROM certificate_authorities
			WHERE account_id = ? ORDER BY created_at, id LIMIT ?`, account, limit)
	} else {
		ts := after.CreatedAt.UTC().UnixMicro()
		rows, err = r.t.query(ctx, "list certificate authorities", `SELECT `+caColumns+` FROM certificate_authorities
			WHERE account_id = ? AND (created_at > ? OR (created_at = ? AND id > ?))
			ORDER BY created_at, id LIMIT ?`, account, ts, ts, after.ID, limit)
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
	err := r.t.queryRow(ctx, `SELECT COUNT(*) FROM certificate_authorities WHERE account_id = ?`, account).Scan(&n)
	return n, r.t.s.classify(err, "count certificate authorities")
}

func (r caRepo) Delete(ctx context.Context, id string) error {
	var arn string
	if err := r.t.queryRow(ctx, `SELECT arn FROM certificate_authorities WHERE id = ?`, id).Scan(&arn); err != nil {
		return r.t.s.classify(err, "delete certificate authority")
	}
	if _, err := r.t.exec(ctx, "delete tags", `DELETE FROM tags WHERE resource_arn = ?`, arn); err != nil {
		return err
	}
	if _, err := r.t.exec(ctx, "delete certificates", `DELETE FROM certificates WHERE ca_id = ?`, id); err != nil {
		return err
	}
	_, err := r.t.exec(ctx, "delete certificate authority", `DELETE FROM certificate_authorities WHERE id = ?`, id)
	return err
}

func (r caRepo) DeletedBefore(ctx context.Context, t time.Time, limit int) ([]string, error) {
	rows, err := r.t.query(ctx, "list purgeable certificate authorities", `SELECT id FROM certificate_authorities
		WHERE status = 'DELETED' AND restorable_until < ? ORDER BY restorable_until LIMIT ?`, tm(t), limit)
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
	_, err := r.t.exec(ctx, "insert certificate", `INSERT INTO certificates
		(ca_id, serial, account_id, der, not_before, not_after, issued_at, template_arn) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.CAID, c.Serial, c.Account, c.DER, tm(c.NotBefore), tm(c.NotAfter), tm(c.IssuedAt), c.TemplateARN)
	return err
}

func (r certRepo) Get(ctx context.Context, caID, serial string) (*store.Certificate, error) {
	var c store.Certificate
	var nb, na, issued sql.NullInt64
	err := r.t.queryRow(ctx, `SELECT ca_id, serial, account_id, der, not_before, not_after, issued_at, template_arn
		FROM certificates WHERE ca_id = ? AND serial = ?`, caID, serial).
		Scan(&c.CAID, &c.Serial, &c.Account, &c.DER, &nb, &na, &issued, &c.TemplateARN)
	if err != nil {
		return nil, r.t.s.classify(err, "get certificate")
	}
	c.NotBefore, c.NotAfter, c.IssuedAt = fromTm(nb), fromTm(na), fromTm(issued)
	return &c, nil
}

func (r certRepo) CountByCA(ctx context.Context, caID string) (int, error) {
	var n int
	err := r.t.queryRow(ctx, `SELECT COUNT(*) FROM certificates WHERE ca_id = ?`, caID).Scan(&n)
	return n, r.t.s.classify(err, "count certificates")
}

// ---- tags ----

type tagRepo struct{ t *tx }

func (r tagRepo) List(ctx context.Context, arn string) ([]store.Tag, error) {
	rows, err := r.t.query(ctx, "list tags", `SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key`, arn)
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
	if _, err := r.t.exec(ctx, "delete tags", `DELETE FROM tags WHERE resource_arn = ?`, arn); err != nil {
		return err
	}
	for _, tg := range tags {
		if _, err := r.t.exec(ctx, "insert tag", `INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?)`,
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
	err := r.t.queryRow(ctx, `SELECT scope, token, fingerprint, result, expires_at FROM idempotency
		WHERE scope = ? AND token = ? AND expires_at > ?`, scope, token, tm(now)).
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
	res, err := r.t.exec(ctx, "put idempotency record", `INSERT INTO idempotency (scope, token, fingerprint, result, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (scope, token) DO UPDATE SET fingerprint = excluded.fingerprint, result = excluded.result,
			expires_at = excluded.expires_at
		WHERE idempotency.expires_at <= ?`,
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
