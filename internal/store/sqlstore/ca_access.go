package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/store"
)

var (
	qCAPolicyPut = register(`INSERT INTO ca_policies (ca_id, policy, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (ca_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`)
	qCAPolicyGet            = register(`SELECT policy FROM ca_policies WHERE ca_id = ?`)
	qCAPolicyDelete         = register(`DELETE FROM ca_policies WHERE ca_id = ?`)
	qCAGranteesDelete       = register(`DELETE FROM ca_policy_grantees WHERE ca_id = ?`)
	qCAGranteeInsert        = register(`INSERT INTO ca_policy_grantees (account_id, ca_id) VALUES (?, ?)`)
	qCAPermissionsDeleteAll = register(`DELETE FROM ca_permissions WHERE ca_id = ?`)
	qCASharedList           = register(`SELECT ` + caColumnsOf("c") + ` FROM ca_policy_grantees g
		JOIN certificate_authorities c ON c.id = g.ca_id WHERE g.account_id = ? ORDER BY c.created_at, c.id LIMIT ?`)
	qCASharedListAfter = register(`SELECT ` + caColumnsOf("c") + ` FROM ca_policy_grantees g
		JOIN certificate_authorities c ON c.id = g.ca_id
		WHERE g.account_id = ? AND (c.created_at > ? OR (c.created_at = ? AND c.id > ?)) ORDER BY c.created_at, c.id LIMIT ?`)
	qCAPermissionInsert = register(`INSERT INTO ca_permissions (ca_id, principal, source_account, actions, created_at) VALUES (?, ?, ?, ?, ?)`)
	qCAPermissionList   = register(`SELECT ca_id, principal, source_account, actions, created_at FROM ca_permissions WHERE ca_id = ? ORDER BY principal`)
	qCAPermissionDelete = register(`DELETE FROM ca_permissions WHERE ca_id = ? AND principal = ?`)
)

// caColumnsOf qualifies caColumns with a table alias.
func caColumnsOf(alias string) string {
	cols := strings.Split(caColumns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

type caAccessRepo struct{ t *tx }

func (t *tx) CAAccess() store.CAAccess { return caAccessRepo{t} }

func (r caAccessRepo) PutPolicy(ctx context.Context, caID, policy string, grantees []string, at time.Time) error {
	if _, err := r.t.exec(ctx, "put CA policy", qCAPolicyPut, caID, policy, tm(at)); err != nil {
		return err
	}
	if _, err := r.t.exec(ctx, "replace CA grantees", qCAGranteesDelete, caID); err != nil {
		return err
	}
	for _, a := range grantees {
		if _, err := r.t.exec(ctx, "insert CA grantee", qCAGranteeInsert, a, caID); err != nil {
			return err
		}
	}
	return nil
}

func (r caAccessRepo) GetPolicy(ctx context.Context, caID string) (string, error) {
	var p string
	err := r.t.queryRow(ctx, qCAPolicyGet, caID).Scan(&p)
	return p, r.t.s.classify(err, "get CA policy")
}

func (r caAccessRepo) DeletePolicy(ctx context.Context, caID string) error {
	if _, err := r.t.exec(ctx, "delete CA grantees", qCAGranteesDelete, caID); err != nil {
		return err
	}
	return r.t.execOne(ctx, "delete CA policy", qCAPolicyDelete, caID)
}

func (r caAccessRepo) ListShared(ctx context.Context, account string, after *store.CACursor, limit int) ([]*store.CA, error) {
	var rows *sql.Rows
	var err error
	if after == nil {
		rows, err = r.t.query(ctx, "list shared certificate authorities", qCASharedList, account, limit)
	} else {
		ts := after.CreatedAt.UTC().UnixMicro()
		rows, err = r.t.query(ctx, "list shared certificate authorities", qCASharedListAfter, account, ts, ts, after.ID, limit)
	}
	if err != nil {
		return nil, err
	}
	return r.t.scanCAs(rows, "list shared certificate authorities")
}

func (r caAccessRepo) InsertPermission(ctx context.Context, p *store.CAPermission) error {
	_, err := r.t.exec(ctx, "insert CA permission", qCAPermissionInsert, p.CAID, p.Principal, p.SourceAccount,
		strings.Join(p.Actions, ","), tm(p.CreatedAt))
	return err
}

func (r caAccessRepo) Permissions(ctx context.Context, caID string) ([]*store.CAPermission, error) {
	rows, err := r.t.query(ctx, "list CA permissions", qCAPermissionList, caID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.CAPermission
	for rows.Next() {
		var p store.CAPermission
		var actions string
		var created sql.NullInt64
		if err := rows.Scan(&p.CAID, &p.Principal, &p.SourceAccount, &actions, &created); err != nil {
			return nil, r.t.s.classify(err, "scan CA permission")
		}
		if actions != "" {
			p.Actions = strings.Split(actions, ",")
		}
		p.CreatedAt = fromTm(created)
		out = append(out, &p)
	}
	return out, r.t.s.classify(rows.Err(), "list CA permissions")
}

func (r caAccessRepo) DeletePermission(ctx context.Context, caID, principal string) error {
	return r.t.execOne(ctx, "delete CA permission", qCAPermissionDelete, caID, principal)
}
