// Package sqlstore implements the store interfaces on SQL databases: SQLite
// (embedded, the default) and PostgreSQL. One set of queries serves both; a
// small dialect shim rewrites placeholders and classifies errors, and each
// dialect has its own forward-only migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// Store is a SQL-backed store.Store.
type Store struct {
	dialect dialect
	// writer serializes write transactions. For SQLite it is a pool of one
	// connection, which avoids SQLITE_BUSY between our own writers; readers
	// use their own pool and are never blocked in WAL mode.
	writer *sql.DB
	reader *sql.DB

	queries sync.Map // query text → rebound text
	stmts   sync.Map // stmtKey → *sql.Stmt, prepared once per pool

	// Group commit (SQLite): Update queues here; see batch.go. closeMu
	// orders Close after every send in progress: senders hold it for
	// reading, Close for writing before it closes the queue.
	writes     chan *writeReq
	writerDone chan struct{}
	closeOnce  sync.Once
	closeMu    sync.RWMutex
	closed     bool
}

var _ store.Store = (*Store)(nil)

// Options tune a store.
type Options struct {
	// ReadConns bounds the reader pool (default 8).
	ReadConns int
}

// Open connects to the database named by rawURL and applies pending
// migrations. Accepted forms:
//
//	sqlite:/path/to/sigil.db   (also sqlite:///abs/path, or a plain file path)
//	postgres://user@host/db    (see the PostgreSQL documentation)
//
// SQLite URLs accept ?synchronous=full|normal (default full).
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if opts.ReadConns <= 0 {
		opts.ReadConns = 8
	}
	switch {
	case IsPostgres(rawURL):
		return openPostgres(ctx, rawURL, opts)
	default:
		return openSQLite(ctx, rawURL, opts)
	}
}

// IsPostgres reports whether a store URL names PostgreSQL.
func IsPostgres(rawURL string) bool {
	return strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://")
}

// SQLitePath extracts the file path and options of a SQLite store URL.
func SQLitePath(rawURL string) (path string, q url.Values, err error) {
	s := rawURL
	switch {
	case strings.HasPrefix(s, "sqlite://"):
		s = strings.TrimPrefix(s, "sqlite://")
	case strings.HasPrefix(s, "sqlite:"):
		s = strings.TrimPrefix(s, "sqlite:")
	case strings.Contains(s, "://"):
		return "", nil, fmt.Errorf("unsupported store URL scheme in %q (use sqlite: or postgres://)", rawURL)
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		q, err = url.ParseQuery(s[i+1:])
		if err != nil {
			return "", nil, fmt.Errorf("store URL options: %w", err)
		}
		s = s[:i]
	}
	if s == "" {
		return "", nil, errors.New("the SQLite store URL names no file")
	}
	if q == nil {
		q = url.Values{}
	}
	return s, q, nil
}

func openSQLite(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	path, q, err := SQLitePath(rawURL)
	if err != nil {
		return nil, err
	}
	sync := strings.ToUpper(q.Get("synchronous"))
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("store URL: synchronous must be full or normal, not %q", q.Get("synchronous"))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	base := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + sync + ")"
	writer, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	reader, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return nil, err
	}
	reader.SetMaxOpenConns(opts.ReadConns)
	reader.SetMaxIdleConns(opts.ReadConns)
	s := &Store{dialect: sqliteDialect{}, writer: writer, reader: reader}
	if err := writer.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	if err := s.migrateOn(ctx, s.writer); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.startWriter()
	return s, nil
}

// Close stops the writer and closes both pools. Updates queued before Close
// complete; later ones fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.writes != nil {
			s.closeMu.Lock()
			s.closed = true
			close(s.writes)
			s.closeMu.Unlock()
			<-s.writerDone
		}
		s.stmts.Range(func(k, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
	})
	err := s.writer.Close()
	if s.reader != s.writer {
		if e := s.reader.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Ping checks the database connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return errs.Wrap(err, "ping database")
	}
	return nil
}

// Update runs fn in a write transaction (shared with concurrent callers
// through group commit, each in its own savepoint).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.dialect.name() == "postgres" {
		return s.runPostgres(ctx, false, fn)
	}
	if s.writes == nil {
		return s.runOnce(ctx, s.writer, nil, fn)
	}
	if err := ctx.Err(); err != nil {
		return errs.Wrap(err, "write cancelled")
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	if !s.enqueue(req) {
		return errs.New(errs.Unavailable, "the store is closed")
	}
	res := <-req.done
	if res.panic != nil {
		panic(res.panic) // re-raise the function's panic in its own goroutine
	}
	return res.err
}

// enqueue hands a request to the writer; it reports false once the store is
// closed. (The writer drains the queue until Close, so a send never blocks
// Close for long.)
func (s *Store) enqueue(req *writeReq) bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	s.writes <- req
	return true
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.dialect.name() == "postgres" {
		return s.runPostgres(ctx, true, fn)
	}
	return s.runOnce(ctx, s.reader, nil, fn)
}

// Read runs fn on the read pool without a transaction.
func (s *Store) Read(ctx context.Context, fn func(store.Tx) error) error {
	return fn(&tx{s: s, db: s.reader})
}

// Engine names the database engine ("sqlite" or "postgres").
func (s *Store) Engine() string { return s.dialect.name() }

func (s *Store) runOnce(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(store.Tx) error) (err error) {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return errs.Wrap(err, "begin transaction")
	}
	t := &tx{s: s, db: db, tx: sqlTx}
	defer func() {
		if p := recover(); p != nil {
			sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return s.classify(err, "commit transaction")
	}
	return nil
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// registered lists every statement the repositories use (see register).
var registered []string

// register records a repository statement; Open prepares them all.
func register(query string) string {
	registered = append(registered, query)
	return query
}

// prepare creates a statement object for every registered query on both
// pools. It runs in Open, before any transaction holds a connection:
// database/sql then prepares each statement on a transaction's own
// connection the first time that connection uses it, and reuses it after.
func (s *Store) prepare(ctx context.Context) error {
	for _, db := range []*sql.DB{s.writer, s.reader} {
		for _, q := range registered {
			st, err := db.PrepareContext(ctx, s.q(q))
			if err != nil {
				return fmt.Errorf("prepare %q: %w", q, err)
			}
			s.stmts.Store(stmtKey{db, q}, st)
		}
	}
	return nil
}

// stmt returns the statement for query bound to the transaction, or nil for
// a query that was not registered (it then runs unprepared).
func (t *tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if v, ok := t.s.stmts.Load(stmtKey{t.db, query}); ok {
		if t.tx == nil {
			return v.(*sql.Stmt)
		}
		return t.tx.StmtContext(ctx, v.(*sql.Stmt))
	}
	return nil
}

// q returns the query text for this dialect (cached).
func (s *Store) q(query string) string {
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	r := s.dialect.rebind(query)
	s.queries.Store(query, r)
	return r
}

// classify turns driver errors into store sentinels.
func (s *Store) classify(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case s.dialect.isUniqueViolation(err):
		return store.ErrConflict
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errs.Wrap(err, what)
	}
	return errs.Wrap(err, what)
}

// querier is what *sql.Tx and *sql.DB share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn returns the transaction, or the pool for Read.
func (t *tx) conn() querier {
	if t.tx == nil {
		return t.db
	}
	return t.tx
}

// tx implements store.Tx over one *sql.Tx (or, for Read, no transaction:
// tx is nil and statements run on the pool db).
type tx struct {
	s  *Store
	db *sql.DB // the pool the transaction came from
	tx *sql.Tx
}

func (t *tx) exec(ctx context.Context, what, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if st := t.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = t.conn().ExecContext(ctx, t.s.q(query), args...)
	}
	if err != nil {
		return nil, t.s.classify(err, what)
	}
	return res, nil
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.conn().QueryRowContext(ctx, t.s.q(query), args...)
}

// countBy runs a "SELECT key, COUNT(*) … GROUP BY key" query into a map.
func (t *tx) countBy(ctx context.Context, what, query string, args ...any) (map[string]int, error) {
	rows, err := t.query(ctx, what, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return nil, t.s.classify(err, what)
		}
		out[key] = n
	}
	return out, t.s.classify(rows.Err(), what)
}

func (t *tx) query(ctx context.Context, what, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := t.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = t.conn().QueryContext(ctx, t.s.q(query), args...)
	}
	if err != nil {
		return nil, t.s.classify(err, what)
	}
	return rows, nil
}

func (t *tx) Meta() store.Meta                       { return metaRepo{t} }
func (t *tx) Accounts() store.Accounts               { return accountRepo{t} }
func (t *tx) AccessKeys() store.AccessKeys           { return accessKeyRepo{t} }
func (t *tx) CAs() store.CAs                         { return caRepo{t} }
func (t *tx) Certificates() store.Certificates       { return certRepo{t} }
func (t *tx) Tags() store.Tags                       { return tagRepo{t} }
func (t *tx) Idempotency() store.Idempotency         { return idemRepo{t} }
func (t *tx) Leases() store.Leases                   { return leaseRepo{t} }
func (t *tx) CRLs() store.CRLs                       { return crlRepo{t} }
func (t *tx) Sequences() store.Sequences             { return seqRepo{t} }
func (t *tx) OCSPResponders() store.OCSPResponders   { return responderRepo{t} }
func (t *tx) AuditReports() store.AuditReports       { return reportRepo{t} }
func (t *tx) ACMCertificates() store.ACMCertificates { return acmRepo{t} }
func (t *tx) AccountSettings() store.AccountSettings { return settingRepo{t} }
func (t *tx) Events() store.Events                   { return eventRepo{t} }
