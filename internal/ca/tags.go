package ca

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

var tagRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func validateTag(t Tag, withValue bool) error {
	if n := utf8.RuneCountInString(t.Key); n < 1 || n > 128 || !tagRE.MatchString(t.Key) {
		return errs.Coded(errs.Invalid, CodeInvalidTag, "Tag key %q must be 1 to 128 characters of letters, digits, spaces and _.:/=+-@.", t.Key)
	}
	if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
		return errs.Coded(errs.Invalid, CodeInvalidTag, "Tag keys beginning with aws: are reserved.")
	}
	if withValue && t.Value != nil {
		if n := utf8.RuneCountInString(*t.Value); n > 256 || !tagRE.MatchString(*t.Value) {
			return errs.Coded(errs.Invalid, CodeInvalidTag, "Tag value for key %q must be at most 256 characters of letters, digits, spaces and _.:/=+-@.", t.Key)
		}
	}
	return nil
}

// mergeTags adds tags to existing ones (same key: new value wins) and checks
// the count.
func mergeTags(existing []store.Tag, add []Tag) ([]store.Tag, error) {
	m := map[string]string{}
	for _, t := range existing {
		m[t.Key] = t.Value
	}
	for _, t := range add {
		if err := validateTag(t, true); err != nil {
			return nil, err
		}
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		m[t.Key] = v
	}
	if len(m) > MaxTags {
		return nil, errs.Coded(errs.Invalid, CodeTooManyTags, "A certificate authority can have at most %d tags.", MaxTags)
	}
	out := make([]store.Tag, 0, len(m))
	for k, v := range m {
		out = append(out, store.Tag{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Tag adds or replaces tags on a CA.
func (s *Service) Tag(ctx context.Context, p iam.Principal, arn string, tags []Tag) error {
	if len(tags) == 0 {
		return validation("tags", "[]", "Member must have length greater than or equal to 1")
	}
	return s.changeTags(ctx, p, "acm-pca:TagCertificateAuthority", arn, func(cur []store.Tag) ([]store.Tag, error) {
		return mergeTags(cur, tags)
	})
}

// Untag removes tags. A tag given with a value is removed only if the stored
// value matches; one given without a value is removed whatever its value.
func (s *Service) Untag(ctx context.Context, p iam.Principal, arn string, tags []Tag) error {
	if len(tags) == 0 {
		return validation("tags", "[]", "Member must have length greater than or equal to 1")
	}
	for _, t := range tags {
		if err := validateTag(t, true); err != nil {
			return err
		}
	}
	return s.changeTags(ctx, p, "acm-pca:UntagCertificateAuthority", arn, func(cur []store.Tag) ([]store.Tag, error) {
		out := cur[:0:0]
	next:
		for _, c := range cur {
			for _, t := range tags {
				if t.Key == c.Key && (t.Value == nil || *t.Value == c.Value) {
					continue next
				}
			}
			out = append(out, c)
		}
		return out, nil
	})
}

func (s *Service) changeTags(ctx context.Context, p iam.Principal, action, arn string, change func([]store.Tag) ([]store.Tag, error)) error {
	_, id, err := s.parseCAARN(arn)
	if err != nil {
		return err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: action, Resource: arn}); err != nil {
		return err
	}
	defer s.forgetPolicy(id) // the tags feed aws:ResourceTag conditions
	return s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := s.loadCA(ctx, tx, id, arn)
		if err != nil {
			return err
		}
		if Status(rec.Status) == Deleted {
			return invalidState("The certificate authority %s is deleted; restore it to change its tags.", arn)
		}
		cur, err := tx.Tags().List(ctx, arn)
		if err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		return tx.Tags().Replace(ctx, arn, next)
	})
}

// TagPage is one page of tags.
type TagPage struct {
	Tags      []store.Tag
	NextToken string
}

// ListTags returns the tags of a CA, paginated.
func (s *Service) ListTags(ctx context.Context, p iam.Principal, arn string, maxResults int, nextToken string) (*TagPage, error) {
	_, id, err := s.parseCAARN(arn)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeCA(ctx, p, id, iam.Request{Action: "acm-pca:ListTags", Resource: arn}); err != nil {
		return nil, err
	}
	if maxResults == 0 {
		maxResults = 1000
	}
	if maxResults < 1 || maxResults > 1000 {
		return nil, validation("maxResults", maxResults, "Member must have value between 1 and 1000")
	}
	offset, err := decodeOffsetToken(nextToken, arn)
	if err != nil {
		return nil, err
	}
	var tags []store.Tag
	err = s.store.View(ctx, func(tx store.Tx) error {
		rec, err := s.loadCA(ctx, tx, id, arn)
		if err != nil {
			return err
		}
		if Status(rec.Status) == Deleted {
			return invalidState("The certificate authority %s is deleted.", arn)
		}
		tags, err = tx.Tags().List(ctx, arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	page := &TagPage{}
	if offset > len(tags) {
		offset = len(tags)
	}
	end := min(offset+maxResults, len(tags))
	page.Tags = tags[offset:end]
	if end < len(tags) {
		page.NextToken = encodeOffsetToken(end, arn)
	}
	return page, nil
}
