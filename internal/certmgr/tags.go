package certmgr

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Tag is a label on a certificate. In removal requests a nil Value matches
// any value.
type Tag struct {
	Key   string
	Value *string
}

var tagRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func validateTag(t Tag) error {
	if n := utf8.RuneCountInString(t.Key); n < 1 || n > 128 || !tagRE.MatchString(t.Key) {
		return errs.Coded(errs.Invalid, CodeInvalidTag, "Tag key %q must be 1 to 128 characters of letters, digits, spaces and _.:/=+-@.", t.Key)
	}
	if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
		return errs.Coded(errs.Invalid, CodeInvalidTag, "Tag keys beginning with aws: are reserved.")
	}
	if t.Value != nil {
		if n := utf8.RuneCountInString(*t.Value); n > 256 || !tagRE.MatchString(*t.Value) {
			return errs.Coded(errs.Invalid, CodeInvalidTag, "Tag value for key %q must be at most 256 characters of letters, digits, spaces and _.:/=+-@.", t.Key)
		}
	}
	return nil
}

func validateTags(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return err
		}
		if seen[t.Key] {
			return errs.Coded(errs.Invalid, CodeInvalidParameter, "The tag key %q is given twice.", t.Key)
		}
		seen[t.Key] = true
	}
	if len(tags) > MaxTags {
		return errs.Coded(errs.Invalid, CodeTooManyTags, "A certificate can have at most %d tags.", MaxTags)
	}
	return nil
}

func storeTags(tags []Tag) []store.Tag {
	out := make([]store.Tag, 0, len(tags))
	for _, t := range tags {
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		out = append(out, store.Tag{Key: t.Key, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// AddTags adds or replaces tags on a certificate.
func (s *Service) AddTags(ctx context.Context, p iam.Principal, arn string, tags []Tag) error {
	if len(tags) == 0 {
		return validation("tags", "[]", "Member must have length greater than or equal to 1")
	}
	if err := validateTags(tags); err != nil {
		return err
	}
	return s.changeTags(ctx, p, "acm:AddTagsToCertificate", arn, func(cur []store.Tag) ([]store.Tag, error) {
		m := map[string]string{}
		for _, t := range cur {
			m[t.Key] = t.Value
		}
		for _, t := range storeTags(tags) {
			m[t.Key] = t.Value
		}
		if len(m) > MaxTags {
			return nil, errs.Coded(errs.Invalid, CodeTooManyTags, "A certificate can have at most %d tags; this would make %d.", MaxTags, len(m))
		}
		out := make([]store.Tag, 0, len(m))
		for k, v := range m {
			out = append(out, store.Tag{Key: k, Value: v})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
		return out, nil
	})
}

// RemoveTags removes tags. A tag given with a value is removed only if the
// stored value matches; one given without a value is removed whatever its
// value.
func (s *Service) RemoveTags(ctx context.Context, p iam.Principal, arn string, tags []Tag) error {
	if len(tags) == 0 {
		return validation("tags", "[]", "Member must have length greater than or equal to 1")
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return err
		}
	}
	return s.changeTags(ctx, p, "acm:RemoveTagsFromCertificate", arn, func(cur []store.Tag) ([]store.Tag, error) {
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
	id, err := s.authorizeARN(ctx, p, action, arn)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := s.load(ctx, tx, arn, id); err != nil {
			return err
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

// ListTags returns a certificate's tags ordered by key.
func (s *Service) ListTags(ctx context.Context, p iam.Principal, arn string) ([]store.Tag, error) {
	id, err := s.authorizeARN(ctx, p, "acm:ListTagsForCertificate", arn)
	if err != nil {
		return nil, err
	}
	var tags []store.Tag
	err = s.store.View(ctx, func(tx store.Tx) error {
		if _, err := s.load(ctx, tx, arn, id); err != nil {
			return err
		}
		tags, err = tx.Tags().List(ctx, arn)
		return err
	})
	return tags, err
}

// Delete removes a certificate and its key. A certificate in use cannot be
// deleted.
func (s *Service) Delete(ctx context.Context, p iam.Principal, arn string) error {
	id, err := s.authorizeARN(ctx, p, "acm:DeleteCertificate", arn)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		c, err := s.load(ctx, tx, arn, id)
		if err != nil {
			return err
		}
		if len(c.InUseBy) > 0 {
			return errs.Coded(errs.Conflict, CodeInUse, "The certificate %s is in use by %s; it cannot be deleted until no resource uses it.", arn, strings.Join(c.InUseBy, ", "))
		}
		if err := tx.ACMCertificates().Delete(ctx, id); err != nil {
			return err
		}
		return tx.Tags().Replace(ctx, arn, nil)
	})
	if err == nil {
		s.log.Info("certificate deleted", "arn", arn, "by", p.ARN)
	}
	return err
}

// SetInUse records which resources use a certificate (the deployment agent
// reports this). A certificate in use is eligible for managed renewal and
// cannot be deleted.
func (s *Service) SetInUse(ctx context.Context, p iam.Principal, arn string, users []string) error {
	id, err := s.authorizeARN(ctx, p, "acm:UpdateCertificateUsage", arn)
	if err != nil {
		return err
	}
	users = append([]string{}, users...)
	sort.Strings(users)
	now := s.clock.Now()
	days, err := s.daysBeforeExpiry(ctx, iam.AccountOf(arn))
	if err != nil {
		return err
	}
	return s.mutate(ctx, arn, id, func(tx store.Tx, c *store.ACMCertificate) error {
		c.InUseBy = users
		schedule(c, days, now)
		return nil
	})
}

// AccountConfiguration is ACM's per-account configuration.
type AccountConfiguration struct {
	DaysBeforeExpiry int
}

// GetAccountConfiguration returns the caller's account configuration.
func (s *Service) GetAccountConfiguration(ctx context.Context, p iam.Principal) (*AccountConfiguration, error) {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm:GetAccountConfiguration", Resource: "*"}); err != nil {
		return nil, err
	}
	days, err := s.daysBeforeExpiry(ctx, p.Account)
	if err != nil {
		return nil, err
	}
	return &AccountConfiguration{DaysBeforeExpiry: days}, nil
}

// PutAccountConfiguration sets how many days before expiry the daily
// approaching-expiration events start, and reschedules every certificate
// of the account accordingly.
func (s *Service) PutAccountConfiguration(ctx context.Context, p iam.Principal, token string, days *int) error {
	if token == "" {
		return required("idempotencyToken")
	}
	if !tokenRE.MatchString(token) {
		return validation("idempotencyToken", token, `Member must satisfy regular expression pattern: \w+ (1 to 32 characters)`)
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm:PutAccountConfiguration", Resource: "*"}); err != nil {
		return err
	}
	if days == nil {
		return nil // nothing to change
	}
	if *days < 1 {
		return validation("expiryEvents.daysBeforeExpiry", *days, "Member must have value greater than or equal to 1")
	}
	if *days > 3650 {
		return validation("expiryEvents.daysBeforeExpiry", *days, "Member must have value less than or equal to 3650")
	}
	cur, err := s.daysBeforeExpiry(ctx, p.Account)
	if err != nil {
		return err
	}
	if cur == *days {
		return nil // unchanged: keep the schedule (no second event today)
	}
	now := s.clock.Now()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.AccountSettings().Put(ctx, p.Account, settingDaysBeforeExp, strconv.Itoa(*days)); err != nil {
			return err
		}
		return tx.ACMCertificates().RescheduleExpiryEvents(ctx, p.Account, time.Duration(*days)*24*time.Hour, now)
	})
	if errorsIsStale(err) {
		return errs.Coded(errs.Conflict, CodeConflict, "The account configuration was changed by another request; retry.")
	}
	return err
}
