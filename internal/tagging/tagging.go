// Package tagging validates and merges resource tags the way AWS services
// do (keys 1-128 and values 0-256 characters of a fixed alphabet, "aws:"
// reserved, a per-resource maximum). Each service supplies its own error
// codes and limit.
package tagging

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// Tag is a tag in a request; a nil Value means the empty string (or, when
// removing, any value).
type Tag struct {
	Key   string
	Value *string
}

// Rules are one service's tag limits and error codes.
type Rules struct {
	Max         int       // tags per resource
	InvalidCode errs.Code // a malformed key or value
	LimitCode   errs.Code // too many tags
	Noun        string    // "secret", "key", ...
}

var tagRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// Validate checks one tag (its value too when withValue).
func (r Rules) Validate(t Tag, withValue bool) error {
	if n := utf8.RuneCountInString(t.Key); n < 1 || n > 128 || !tagRE.MatchString(t.Key) {
		return errs.Coded(errs.Invalid, r.InvalidCode, "Tag key %q must be 1 to 128 characters of letters, digits, spaces and _.:/=+-@.", t.Key)
	}
	if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
		return errs.Coded(errs.Invalid, r.InvalidCode, "Tag keys beginning with aws: are reserved.")
	}
	if withValue && t.Value != nil {
		if n := utf8.RuneCountInString(*t.Value); n > 256 || !tagRE.MatchString(*t.Value) {
			return errs.Coded(errs.Invalid, r.InvalidCode, "Tag value for key %q must be at most 256 characters of letters, digits, spaces and _.:/=+-@.", t.Key)
		}
	}
	return nil
}

// Merge adds tags to existing ones (a key given again takes the new value)
// and checks the limit. The result is ordered by key.
func (r Rules) Merge(existing []store.Tag, add []Tag) ([]store.Tag, error) {
	m := map[string]string{}
	for _, t := range existing {
		m[t.Key] = t.Value
	}
	for _, t := range add {
		if err := r.Validate(t, true); err != nil {
			return nil, err
		}
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		m[t.Key] = v
	}
	if len(m) > r.Max {
		return nil, errs.Coded(errs.Limit, r.LimitCode, "A %s can have at most %d tags.", r.Noun, r.Max)
	}
	out := make([]store.Tag, 0, len(m))
	for k, v := range m {
		out = append(out, store.Tag{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Remove drops the tags with the given keys.
func (r Rules) Remove(existing []store.Tag, keys []string) ([]store.Tag, error) {
	drop := map[string]bool{}
	for _, k := range keys {
		if err := r.Validate(Tag{Key: k}, false); err != nil {
			return nil, err
		}
		drop[k] = true
	}
	out := existing[:0:0]
	for _, t := range existing {
		if !drop[t.Key] {
			out = append(out, t)
		}
	}
	return out, nil
}
