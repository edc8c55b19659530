package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"time"

	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/store"
)

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// AssumeRoleInput asks for temporary credentials of a role.
type AssumeRoleInput struct {
	RoleARN         string
	SessionName     string
	DurationSeconds int // 900 to the role's maximum; default 3600
	Tags            map[string]string
	ExternalID      string
}

// SessionCredentials are the temporary credentials of a role session. The
// secret and token are returned only here.
type SessionCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	AssumedRoleID   string // AROA...:SESSION
	AssumedRoleARN  string // arn:aws:sts::A:assumed-role/ROLE/SESSION
}

// AssumeRole issues temporary credentials for a role when its trust policy
// (and, for a caller of another account or a trust policy naming only the
// account, the caller's identity policies) allow sts:AssumeRole.
func (s *Service) AssumeRole(ctx context.Context, p Principal, in AssumeRoleInput) (*SessionCredentials, error) {
	if !sessionNameRE.MatchString(in.SessionName) {
		return nil, invalid("RoleSessionName must be 2 to 64 letters, digits or +=,.@_-.")
	}
	if in.DurationSeconds == 0 {
		in.DurationSeconds = 3600
	}
	if in.DurationSeconds < 900 || in.DurationSeconds > 43200 {
		return nil, invalid("DurationSeconds must be between 900 and 43200.")
	}
	if len(in.Tags) > MaxTags {
		return nil, invalid("A session can have at most %d tags.", MaxTags)
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	var out *SessionCredentials
	err := s.store.Update(ctx, func(tx store.Tx) error {
		deny := denied(p, Request{Action: "sts:AssumeRole", Resource: in.RoleARN})
		role, err := tx.IAM().GetPrincipal(ctx, in.RoleARN)
		if errors.Is(err, store.ErrNotFound) || (err == nil && role.Kind != KindRole) {
			return deny // as on AWS: a missing role is indistinguishable from a refusal
		} else if err != nil {
			return err
		}
		roleTags, err := tagMap(ctx, tx, role.ARN)
		if err != nil {
			return err
		}
		c := tagContext(in.Tags)
		if c == nil {
			c = map[string][]string{}
		}
		c["sts:RoleSessionName"] = []string{in.SessionName}
		if in.ExternalID != "" {
			c["sts:ExternalId"] = []string{in.ExternalID}
		}
		req := Request{Action: "sts:AssumeRole", Resource: role.ARN, ResourcePolicy: role.TrustPolicy, Trust: true,
			ResourceTags: roleTags, Context: c}
		if err := s.Authorize(ctx, p, req); err != nil {
			return err
		}
		if len(in.Tags) > 0 {
			req.Action = "sts:TagSession"
			if err := s.Authorize(ctx, p, req); err != nil {
				return err
			}
		}
		limit := role.MaxSessionSeconds
		if p.Type == PrincipalAssumedRole {
			limit = 3600 // role chaining: at most one hour, as on AWS
		}
		if in.DurationSeconds > limit {
			return invalid("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		}
		out, err = s.newSession(ctx, tx, p, role, in)
		return err
	})
	return out, err
}

func (s *Service) newSession(ctx context.Context, tx store.Tx, p Principal, role *store.IAMPrincipal, in AssumeRoleInput) (*SessionCredentials, error) {
	suffix, err := randomString(base32Upper, 16)
	if err != nil {
		return nil, err
	}
	id := "ASIA" + suffix
	_, secret, err := NewAccessKey()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 96)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := base64.StdEncoding.EncodeToString(raw)
	sealed, err := s.sealer.Seal([]byte(secret), sessionContext(id))
	if err != nil {
		return nil, err
	}
	tags := in.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	tagJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	expires := now.Add(time.Duration(in.DurationSeconds) * time.Second).Truncate(time.Second)
	if err := tx.IAM().InsertSession(ctx, &store.IAMSession{AccessKeyID: id, Account: role.Account, RoleARN: role.ARN,
		SessionName: in.SessionName, SourceARN: p.ARN, SecretSealed: sealed, TokenHash: TokenHash(token), Tags: tagJSON,
		ExpiresAt: expires, CreatedAt: now}); err != nil {
		return nil, err
	}
	return &SessionCredentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, Expiration: expires,
		AssumedRoleID: role.UniqueID + ":" + in.SessionName, AssumedRoleARN: sessionARN(role, in.SessionName)}, nil
}

// DeleteExpiredSessions removes sessions whose credentials have expired
// (a scheduler job).
func (s *Service) DeleteExpiredSessions(ctx context.Context, fence scheduler.Fence) (int, error) {
	n := 0
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		if err := fence(tx); err != nil {
			return err
		}
		n, err = tx.IAM().DeleteExpiredSessions(ctx, s.clock.Now().Add(-time.Minute), 500)
		return err
	})
	return n, err
}
