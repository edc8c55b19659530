package awsjson

import (
	"net/http"

	"github.com/sigilhq/sigil/internal/errs"
)

// ErrorTable maps Sigil errors to one service's wire errors: first by the
// error's precise code, then by its kind.
type ErrorTable struct {
	ByCode       map[errs.Code]string
	ByKind       map[errs.Kind]string
	MessageField string // "message" (default) or "Message"
}

// protocolCodes are produced by this package itself and pass through
// unchanged for every service.
var protocolCodes = map[errs.Code]bool{
	codeMissingToken: true, codeIncomplete: true, codeInvalidSig: true, codeUnrecognized: true,
	"UnknownOperationException": true, "SerializationException": true, "ExpiredTokenException": true,
}

var defaultTable = ErrorTable{}

// Common fallbacks shared by every service.
var commonKinds = map[errs.Kind]string{
	errs.Invalid:         "ValidationException",
	errs.Denied:          "AccessDeniedException",
	errs.Unauthenticated: codeUnrecognized,
	errs.Limit:           "LimitExceededException",
	errs.Unavailable:     "ServiceUnavailable",
	errs.Internal:        "InternalFailure",
}

func (t ErrorTable) lookup(err error) (code string, status int) {
	kind, c := errs.KindOf(err), errs.CodeOf(err)
	switch {
	case c == "AccessDenied":
		code = "AccessDeniedException"
	case c == "UnrecognizedClient":
		code = codeUnrecognized
	case c == "RequestEntityTooLarge":
		return "RequestEntityTooLargeException", http.StatusRequestEntityTooLarge
	case protocolCodes[c]:
		code = string(c)
	case t.ByCode[c] != "":
		code = t.ByCode[c]
	case t.ByKind[kind] != "":
		code = t.ByKind[kind]
	default:
		code = commonKinds[kind]
	}
	if code == "" {
		code = "InternalFailure"
	}
	switch kind {
	case errs.Internal:
		status = http.StatusInternalServerError
	case errs.Unavailable:
		status = http.StatusServiceUnavailable
	default:
		status = http.StatusBadRequest
	}
	return code, status
}

// Lookup returns the wire error code and HTTP status of err in this table
// (for answers that report several errors inside a success, such as
// BatchGetSecretValue).
func (t ErrorTable) Lookup(err error) (code string, status int) { return t.lookup(err) }
