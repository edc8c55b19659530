package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/store"
)

// ---- audit trail ----

const auditColumns = `position, event_id, account_id, event_time, event_name, event_source, read_only, username,
	access_key_id, request_id, error_code, body, mac`

var (
	// ON CONFLICT DO NOTHING: a duplicate must not abort a PostgreSQL
	// transaction that appends many records.
	qAuditAppend = register(`INSERT INTO audit_events (` + auditColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`)
	qAuditResourceInsert = register(`INSERT INTO audit_event_resources (account_id, resource_name, event_time, position, resource_type)
		VALUES (?, ?, ?, ?, ?)`)
	qAuditPendingInsert = register(`INSERT INTO audit_pending (event_id, event_time, body, mac, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`)
	qAuditPendingDelete = register(`DELETE FROM audit_pending WHERE event_id = ?`)
	qAuditPending       = register(`SELECT event_id, event_time, body, mac, created_at FROM audit_pending
		WHERE created_at <= ? ORDER BY created_at, event_id LIMIT ?`)
	qAuditHeadInsert = register(`INSERT INTO audit_chain (id, position, mac, tag) VALUES (1, ?, ?, ?)`)
	qAuditHeadLock   = register(`SELECT position, mac, tag FROM audit_chain WHERE id = 1 /*FOR UPDATE*/`)
	qAuditHead       = register(`SELECT position, mac, tag FROM audit_chain WHERE id = 1`)
	qAuditHeadSet    = register(`UPDATE audit_chain SET position = ?, mac = ?, tag = ? WHERE id = 1`)
	qAuditGet        = register(`SELECT ` + auditColumns + ` FROM audit_events WHERE event_id = ?`)
	qAuditEach       = `SELECT ` + auditColumns + ` FROM audit_events ORDER BY position`
	qAuditResources  = `SELECT position, account_id, event_time, resource_type, resource_name FROM audit_event_resources`
)

type auditRepo struct{ t *tx }

func (t *tx) AuditEvents() store.AuditEvents { return auditRepo{t} }

func (r auditRepo) Append(ctx context.Context, e *store.AuditEvent) error {
	err := r.t.execOne(ctx, "append audit record", qAuditAppend, e.Position, e.ID, e.Account, tm(e.Time), e.Name,
		e.Source, boolInt(e.ReadOnly), e.Username, e.AccessKeyID, e.RequestID, e.ErrorCode, e.Body, e.MAC)
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrConflict
	}
	if err != nil {
		return err
	}
	for _, res := range e.Resources {
		if _, err := r.t.exec(ctx, "append audit resource", qAuditResourceInsert, e.Account, res.Name, tm(e.Time),
			e.Position, res.Type); err != nil {
			return err
		}
	}
	return nil
}

func (r auditRepo) InsertPending(ctx context.Context, p *store.AuditPending) error {
	err := r.t.execOne(ctx, "insert pending audit record", qAuditPendingInsert, p.ID, tm(p.Time), p.Body, p.MAC, tm(p.CreatedAt))
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrConflict
	}
	return err
}

func (r auditRepo) DeletePending(ctx context.Context, id string) error {
	return r.t.execOne(ctx, "delete pending audit record", qAuditPendingDelete, id)
}

func (r auditRepo) Pending(ctx context.Context, t time.Time, limit int) ([]*store.AuditPending, error) {
	rows, err := r.t.query(ctx, "list pending audit records", qAuditPending, tm(t), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.AuditPending
	for rows.Next() {
		var p store.AuditPending
		var at, created sql.NullInt64
		if err := rows.Scan(&p.ID, &at, &p.Body, &p.MAC, &created); err != nil {
			return nil, r.t.s.classify(err, "list pending audit records")
		}
		p.Time, p.CreatedAt = fromTm(at), fromTm(created)
		out = append(out, &p)
	}
	return out, r.t.s.classify(rows.Err(), "list pending audit records")
}

func (r auditRepo) CreateHead(ctx context.Context, h *store.AuditHead) error {
	_, err := r.t.exec(ctx, "create audit chain head", qAuditHeadInsert, h.Position, h.MAC, h.Tag)
	return err
}

func (r auditRepo) head(ctx context.Context, q string) (*store.AuditHead, error) {
	var h store.AuditHead
	if err := r.t.queryRow(ctx, q).Scan(&h.Position, &h.MAC, &h.Tag); err != nil {
		return nil, r.t.s.classify(err, "read audit chain head")
	}
	return &h, nil
}

func (r auditRepo) LockHead(ctx context.Context) (*store.AuditHead, error) {
	return r.head(ctx, qAuditHeadLock)
}
func (r auditRepo) Head(ctx context.Context) (*store.AuditHead, error) {
	return r.head(ctx, qAuditHead)
}

func (r auditRepo) SetHead(ctx context.Context, h *store.AuditHead) error {
	return r.t.execOne(ctx, "update audit chain head", qAuditHeadSet, h.Position, h.MAC, h.Tag)
}

func scanAudit(sc interface{ Scan(...any) error }) (*store.AuditEvent, error) {
	var e store.AuditEvent
	var at sql.NullInt64
	var ro int64
	if err := sc.Scan(&e.Position, &e.ID, &e.Account, &at, &e.Name, &e.Source, &ro, &e.Username, &e.AccessKeyID,
		&e.RequestID, &e.ErrorCode, &e.Body, &e.MAC); err != nil {
		return nil, err
	}
	e.ReadOnly, e.Time = ro != 0, fromTm(at)
	return &e, nil
}

func (r auditRepo) Get(ctx context.Context, id string) (*store.AuditEvent, error) {
	e, err := scanAudit(r.t.queryRow(ctx, qAuditGet, id))
	if err != nil {
		return nil, r.t.s.classify(err, "get audit record")
	}
	return e, nil
}

// auditAttributeColumns maps LookupEvents attributes to indexed columns of
// audit_events; ResourceType and ResourceName go through the resources
// table.
var auditAttributeColumns = map[string]string{
	"EventId": "event_id", "EventName": "event_name", "ReadOnly": "read_only", "Username": "username",
	"EventSource": "event_source", "AccessKeyId": "access_key_id",
}

func (r auditRepo) Query(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	// t is the table whose (account_id, [attribute,] event_time, position)
	// index serves the query: the records themselves, or their resources.
	t, from := "e", "audit_events e"
	where := []string{"e.account_id = ?"}
	args := []any{q.Account}
	switch q.Attribute {
	case "":
	case "ResourceType", "ResourceName":
		t = "r"
		from = `audit_event_resources r JOIN audit_events e ON e.position = r.position`
		col := "resource_type"
		if q.Attribute == "ResourceName" {
			col = "resource_name"
		}
		where = []string{"r.account_id = ?", "r." + col + " = ?"}
		args = append(args, q.Value)
	default:
		col, ok := auditAttributeColumns[q.Attribute]
		if !ok {
			return nil, fmt.Errorf("unknown audit lookup attribute %q", q.Attribute)
		}
		var v any = q.Value
		if col == "read_only" {
			v = boolInt(q.Value == "true")
		}
		where = append(where, "e."+col+" = ?")
		args = append(args, v)
	}
	if !q.From.IsZero() {
		where = append(where, t+".event_time >= ?")
		args = append(args, tm(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, t+".event_time <= ?")
		args = append(args, tm(q.To))
	}
	if q.Before != nil {
		// A row-value comparison: one range scan on either engine.
		where = append(where, "("+t+".event_time, "+t+".position) < (?, ?)")
		args = append(args, tm(q.Before.Time), q.Before.Position)
	}
	args = append(args, q.Limit)
	query := `SELECT e.position, e.event_id, e.account_id, e.event_time, e.event_name, e.event_source, e.read_only,
		e.username, e.access_key_id, e.request_id, e.error_code, e.body, e.mac FROM ` + from +
		` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + t + `.event_time DESC, ` + t + `.position DESC LIMIT ?`
	rows, err := r.t.query(ctx, "look up audit records", query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, r.t.s.classify(err, "look up audit records")
		}
		out = append(out, e)
	}
	return out, r.t.s.classify(rows.Err(), "look up audit records")
}

func (r auditRepo) EachChained(ctx context.Context, fn func(*store.AuditEvent) error) error {
	rows, err := r.t.query(ctx, "read the audit chain", qAuditEach)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return r.t.s.classify(err, "read the audit chain")
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return r.t.s.classify(rows.Err(), "read the audit chain")
}

func (r auditRepo) EachResource(ctx context.Context, fn func(store.AuditResourceRow) error) error {
	rows, err := r.t.query(ctx, "read the audit resources", qAuditResources)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var row store.AuditResourceRow
		var at sql.NullInt64
		if err := rows.Scan(&row.Position, &row.Account, &at, &row.Type, &row.Name); err != nil {
			return r.t.s.classify(err, "read the audit resources")
		}
		row.Time = fromTm(at)
		if err := fn(row); err != nil {
			return err
		}
	}
	return r.t.s.classify(rows.Err(), "read the audit resources")
}
