package ca

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// CreateInput describes a new CA.
type CreateInput struct {
	Type                       Type
	Config                     Config
	Revocation                 *RevocationConfig
	UsageMode                  string
	KeyStorageSecurityStandard string
	Tags                       []Tag
	IdempotencyToken           string
}

func (in *CreateInput) validate() error {
	if in.Type != Root && in.Type != Subordinate {
		return enumValidation("certificateAuthorityType", string(in.Type), []string{"ROOT", "SUBORDINATE"})
	}
	c := &in.Config
	if c.KeyAlgorithm == "" {
		return required("certificateAuthorityConfiguration.keyAlgorithm")
	}
	if !c.KeyAlgorithm.Valid() {
		names := make([]string, len(pki.KeyAlgorithms))
		for i, k := range pki.KeyAlgorithms {
			names[i] = string(k)
		}
		return invalidArgs("KeyAlgorithm %s is not supported; use one of %v.", c.KeyAlgorithm, names)
	}
	if c.SigningAlgorithm == "" {
		return required("certificateAuthorityConfiguration.signingAlgorithm")
	}
	if !c.SigningAlgorithm.Valid() {
		return invalidArgs("SigningAlgorithm %s is not supported.", c.SigningAlgorithm)
	}
	if !c.SigningAlgorithm.CompatibleWith(c.KeyAlgorithm) {
		return invalidArgs("SigningAlgorithm %s cannot be used with KeyAlgorithm %s.", c.SigningAlgorithm, c.KeyAlgorithm)
	}
	if c.Subject.IsEmpty() {
		return invalidArgs("The CA subject must have at least one attribute.")
	}
	if err := c.Subject.Validate(); err != nil {
		return invalidArgs("%s", capitalize(err.Error()))
	}
	if e := c.CSRExtensions; e != nil && len(e.SubjectInformationAccess) > 0 {
		if _, err := pki.MarshalSubjectInfoAccess(e.SubjectInformationAccess); err != nil {
			return invalidArgs("SubjectInformationAccess: %v", err)
		}
	}
	if err := in.Revocation.validate(); err != nil {
		return err
	}
	if in.UsageMode == "" {
		in.UsageMode = GeneralPurpose
	}
	if in.UsageMode != GeneralPurpose && in.UsageMode != ShortLivedCertificate {
		return enumValidation("usageMode", in.UsageMode, []string{GeneralPurpose, ShortLivedCertificate})
	}
	if in.KeyStorageSecurityStandard == "" {
		in.KeyStorageSecurityStandard = DefaultKeyStorage
	}
	if !slices.Contains(keyStorageStandards, in.KeyStorageSecurityStandard) {
		return enumValidation("keyStorageSecurityStandard", in.KeyStorageSecurityStandard, keyStorageStandards)
	}
	if err := validateToken(in.IdempotencyToken); err != nil {
		return err
	}
	for _, t := range in.Tags {
		if err := validateTag(t, true); err != nil {
			return err
		}
	}
	return nil
}

func validateToken(tok string) error {
	if len(tok) > 36 {
		return validation("idempotencyToken", tok, "Member must have length less than or equal to 36")
	}
	for _, r := range tok {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '*') {
			return validation("idempotencyToken", tok, "Member must satisfy regular expression pattern: [*-~]*")
		}
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func fingerprint(v any) []byte {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return h[:]
}

// Create makes a new CA: it generates the key pair and the CSR, and stores
// the CA in PENDING_CERTIFICATE. It returns the CA's ARN.
func (s *Service) Create(ctx context.Context, p iam.Principal, in CreateInput) (string, error) {
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm-pca:CreateCertificateAuthority", Resource: "*"}); err != nil {
		return "", err
	}
	if err := in.validate(); err != nil {
		return "", err
	}
	now := s.clock.Now()
	scope := "acm-pca:CreateCertificateAuthority:" + p.Account
	fp := fingerprint(in)
	if in.IdempotencyToken != "" {
		if arn, err := s.idempotent(ctx, scope, in.IdempotencyToken, fp); arn != "" || err != nil {
			return arn, err
		}
	}

	id := uuid.NewString()
	arn := s.caARN(p.Account, id)
	ref, signer, err := s.keys.Create(ctx, in.Config.KeyAlgorithm, arn)
	if err != nil {
		return "", errs.Wrap(err, "create CA key")
	}
	var ku *pki.KeyUsage
	var sia []pki.AccessDescription
	if e := in.Config.CSRExtensions; e != nil {
		ku, sia = e.KeyUsage, e.SubjectInformationAccess
	}
	csr, err := pki.CreateCSR(&in.Config.Subject, in.Config.SigningAlgorithm, signer, ku, sia)
	if err != nil {
		s.keys.Destroy(ctx, ref, arn)
		return "", invalidArgs("The CA's CSR cannot be created: %v", err)
	}
	config, err := json.Marshal(in.Config)
	if err != nil {
		return "", errs.Wrap(err, "encode CA config")
	}
	var revocation []byte
	if in.Revocation != nil {
		revocation, _ = json.Marshal(in.Revocation)
	}
	rec := &store.CA{
		ID: id, ARN: arn, Account: p.Account, Type: string(in.Type), Status: string(PendingCertificate),
		UsageMode: in.UsageMode, KeyStorageSecurityStandard: in.KeyStorageSecurityStandard,
		Config: config, RevocationConfig: revocation, KeyRef: ref, CSR: csr,
		CreatedAt: now, LastStateChangeAt: now,
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return "", err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if in.IdempotencyToken != "" {
			if err := tx.Idempotency().Put(ctx, &store.IdempotencyRecord{Scope: scope, Token: in.IdempotencyToken,
				Fingerprint: fp, Result: arn, ExpiresAt: now.Add(IdempotencyWindow)}, now); err != nil {
				return err
			}
		}
		if err := s.checkCAQuota(ctx, tx, p.Account); err != nil {
			return err
		}
		if err := tx.CAs().Insert(ctx, rec); err != nil {
			return err
		}
		if err := events.Publish(ctx, tx, events.SourcePCA, events.PCACreation, p.Account, s.opts.Region, now,
			[]string{arn}, map[string]string{"result": "success"}); err != nil {
			return err
		}
		return tx.Tags().Replace(ctx, arn, tags)
	})
	if err != nil {
		s.keys.Destroy(ctx, ref, arn)
		if errors.Is(err, store.ErrConflict) && in.IdempotencyToken != "" {
			// A concurrent request with the same token won the race.
			return s.idempotent(ctx, scope, in.IdempotencyToken, fp)
		}
		return "", err
	}
	s.log.InfoContext(ctx, "certificate authority created", "arn", arn, "type", in.Type,
		"key_algorithm", in.Config.KeyAlgorithm)
	return arn, nil
}

func (s *Service) checkCAQuota(ctx context.Context, tx store.Tx, account string) error {
	n, err := tx.CAs().CountByAccount(ctx, account)
	if err != nil {
		return err
	}
	if n >= s.opts.MaxCAsPerAccount {
		return errs.New(errs.Limit, "The account has reached its limit of %d certificate authorities (deleted ones count until they are purged).",
			s.opts.MaxCAsPerAccount)
	}
	return nil
}

// idempotent returns the result recorded for (scope, token) if the request
// fingerprint matches, "" if there is no live record, or an error if the
// token was used with other parameters.
func (s *Service) idempotent(ctx context.Context, scope, token string, fp []byte) (string, error) {
	var rec *store.IdempotencyRecord
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		rec, err = tx.Idempotency().Get(ctx, scope, token, s.clock.Now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if string(rec.Fingerprint) != string(fp) {
		return "", invalidArgs("The idempotency token %q was used within the last %v for a request with other parameters.",
			token, IdempotencyWindow)
	}
	return rec.Result, nil
}
