package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Hidden replaces every secret value in a record, as CloudTrail does.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// secretFieldSuffixes name the fields whose values are never recorded,
// matched case-insensitively against the end of a field name (so
// "Password" also covers "RandomPassword", and "PrivateKey"
// "EncryptedPrivateKey"), at any depth of a request or response.
var secretFieldSuffixes = []string{
	"secretstring", "secretbinary", "plaintext", "privatekey", "passphrase", "secretaccesskey", "enrollmenttoken",
	"sessiontoken", "password", "signingsecret", "keymaterial", "apikeyvalue",
}

// maxString bounds a recorded string value; longer ones (certificate
// chains of a few megabytes) are replaced by their size and SHA-256.
const maxString = 16 << 10

// SecretField reports whether a field's value must be hidden.
func SecretField(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range secretFieldSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// pemBase64 is "-----BEGIN" in base64 (the start of a base64-encoded PEM
// blob, as ImportCertificate's fields are).
const pemBase64 = "LS0tLS1CRUdJTi"

// privateKeyValue reports whether a string holds a PEM private key, as
// text or base64-encoded.
func privateKeyValue(s string) bool {
	if strings.Contains(s, "PRIVATE KEY") && strings.Contains(s, "-----BEGIN") {
		return true
	}
	if strings.HasPrefix(s, pemBase64) {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return bytes.Contains(b, []byte("PRIVATE KEY"))
		}
	}
	return false
}

// Redact returns a request or response body as recorded: secret fields and
// private keys replaced by Hidden at any depth, over-long strings
// summarized, and field names in CloudTrail's lowerCamelCase (except the
// keys of free-form maps such as EncryptionContext). It returns nil (JSON
// null) for an empty body or an empty object, and for a body that is not
// JSON.
func Redact(raw []byte) json.RawMessage {
	out, _ := redactBody(raw)
	return out
}

// redactBody is Redact, also returning the body's top-level object as
// decoded (unredacted: for reading resource names, never for storing).
func redactBody(raw []byte) (json.RawMessage, map[string]any) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "{}" || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nil
	}
	out, err := marshal(redactValue(v, false))
	if err != nil {
		return nil, nil
	}
	top, _ := v.(map[string]any)
	return out, top
}

func redactValue(v any, keepKeys bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			name := k
			if !keepKeys {
				name = lowerFirst(k)
			}
			switch {
			case val == nil:
				out[name] = nil
			case SecretField(k):
				out[name] = Hidden
			default:
				out[name] = redactValue(val, strings.HasSuffix(k, "Context"))
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = redactValue(val, false)
		}
		return out
	case string:
		if privateKeyValue(x) {
			return Hidden
		}
		if len(x) > maxString {
			sum := sha256.Sum256([]byte(x))
			return fmt.Sprintf("(%d bytes, sha256:%s)", len(x), hex.EncodeToString(sum[:]))
		}
		return x
	default:
		return v
	}
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+('a'-'A')) + s[1:]
}

// marshal encodes JSON without HTML escaping and without a newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
