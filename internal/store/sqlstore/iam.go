package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sigilhq/sigil/internal/store"
)

var (
	qAccountList        = register(`SELECT id, name, created_at FROM accounts ORDER BY id`)
	qAccessKeyList      = register(`SELECT id, account_id, principal_arn, secret_sealed, status, created_at FROM access_keys WHERE principal_arn = ? ORDER BY created_at, id`)
	qAccessKeySetStatus = register(`UPDATE access_keys SET status = ? WHERE id = ?`)
	qAccessKeyDelete    = register(`DELETE FROM access_keys WHERE id = ?`)

	iamPrincipalColumns = `arn, account_id, kind, name, path, unique_id, trust_policy, max_session_seconds, description, created_at`
	qIAMPrincipalInsert = register(`INSERT INTO iam_principals (` + iamPrincipalColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qIAMPrincipalGet    = register(`SELECT ` + iamPrincipalColumns + ` FROM iam_principals WHERE arn = ?`)
	qIAMPrincipalFind   = register(`SELECT ` + iamPrincipalColumns + ` FROM iam_principals WHERE account_id = ? AND kind = ? AND name = ?`)
	qIAMPrincipalList   = register(`SELECT ` + iamPrincipalColumns + ` FROM iam_principals WHERE account_id = ? AND kind = ? ORDER BY name`)
	qIAMTrustUpdate     = register(`UPDATE iam_principals SET trust_policy = ? WHERE arn = ?`)
	qIAMPrincipalDelete = register(`DELETE FROM iam_principals WHERE arn = ?`)

	iamPolicyColumns = `arn, account_id, name, path, policy_id, document, description, created_at, updated_at`
	qIAMPolicyInsert = register(`INSERT INTO iam_policies (` + iamPolicyColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qIAMPolicyGet    = register(`SELECT ` + iamPolicyColumns + ` FROM iam_policies WHERE arn = ?`)
	qIAMPolicyList   = register(`SELECT ` + iamPolicyColumns + ` FROM iam_policies WHERE account_id = ? ORDER BY name`)
	qIAMPolicyUpdate = register(`UPDATE iam_policies SET document = ?, updated_at = ? WHERE arn = ?`)
	qIAMPolicyDelete = register(`DELETE FROM iam_policies WHERE arn = ?`)

	qIAMAttach          = register(`INSERT INTO iam_attachments (principal_arn, policy_arn) VALUES (?, ?)`)
	qIAMDetach          = register(`DELETE FROM iam_attachments WHERE principal_arn = ? AND policy_arn = ?`)
	qIAMAttached        = register(`SELECT policy_arn FROM iam_attachments WHERE principal_arn = ? ORDER BY policy_arn`)
	qIAMAttachmentCount = register(`SELECT COUNT(*) FROM iam_attachments WHERE policy_arn = ?`)

	iamSessionColumns    = `access_key_id, account_id, role_arn, session_name, source_arn, secret_sealed, token_hash, tags, expires_at, created_at`
	qIAMSessionInsert    = register(`INSERT INTO iam_sessions (` + iamSessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qIAMSessionGet       = register(`SELECT ` + iamSessionColumns + ` FROM iam_sessions WHERE access_key_id = ?`)
	qIAMSessionsExpired  = register(`SELECT access_key_id FROM iam_sessions WHERE expires_at < ? ORDER BY expires_at LIMIT ?`)
	qIAMSessionDeleteOne = register(`DELETE FROM iam_sessions WHERE access_key_id = ?`)
)

func (r accountRepo) List(ctx context.Context) ([]*store.Account, error) {
	rows, err := r.t.query(ctx, "list accounts", qAccountList)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Account
	for rows.Next() {
		var a store.Account
		var created sql.NullInt64
		if err := rows.Scan(&a.ID, &a.Name, &created); err != nil {
			return nil, r.t.s.classify(err, "list accounts")
		}
		a.CreatedAt = fromTm(created)
		out = append(out, &a)
	}
	return out, r.t.s.classify(rows.Err(), "list accounts")
}

func (r accessKeyRepo) ListByPrincipal(ctx context.Context, principalARN string) ([]*store.AccessKey, error) {
	rows, err := r.t.query(ctx, "list access keys", qAccessKeyList, principalARN)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.AccessKey
	for rows.Next() {
		var k store.AccessKey
		var created sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Account, &k.PrincipalARN, &k.SecretSealed, &k.Status, &created); err != nil {
			return nil, r.t.s.classify(err, "list access keys")
		}
		k.CreatedAt = fromTm(created)
		out = append(out, &k)
	}
	return out, r.t.s.classify(rows.Err(), "list access keys")
}

func (r accessKeyRepo) SetStatus(ctx context.Context, id, status string) error {
	return r.t.execOne(ctx, "update access key", qAccessKeySetStatus, status, id)
}

func (r accessKeyRepo) Delete(ctx context.Context, id string) error {
	return r.t.execOne(ctx, "delete access key", qAccessKeyDelete, id)
}

type iamRepo struct{ t *tx }

func (t *tx) IAM() store.IAM { return iamRepo{t} }

func scanIAMPrincipal(sc interface{ Scan(...any) error }) (*store.IAMPrincipal, error) {
	var p store.IAMPrincipal
	var created sql.NullInt64
	if err := sc.Scan(&p.ARN, &p.Account, &p.Kind, &p.Name, &p.Path, &p.UniqueID, &p.TrustPolicy,
		&p.MaxSessionSeconds, &p.Description, &created); err != nil {
		return nil, err
	}
	p.CreatedAt = fromTm(created)
	return &p, nil
}

func (r iamRepo) InsertPrincipal(ctx context.Context, p *store.IAMPrincipal) error {
	_, err := r.t.exec(ctx, "insert IAM principal", qIAMPrincipalInsert, p.ARN, p.Account, p.Kind, p.Name, p.Path,
		p.UniqueID, p.TrustPolicy, p.MaxSessionSeconds, p.Description, tm(p.CreatedAt))
	return err
}

func (r iamRepo) GetPrincipal(ctx context.Context, arn string) (*store.IAMPrincipal, error) {
	p, err := scanIAMPrincipal(r.t.queryRow(ctx, qIAMPrincipalGet, arn))
	if err != nil {
		return nil, r.t.s.classify(err, "get IAM principal")
	}
	return p, nil
}

func (r iamRepo) FindPrincipal(ctx context.Context, account, kind, name string) (*store.IAMPrincipal, error) {
	p, err := scanIAMPrincipal(r.t.queryRow(ctx, qIAMPrincipalFind, account, kind, name))
	if err != nil {
		return nil, r.t.s.classify(err, "find IAM principal")
	}
	return p, nil
}

func (r iamRepo) ListPrincipals(ctx context.Context, account, kind string) ([]*store.IAMPrincipal, error) {
	rows, err := r.t.query(ctx, "list IAM principals", qIAMPrincipalList, account, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.IAMPrincipal
	for rows.Next() {
		p, err := scanIAMPrincipal(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "list IAM principals")
		}
		out = append(out, p)
	}
	return out, r.t.s.classify(rows.Err(), "list IAM principals")
}

func (r iamRepo) UpdateTrustPolicy(ctx context.Context, arn, doc string) error {
	return r.t.execOne(ctx, "update trust policy", qIAMTrustUpdate, doc, arn)
}

func (r iamRepo) DeletePrincipal(ctx context.Context, arn string) error {
	return r.t.execOne(ctx, "delete IAM principal", qIAMPrincipalDelete, arn)
}

func scanIAMPolicy(sc interface{ Scan(...any) error }) (*store.IAMPolicy, error) {
	var p store.IAMPolicy
	var created, updated sql.NullInt64
	if err := sc.Scan(&p.ARN, &p.Account, &p.Name, &p.Path, &p.PolicyID, &p.Document, &p.Description, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = fromTm(created), fromTm(updated)
	return &p, nil
}

func (r iamRepo) InsertPolicy(ctx context.Context, p *store.IAMPolicy) error {
	_, err := r.t.exec(ctx, "insert IAM policy", qIAMPolicyInsert, p.ARN, p.Account, p.Name, p.Path, p.PolicyID,
		p.Document, p.Description, tm(p.CreatedAt), tm(p.UpdatedAt))
	return err
}

func (r iamRepo) GetPolicy(ctx context.Context, arn string) (*store.IAMPolicy, error) {
	p, err := scanIAMPolicy(r.t.queryRow(ctx, qIAMPolicyGet, arn))
	if err != nil {
		return nil, r.t.s.classify(err, "get IAM policy")
	}
	return p, nil
}

func (r iamRepo) ListPolicies(ctx context.Context, account string) ([]*store.IAMPolicy, error) {
	rows, err := r.t.query(ctx, "list IAM policies", qIAMPolicyList, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.IAMPolicy
	for rows.Next() {
		p, err := scanIAMPolicy(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "list IAM policies")
		}
		out = append(out, p)
	}
	return out, r.t.s.classify(rows.Err(), "list IAM policies")
}

func (r iamRepo) UpdatePolicy(ctx context.Context, arn, doc string, at time.Time) error {
	return r.t.execOne(ctx, "update IAM policy", qIAMPolicyUpdate, doc, tm(at), arn)
}

func (r iamRepo) DeletePolicy(ctx context.Context, arn string) error {
	return r.t.execOne(ctx, "delete IAM policy", qIAMPolicyDelete, arn)
}

func (r iamRepo) Attach(ctx context.Context, principalARN, policyARN string) error {
	_, err := r.t.exec(ctx, "attach IAM policy", qIAMAttach, principalARN, policyARN)
	return err
}

func (r iamRepo) Detach(ctx context.Context, principalARN, policyARN string) error {
	return r.t.execOne(ctx, "detach IAM policy", qIAMDetach, principalARN, policyARN)
}

func (r iamRepo) Attached(ctx context.Context, principalARN string) ([]string, error) {
	return r.t.ids(ctx, "list attached policies", qIAMAttached, principalARN)
}

func (r iamRepo) AttachmentCount(ctx context.Context, policyARN string) (int, error) {
	var n int
	if err := r.t.queryRow(ctx, qIAMAttachmentCount, policyARN).Scan(&n); err != nil {
		return 0, r.t.s.classify(err, "count policy attachments")
	}
	return n, nil
}

func (r iamRepo) InsertSession(ctx context.Context, s *store.IAMSession) error {
	_, err := r.t.exec(ctx, "insert IAM session", qIAMSessionInsert, s.AccessKeyID, s.Account, s.RoleARN, s.SessionName,
		s.SourceARN, s.SecretSealed, s.TokenHash, string(s.Tags), tm(s.ExpiresAt), tm(s.CreatedAt))
	return err
}

func (r iamRepo) GetSession(ctx context.Context, accessKeyID string) (*store.IAMSession, error) {
	var s store.IAMSession
	var tags string
	var expires, created sql.NullInt64
	err := r.t.queryRow(ctx, qIAMSessionGet, accessKeyID).Scan(&s.AccessKeyID, &s.Account, &s.RoleARN, &s.SessionName,
		&s.SourceARN, &s.SecretSealed, &s.TokenHash, &tags, &expires, &created)
	if err != nil {
		return nil, r.t.s.classify(err, "get IAM session")
	}
	s.Tags, s.ExpiresAt, s.CreatedAt = []byte(tags), fromTm(expires), fromTm(created)
	return &s, nil
}

func (r iamRepo) DeleteExpiredSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	ids, err := r.t.ids(ctx, "list expired sessions", qIAMSessionsExpired, tm(now), limit)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := r.t.exec(ctx, "delete expired session", qIAMSessionDeleteOne, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
