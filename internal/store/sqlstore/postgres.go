package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// PostgreSQL. Several Sigil nodes may share one database: there is a single
// connection pool for reads and writes (PostgreSQL handles concurrent
// writers), updates run at READ COMMITTED with optimistic version checks and
// are retried on serialization failures and deadlocks, and reads run at
// REPEATABLE READ so a View sees one snapshot. Migrations take an advisory
// lock, so nodes starting together migrate once.

// migrationLockID is the pg_advisory_lock key that serializes migrations.
const migrationLockID = 0x5167696c // "Sigl"

// defaultPGConns is the connection pool size when the URL sets none.
const defaultPGConns = 16

func openPostgres(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", err)
	}
	conns := defaultPGConns
	if opts.ReadConns > 0 && opts.ReadConns != 8 {
		conns = opts.ReadConns
	}
	q := u.Query()
	if v := q.Get("pool_max_conns"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("store URL: pool_max_conns must be a positive number, not %q", v)
		}
		conns = n
		q.Del("pool_max_conns") // a Sigil option, not a PostgreSQL parameter
		u.RawQuery = q.Encode()
	}
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{dialect: postgresDialect{}, writer: db, reader: db}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL %s: %w", redact(u), err)
	}
	if err := s.migrateLocked(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// migrateLocked runs the migrations while holding a session-level advisory
// lock, so that of several nodes starting together one migrates and the
// others find the work done.
func (s *Store) migrateLocked(ctx context.Context) error {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockID)
	return s.migrateOn(ctx, conn)
}

// runPostgres runs fn in a transaction, again if PostgreSQL reports a
// serialization failure or deadlock (the store.Store contract allows fn to
// run more than once).
func (s *Store) runPostgres(ctx context.Context, readOnly bool, fn func(store.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: readOnly}
	if readOnly {
		opts.Isolation = sql.LevelRepeatableRead
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errs.Wrap(ctx.Err(), "retry transaction")
			case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
			}
		}
		err = s.runOnce(ctx, s.writer, opts, fn)
		if !s.dialect.isRetryable(err) {
			return err
		}
	}
	return err
}

// redact hides the password of a URL for messages.
func redact(u *url.URL) string {
	c := *u
	if _, ok := c.User.Password(); ok {
		c.User = url.UserPassword(c.User.Username(), "xxxxx")
	}
	return c.String()
}
