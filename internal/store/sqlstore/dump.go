package sqlstore

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Logical backups. Dump writes every table's rows as JSON lines from one
// consistent snapshot; Load inserts them into an empty store of either
// engine (so a backup also moves a deployment from SQLite to PostgreSQL).
// Rows carry column names, so a backup loads into a newer schema whose
// migrations only add columns or tables.
//
//	{"format":"sigil-backup","version":1,"engine":"sqlite","schema":2}
//	{"table":"accounts","columns":["id","name","created_at"]}
//	{"r":["123456789012","admin",1767225600000000]}
//	...
//	{"end":true,"rows":42}
//
// Values: strings as JSON strings, integers as numbers, blobs as
// {"b":"<base64>"}, NULL as null. Leases and the migration table are not
// backed up: they describe the running cluster and the binary, not data.

// dumpTables lists the tables in an order that satisfies foreign keys.
var dumpTables = []string{"meta", "accounts", "access_keys", "iam_principals", "iam_policies", "iam_attachments", "iam_sessions", "certificate_authorities", "certificates", "tags", "idempotency",
	"crls", "crl_files", "ca_sequences", "ocsp_responders", "audit_reports", "ca_policies", "ca_policy_grantees", "ca_permissions",
	"acm_certificates", "acm_certificate_names", "account_settings", "events",
	"kms_keys", "kms_key_materials", "kms_aliases", "secrets", "secret_versions", "secret_stages", "rotation_functions",
	"audit_events", "audit_event_resources", "audit_pending", "audit_chain",
	"event_rules", "event_targets", "event_connections", "event_destinations", "event_deliveries",
	"deploy_tokens", "deploy_agents", "deploy_profiles", "deployments", "deploy_targets"}

const backupFormat = "sigil-backup"

type dumpHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Engine  string `json:"engine"`
	Schema  int    `json:"schema"`
}

type dumpLine struct {
	Table   string            `json:"table,omitempty"`
	Columns []string          `json:"columns,omitempty"`
	Row     []json.RawMessage `json:"r,omitempty"`
	End     bool              `json:"end,omitempty"`
	Rows    int64             `json:"rows,omitempty"`
}

// DumpStats summarizes a dump or a load.
type DumpStats struct {
	Tables map[string]int64
	Rows   int64
}

// Dump writes a consistent logical copy of the store to w.
func (s *Store) Dump(ctx context.Context, w io.Writer) (*DumpStats, error) {
	opts := &sql.TxOptions{ReadOnly: s.dialect.name() == "postgres"}
	if s.dialect.name() == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.reader.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	schema, err := schemaVersion(ctx, tx)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(dumpHeader{Format: backupFormat, Version: 1, Engine: s.dialect.name(), Schema: schema}); err != nil {
		return nil, err
	}
	stats := &DumpStats{Tables: map[string]int64{}}
	for _, table := range dumpTables {
		rows, err := tx.QueryContext(ctx, "SELECT * FROM "+table)
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return nil, err
		}
		if err := enc.Encode(dumpLine{Table: table, Columns: cols}); err != nil {
			rows.Close()
			return nil, err
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("dump %s: %w", table, err)
			}
			line := dumpLine{Row: make([]json.RawMessage, len(cols))}
			for i, v := range vals {
				if line.Row[i], err = encodeValue(v); err != nil {
					rows.Close()
					return nil, fmt.Errorf("dump %s.%s: %w", table, cols[i], err)
				}
			}
			if err := enc.Encode(line); err != nil {
				rows.Close()
				return nil, err
			}
			stats.Tables[table]++
			stats.Rows++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", table, err)
		}
	}
	if err := enc.Encode(dumpLine{End: true, Rows: stats.Rows}); err != nil {
		return nil, err
	}
	return stats, bw.Flush()
}

// Load inserts a dump into this store, which must be empty, in one
// transaction: either everything is restored or nothing is.
func (s *Store) Load(ctx context.Context, r io.Reader) (*DumpStats, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	dec.UseNumber()
	var hdr dumpHeader
	if err := dec.Decode(&hdr); err != nil || hdr.Format != backupFormat {
		return nil, errors.New("not a Sigil backup (no backup header)")
	}
	if hdr.Version != 1 {
		return nil, fmt.Errorf("backup format version %d is not supported by this Sigil", hdr.Version)
	}
	if have := MigrationsAvailable(s.dialect.name()); hdr.Schema > have {
		return nil, fmt.Errorf("the backup has schema version %d, newer than this Sigil's %d; restore with a newer Sigil", hdr.Schema, have)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, table := range dumpTables {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("the target store is not empty (table %s has %d rows); restore into a new data directory or database", table, n)
		}
	}
	stats := &DumpStats{Tables: map[string]int64{}}
	var table string
	var cols []string
	var insert *sql.Stmt
	closeInsert := func() {
		if insert != nil {
			insert.Close()
			insert = nil
		}
	}
	defer closeInsert()
	for {
		var line dumpLine
		if err := dec.Decode(&line); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the backup ends before its end marker; it is incomplete")
			}
			return nil, fmt.Errorf("read backup: %w", err)
		}
		switch {
		case line.End:
			if line.Rows != stats.Rows {
				return nil, fmt.Errorf("the backup announces %d rows but holds %d", line.Rows, stats.Rows)
			}
			if err := tx.Commit(); err != nil {
				return nil, err
			}
			return stats, nil
		case line.Table != "":
			if !slices.Contains(dumpTables, line.Table) {
				return nil, fmt.Errorf("the backup has an unknown table %q", line.Table)
			}
			closeInsert()
			table, cols = line.Table, line.Columns
			if err := checkColumns(ctx, tx, table, cols); err != nil {
				return nil, err
			}
			q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "),
				strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
			if insert, err = tx.PrepareContext(ctx, s.dialect.rebind(q)); err != nil {
				return nil, fmt.Errorf("restore %s: %w", table, err)
			}
		case line.Row != nil:
			if insert == nil || len(line.Row) != len(cols) {
				return nil, errors.New("the backup has a row outside a table or with the wrong number of values")
			}
			args := make([]any, len(cols))
			for i, raw := range line.Row {
				if args[i], err = decodeValue(raw); err != nil {
					return nil, fmt.Errorf("restore %s.%s: %w", table, cols[i], err)
				}
			}
			if _, err := insert.ExecContext(ctx, args...); err != nil {
				return nil, fmt.Errorf("restore %s: %w", table, err)
			}
			stats.Tables[table]++
			stats.Rows++
		}
	}
}

func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// checkColumns makes sure every column of the backup exists in the table.
func checkColumns(ctx context.Context, tx *sql.Tx, table string, cols []string) error {
	rows, err := tx.QueryContext(ctx, "SELECT * FROM "+table+" WHERE 1 = 0")
	if err != nil {
		return err
	}
	have, err := rows.Columns()
	rows.Close()
	if err != nil {
		return err
	}
	for _, c := range cols {
		if !slices.Contains(have, c) {
			return fmt.Errorf("the backup's table %s has a column %q this Sigil does not know", table, c)
		}
	}
	return nil
}

func encodeValue(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case []byte:
		return json.Marshal(map[string]string{"b": base64.StdEncoding.EncodeToString(x)})
	case string, int64, int32, int, float64, bool:
		return json.Marshal(x)
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func decodeValue(raw json.RawMessage) (any, error) {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "null":
		return nil, nil
	case strings.HasPrefix(s, "{"):
		var b struct {
			B *string `json:"b"`
		}
		if err := json.Unmarshal(raw, &b); err != nil || b.B == nil {
			return nil, errors.New("malformed blob")
		}
		return base64.StdEncoding.DecodeString(*b.B)
	case strings.HasPrefix(s, `"`):
		var str string
		err := json.Unmarshal(raw, &str)
		return str, err
	case s == "true" || s == "false":
		return s == "true", nil
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		return n.Float64()
	}
}
