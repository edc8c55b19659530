package sqlstore

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect hides the few differences between the SQL engines.
type dialect interface {
	name() string
	// rebind rewrites a query for the engine: '?' placeholders, and the
	// /*FOR UPDATE*/ marker (a row lock where the engine has row locks).
	rebind(query string) string
	isUniqueViolation(err error) bool
	// isRetryable reports a transient conflict (serialization failure,
	// deadlock): the transaction may simply run again.
	isRetryable(err error) bool
}

type sqliteDialect struct{}

func (sqliteDialect) name() string               { return "sqlite" }
func (sqliteDialect) rebind(q string) string     { return q } // one writer: no row locks needed
func (sqliteDialect) isRetryable(err error) bool { return false }
func (sqliteDialect) isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// rebindDollar rewrites '?' to $1, $2, ... outside string literals.
func rebindDollar(q string) string {
	var b strings.Builder
	n := 0
	inString := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inString = !inString
			b.WriteByte(c)
		case c == '?' && !inString:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

func (postgresDialect) rebind(q string) string {
	return rebindDollar(strings.ReplaceAll(q, "/*FOR UPDATE*/", "FOR UPDATE"))
}

func (postgresDialect) isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

func (postgresDialect) isRetryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
}
