package pki

import (
	"fmt"
	"strings"
)

// Finding is one failed lint.
type Finding struct {
	Lint    string
	Status  string
	Details string
}

func (f Finding) String() string {
	if f.Details != "" {
		return fmt.Sprintf("%s (%s: %s)", f.Lint, f.Status, f.Details)
	}
	return fmt.Sprintf("%s (%s)", f.Lint, f.Status)
}

// LintError reports that a certificate would break RFC 5280 or related
// rules; linters return it so that callers can tell a refused certificate
// from a failure of the linter itself.
type LintError struct {
	Findings []Finding
}

func (e *LintError) Error() string {
	msgs := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		msgs[i] = f.String()
	}
	return "the certificate would violate RFC 5280: " + strings.Join(msgs, "; ")
}
