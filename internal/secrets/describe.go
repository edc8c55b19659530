package secrets

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Description is a secret's metadata, as DescribeSecret and ListSecrets
// show it.
type Description struct {
	ARN               string
	Name              string
	Description       string
	KMSKeyID          string
	RotationEnabled   bool
	RotationLambdaARN string
	RotationRules     *RotationRules
	LastRotatedDate   time.Time
	LastChangedDate   time.Time
	LastAccessedDate  time.Time
	DeletedDate       time.Time
	NextRotationDate  time.Time
	CreatedDate       time.Time
	Tags              []store.Tag
	VersionsToStages  map[string][]string
}

func (s *Service) describe(ctx context.Context, tx store.Tx, sec *store.Secret) (*Description, error) {
	d := &Description{ARN: sec.ARN, Name: sec.Name, Description: sec.Description, KMSKeyID: sec.KMSKeyID,
		RotationEnabled: sec.RotationEnabled, RotationLambdaARN: sec.RotationLambdaARN,
		LastRotatedDate: sec.LastRotatedAt, LastChangedDate: sec.LastChangedAt, LastAccessedDate: sec.LastAccessedAt,
		DeletedDate: sec.DeletedAt, CreatedDate: sec.CreatedAt, VersionsToStages: map[string][]string{}}
	if sec.RotationEnabled {
		d.NextRotationDate = sec.NextRotationAt
	}
	if len(sec.RotationRules) > 0 {
		var r RotationRules
		if err := json.Unmarshal(sec.RotationRules, &r); err != nil {
			return nil, errs.Wrap(err, "decode rotation rules")
		}
		d.RotationRules = &r
	}
	var err error
	if d.Tags, err = tx.Tags().List(ctx, sec.ARN); err != nil {
		return nil, err
	}
	stages, err := tx.Secrets().Stages(ctx, sec.ID)
	if err != nil {
		return nil, err
	}
	for l, v := range stages {
		d.VersionsToStages[v] = append(d.VersionsToStages[v], l)
	}
	for _, ls := range d.VersionsToStages {
		sortLabels(ls)
	}
	return d, nil
}

// sortLabels orders labels as AWS shows them: AWSCURRENT, AWSPREVIOUS,
// AWSPENDING, then custom labels by name.
func sortLabels(ls []string) {
	rank := func(l string) int {
		switch l {
		case StageCurrent:
			return 0
		case StagePrevious:
			return 1
		case StagePending:
			return 2
		}
		return 3
	}
	slices.SortFunc(ls, func(a, b string) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

// Describe returns a secret's metadata (also of a secret scheduled for
// deletion).
func (s *Service) Describe(ctx context.Context, p iam.Principal, secretID string) (*Description, error) {
	var out *Description
	err := s.store.View(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:DescribeSecret", secretID)
		if err != nil {
			return err
		}
		out, err = s.describe(ctx, tx, sec)
		return err
	})
	return out, err
}

// ListInput is a ListSecrets request.
type ListInput struct {
	IncludePlannedDeletion bool
	MaxResults             int
	NextToken              string
	Filters                []store.SecretFilter
	SortBy                 string // created-date (default), name, last-changed-date, last-accessed-date
	SortOrder              string // asc (default) or desc
}

// Page is one page of secrets.
type Page struct {
	Secrets   []*Description
	NextToken string
}

var sortColumns = map[string]string{"": "created_at", "created-date": "created_at", "name": "name",
	"last-changed-date": "last_changed_at", "last-accessed-date": "last_accessed_at"}

type listToken struct {
	Sort  string `json:"s"`
	Desc  bool   `json:"d,omitempty"`
	Str   string `json:"v,omitempty"`
	Micro int64  `json:"t,omitempty"`
	ID    string `json:"i"`
}

// CheckFilters validates ListSecrets filters as AWS does.
func CheckFilters(fs []store.SecretFilter) error {
	if len(fs) > 10 {
		return validation("filters", len(fs), "Member must have length less than or equal to 10")
	}
	for _, f := range fs {
		switch f.Key {
		case "name", "description", "tag-key", "tag-value", "all":
		case "primary-region", "owning-service":
			return invalidParameter("Filter key %s is not supported by Sigil (there is no replication and no managing service).", f.Key)
		default:
			return validation("filters.member.key", f.Key, "Member must satisfy enum value set: [description, name, tag-key, tag-value, primary-region, owning-service, all]")
		}
		if len(f.Values) == 0 || len(f.Values) > 10 {
			return validation("filters.member.values", len(f.Values), "Member must have length between 1 and 10")
		}
		for _, v := range f.Values {
			if len(v) > 512 {
				return validation("filters.member.values", v, "Member must have length less than or equal to 512")
			}
		}
	}
	return nil
}

// ParseFilterValues splits AWS's "!" negation off filter values: a filter
// whose values all start with "!" matches secrets that match none of them.
func ParseFilterValues(key string, values []string) store.SecretFilter {
	f := store.SecretFilter{Key: key}
	neg := len(values) > 0
	for _, v := range values {
		if !strings.HasPrefix(v, "!") {
			neg = false
		}
	}
	for _, v := range values {
		if neg {
			v = strings.TrimPrefix(v, "!")
		}
		f.Values = append(f.Values, v)
	}
	f.Negate = neg
	return f
}

// List returns a page of the caller's secrets.
func (s *Service) List(ctx context.Context, p iam.Principal, in ListInput) (*Page, error) {
	if in.MaxResults == 0 {
		in.MaxResults = 100
	}
	if in.MaxResults < 1 || in.MaxResults > 100 {
		return nil, validation("maxResults", in.MaxResults, "Member must have value between 1 and 100")
	}
	col, ok := sortColumns[in.SortBy]
	if !ok {
		return nil, validation("sortBy", in.SortBy, "Member must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]")
	}
	if in.SortOrder != "" && in.SortOrder != "asc" && in.SortOrder != "desc" {
		return nil, validation("sortOrder", in.SortOrder, "Member must satisfy enum value set: [asc, desc]")
	}
	if err := CheckFilters(in.Filters); err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "secretsmanager:ListSecrets", Resource: "*"}); err != nil {
		return nil, err
	}
	q := store.SecretQuery{Account: p.Account, IncludeDeleted: in.IncludePlannedDeletion, Filters: in.Filters,
		SortBy: col, Desc: in.SortOrder == "desc", Limit: in.MaxResults + 1}
	if in.NextToken != "" {
		var t listToken
		raw, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || json.Unmarshal(raw, &t) != nil || t.Sort != col || t.Desc != q.Desc || t.ID == "" {
			return nil, errs.Coded(errs.Invalid, CodeInvalidNextToken, "The NextToken value is not valid for this request.")
		}
		q.After = &store.SecretCursor{ID: t.ID, Value: t.Str}
		if col != "name" {
			q.After.Value = time.UnixMicro(t.Micro).UTC()
		}
	}
	page := &Page{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		secs, err := tx.Secrets().Query(ctx, q)
		if err != nil {
			return err
		}
		if len(secs) > in.MaxResults {
			secs = secs[:in.MaxResults]
			last := secs[len(secs)-1]
			t := listToken{Sort: col, Desc: q.Desc, ID: last.ID}
			switch col {
			case "name":
				t.Str = last.Name
			case "created_at":
				t.Micro = last.CreatedAt.UnixMicro()
			case "last_changed_at":
				t.Micro = microOrZero(last.LastChangedAt)
			case "last_accessed_at":
				t.Micro = microOrZero(last.LastAccessedAt)
			}
			b, _ := json.Marshal(t)
			page.NextToken = base64.RawURLEncoding.EncodeToString(b)
		}
		for _, sec := range secs {
			d, err := s.describe(ctx, tx, sec)
			if err != nil {
				return err
			}
			page.Secrets = append(page.Secrets, d)
		}
		return nil
	})
	return page, err
}

func microOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// VersionEntry is one line of ListSecretVersionIds.
type VersionEntry struct {
	VersionID        string
	Stages           []string
	CreatedDate      time.Time
	LastAccessedDate time.Time
	KMSKeyIDs        []string
}

// VersionPage is a page of ListSecretVersionIds.
type VersionPage struct {
	ARN       string
	Name      string
	Versions  []VersionEntry
	NextToken string
}

// ListVersions lists a secret's versions, newest first; versions without
// labels only with includeDeprecated.
func (s *Service) ListVersions(ctx context.Context, p iam.Principal, secretID string, maxResults int, nextToken string, includeDeprecated bool) (*VersionPage, error) {
	if maxResults == 0 {
		maxResults = 100
	}
	if maxResults < 1 || maxResults > 100 {
		return nil, validation("maxResults", maxResults, "Member must have value between 1 and 100")
	}
	offset := 0
	if nextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(nextToken)
		var t struct{ O int }
		if err != nil || json.Unmarshal(raw, &t) != nil || t.O < 1 {
			return nil, errs.Coded(errs.Invalid, CodeInvalidNextToken, "The NextToken value is not valid for this request.")
		}
		offset = t.O
	}
	out := &VersionPage{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		sec, err := s.access(ctx, tx, p, "secretsmanager:ListSecretVersionIds", secretID)
		if err != nil {
			return err
		}
		out.ARN, out.Name = sec.ARN, sec.Name
		vs, err := tx.Secrets().Versions(ctx, sec.ID)
		if err != nil {
			return err
		}
		var all []VersionEntry
		for _, v := range vs {
			if len(v.Stages) == 0 && !includeDeprecated {
				continue
			}
			sortLabels(v.Stages)
			e := VersionEntry{VersionID: v.VersionID, Stages: v.Stages, CreatedDate: v.CreatedAt, LastAccessedDate: v.LastAccessedAt}
			if v.KMSKeyARN != "" {
				e.KMSKeyIDs = []string{v.KMSKeyARN}
			}
			all = append(all, e)
		}
		if offset > len(all) {
			return errs.Coded(errs.Invalid, CodeInvalidNextToken, "The NextToken value is not valid for this request.")
		}
		end := min(offset+maxResults, len(all))
		out.Versions = all[offset:end]
		if end < len(all) {
			b, _ := json.Marshal(struct{ O int }{end})
			out.NextToken = base64.RawURLEncoding.EncodeToString(b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PasswordInput is a GetRandomPassword request.
type PasswordInput struct {
	Length                  int // default 32
	ExcludeCharacters       string
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	ExcludeUppercase        bool
	ExcludeLowercase        bool
	IncludeSpace            bool
	RequireEachIncludedType *bool // default true
}

const (
	lowers      = "abcdefghijklmnopqrstuvwxyz"
	uppers      = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits      = "0123456789"
	punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// RandomPassword generates a password from a cryptographic source.
func RandomPassword(in PasswordInput) (string, error) {
	n := in.Length
	if n == 0 {
		n = 32
	}
	if n < 1 || n > 4096 {
		return "", validation("passwordLength", n, "Member must have value between 1 and 4096")
	}
	if len(in.ExcludeCharacters) > 4096 {
		return "", validation("excludeCharacters", "...", "Member must have length less than or equal to 4096")
	}
	keep := func(set string) string {
		var b strings.Builder
		for _, r := range set {
			if !strings.ContainsRune(in.ExcludeCharacters, r) {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	var classes []string
	add := func(exclude bool, set string) {
		if !exclude {
			if k := keep(set); k != "" {
				classes = append(classes, k)
			}
		}
	}
	add(in.ExcludeLowercase, lowers)
	add(in.ExcludeUppercase, uppers)
	add(in.ExcludeNumbers, digits)
	add(in.ExcludePunctuation, punctuation)
	add(!in.IncludeSpace, " ")
	if len(classes) == 0 {
		return "", invalidParameter("The password has no characters to choose from: every character type is excluded.")
	}
	require := in.RequireEachIncludedType == nil || *in.RequireEachIncludedType
	if require && n < len(classes) {
		return "", invalidParameter("The password length %d is too short to include each of the %d included character types.", n, len(classes))
	}
	all := strings.Join(classes, "")
	pick := func(set string) (byte, error) {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, errs.Wrap(err, "random password")
		}
		return set[i.Int64()], nil
	}
	out := make([]byte, n)
	for i := range out {
		c, err := pick(all)
		if err != nil {
			return "", err
		}
		out[i] = c
	}
	if require {
		// Put one character of each class at distinct random positions.
		pos := make([]int, n)
		for i := range pos {
			pos[i] = i
		}
		for i := n - 1; i > 0; i-- {
			j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
			if err != nil {
				return "", errs.Wrap(err, "random password")
			}
			pos[i], pos[j.Int64()] = pos[j.Int64()], pos[i]
		}
		for k, set := range classes {
			c, err := pick(set)
			if err != nil {
				return "", err
			}
			out[pos[k]] = c
		}
	}
	return string(out), nil
}

// GetRandomPassword authorizes and generates a password.
func (s *Service) GetRandomPassword(ctx context.Context, p iam.Principal, in PasswordInput) (string, error) {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "secretsmanager:GetRandomPassword", Resource: "*"}); err != nil {
		return "", err
	}
	return RandomPassword(in)
}
