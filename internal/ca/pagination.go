package ca

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
)

// Pagination tokens are opaque to clients: base64 of a small JSON document
// that names the listing it belongs to (Scope, a hash), so a token cannot be
// replayed against another listing.
type pageToken struct {
	Scope  string `json:"s"`
	Offset int    `json:"o,omitempty"`
	After  int64  `json:"t,omitempty"` // created-at cursor, microseconds
	ID     string `json:"i,omitempty"`
}

func scopeHash(scope string) string {
	h := sha256.Sum256([]byte(scope))
	return hex.EncodeToString(h[:8])
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s, scope string) (*pageToken, error) {
	if s == "" {
		return nil, nil
	}
	bad := errs.Coded(errs.Invalid, CodeInvalidNextToken, "The token %q is not a valid pagination token for this request.", s)
	if len(s) > 500 {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var t pageToken
	if json.Unmarshal(raw, &t) != nil || t.Scope != scopeHash(scope) || t.Offset < 0 {
		return nil, bad
	}
	return &t, nil
}

func encodeOffsetToken(offset int, scope string) string {
	return encodeToken(pageToken{Scope: scopeHash(scope), Offset: offset})
}

func decodeOffsetToken(s, scope string) (int, error) {
	t, err := decodeToken(s, scope)
	if err != nil || t == nil {
		return 0, err
	}
	return t.Offset, nil
}

func encodeCursorToken(scope string, after time.Time, id string) string {
	return encodeToken(pageToken{Scope: scopeHash(scope), After: after.UnixMicro(), ID: id})
}
