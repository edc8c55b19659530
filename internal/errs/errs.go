// Package errs defines the one error type that crosses layer boundaries in
// Sigil: a neutral Kind for the broad class of failure, an optional precise
// Code understood by the front ends, a client-safe message, and an internal
// cause that is logged but never shown to clients.
//
// Domain code returns *Error values; each wire adapter owns a single table
// that maps a Kind or Code to its protocol (AWS __type and HTTP status, ACME
// problem document, plain HTTP status).
package errs

import (
	"errors"
	"fmt"
)

// Kind is the broad class of an error, independent of any wire protocol.
type Kind uint8

// Kinds. The zero value, Internal, is the safe default for errors that were
// not classified.
const (
	Internal        Kind = iota // a fault on our side; details are logged, not returned
	Invalid                     // the request is malformed or violates a rule
	NotFound                    // the named resource does not exist (for this caller)
	Conflict                    // the resource already exists, or a concurrent change won
	State                       // the resource is in a state that forbids the action
	Denied                      // the caller is authenticated but not allowed
	Unauthenticated             // the caller could not be authenticated
	Limit                       // a quota or rate limit was reached
	Unavailable                 // a dependency is temporarily unavailable; retry later
)

var kindNames = [...]string{
	Internal:        "internal",
	Invalid:         "invalid",
	NotFound:        "not found",
	Conflict:        "conflict",
	State:           "invalid state",
	Denied:          "denied",
	Unauthenticated: "unauthenticated",
	Limit:           "limit exceeded",
	Unavailable:     "unavailable",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Code is a precise, protocol-neutral reason within a Kind, such as
// "MalformedCSR". Adapters may map a Code to a more specific wire error; an
// unknown Code falls back to the Kind's mapping.
type Code string

// Error is Sigil's error. Msg is safe to show to the client; Err is the
// internal cause and is never rendered to clients.
type Error struct {
	Kind Kind
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Kind.String()
	}
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind with a client-visible message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Coded returns an error with a precise code and a client-visible message.
func Coded(kind Kind, code Code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an Internal error whose cause is err. The message shown to
// clients is generic; msg and err go to the log only. A nil err yields nil.
// If err already is an *Error it is returned unchanged, so classification made
// deeper in the stack survives.
func Wrap(err error, msg string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: Internal, Err: fmt.Errorf("%s: %w", msg, err)}
}

// KindOf reports the Kind of err: the Kind of the first *Error in its chain,
// or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// CodeOf reports the Code of the first *Error in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Message returns the client-safe message of err. Internal errors, and errors
// that are not *Error, never expose their text: the caller gets fallback.
func Message(err error, fallback string) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal && e.Msg != "" {
		return e.Msg
	}
	return fallback
}
