package kms

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/scheduler"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/tagging"
)

var tagRules = tagging.Rules{Max: 50, InvalidCode: CodeTag, LimitCode: CodeTag, Noun: "KMS key"}

// CreateKeyInput is a CreateKey request.
type CreateKeyInput struct {
	Description string
	KeyUsage    string
	KeySpec     string
	Origin      string
	Policy      string
	MultiRegion bool
	Tags        []tagging.Tag
}

// awsEnums are the values AWS KMS accepts for CreateKey's enumerations:
// Sigil answers a value outside them with ValidationException, as AWS
// does, and a value in them it does not implement with
// UnsupportedOperationException.
var awsEnums = map[string][]string{
	"keyUsage": {"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"},
	"keySpec": {"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
		"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"},
	"origin": {"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"},
}

// CreateKey creates a symmetric encryption key.
func (s *Service) CreateKey(ctx context.Context, p iam.Principal, in CreateKeyInput) (*Key, error) {
	if len(in.Description) > MaxDescription {
		return nil, validation("description", "...", "Member must have length less than or equal to 8192")
	}
	for _, f := range []struct{ field, value, supported string }{
		{"keyUsage", in.KeyUsage, UsageEncryptDecrypt},
		{"keySpec", in.KeySpec, SpecSymmetric},
		{"origin", in.Origin, OriginAWS},
	} {
		if f.value == "" || f.value == f.supported {
			continue
		}
		known := awsEnums[f.field]
		if !slices.Contains(known, f.value) {
			return nil, validation(f.field, f.value, "Member must satisfy enum value set: ["+strings.Join(known, ", ")+"]")
		}
		return nil, errs.Coded(errs.Invalid, CodeUnsupported, "%s %s is not supported by Sigil; use %s.", strings.ToUpper(f.field[:1])+f.field[1:], f.value, f.supported)
	}
	if in.MultiRegion {
		return nil, errs.Coded(errs.Invalid, CodeUnsupported, "Multi-Region keys are not supported by Sigil.")
	}
	policy := in.Policy
	if policy == "" {
		policy = DefaultPolicy(p.Account)
	} else if err := checkPolicy(policy); err != nil {
		return nil, err
	}
	tags, err := tagRules.Merge(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "kms:CreateKey", Resource: "*"}); err != nil {
		return nil, err
	}
	var out *Key
	err = s.store.Update(ctx, func(tx store.Tx) error {
		k, err := s.insertKey(ctx, tx, p.Account, ManagerCustomer, in.Description, policy)
		if err != nil {
			return err
		}
		if len(tags) > 0 {
			if err := tx.Tags().Replace(ctx, k.ARN, tags); err != nil {
				return err
			}
		}
		out = toKey(k)
		return nil
	})
	return out, err
}

// DescribeKey returns a key's metadata.
func (s *Service) DescribeKey(ctx context.Context, p iam.Principal, keyID string) (*Key, error) {
	var out *Key
	err := s.withKey(ctx, p, "kms:DescribeKey", keyID, true, func(tx store.Tx, k *store.KMSKey) error {
		out = toKey(k)
		return nil
	})
	return out, err
}

// withKey resolves a key, authorizes the action on it and runs fn in a
// transaction (read-write when write).
func (s *Service) withKey(ctx context.Context, p iam.Principal, action, keyID string, write bool, fn func(store.Tx, *store.KMSKey) error) error {
	return s.withKeyEC(ctx, p, action, keyID, write, nil, fn)
}

// withKeyEC is withKey for a cryptographic operation with an encryption
// context, which key policies may test (kms:EncryptionContext:KEY).
func (s *Service) withKeyEC(ctx context.Context, p iam.Principal, action, keyID string, write bool, ec map[string]string, fn func(store.Tx, *store.KMSKey) error) error {
	run := s.store.View
	if write {
		run = s.store.Update
	}
	var changed string
	defer func() {
		if changed != "" {
			s.forget(changed)
		}
	}()
	return run(ctx, func(tx store.Tx) error {
		k, err := s.resolve(ctx, tx, p, keyID, write)
		if err != nil {
			return err
		}
		if err := s.authorizeKey(ctx, tx, p, k, action, ec); err != nil {
			return err
		}
		if write {
			changed = k.ID
		}
		return fn(tx, k)
	})
}

// KeyPage is a page of ListKeys.
type KeyPage struct {
	Keys       []*Key
	NextMarker string
}

func pageLimit(limit int) (int, error) {
	if limit == 0 {
		return 100, nil
	}
	if limit < 1 || limit > 1000 {
		return 0, validation("limit", limit, "Member must have value between 1 and 1000")
	}
	return limit, nil
}

// ListKeys lists the caller's keys, the AWS-managed ones included.
func (s *Service) ListKeys(ctx context.Context, p iam.Principal, limit int, marker string) (*KeyPage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	if marker != "" && !uuidRE.MatchString(marker) {
		return nil, errs.Coded(errs.Invalid, CodeInvalidMarker, "Invalid marker.")
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "kms:ListKeys", Resource: "*"}); err != nil {
		return nil, err
	}
	if err := s.EnsureManagedKeys(ctx, p.Account); err != nil {
		return nil, err
	}
	page := &KeyPage{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		ks, err := tx.KMSKeys().List(ctx, p.Account, marker, limit+1)
		if err != nil {
			return err
		}
		if len(ks) > limit {
			ks = ks[:limit]
			page.NextMarker = ks[limit-1].ID
		}
		for _, k := range ks {
			page.Keys = append(page.Keys, toKey(k))
		}
		return nil
	})
	return page, err
}

// Alias is an alias as ListAliases shows it.
type Alias struct {
	Name        string
	ARN         string
	TargetKeyID string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (s *Service) checkAliasName(name string) error {
	if len(name) < 1 || len(name) > 256 {
		return validation("aliasName", name, "Member must have length between 1 and 256")
	}
	if !aliasRE.MatchString(name) {
		return errs.Coded(errs.Invalid, CodeInvalidAliasName, "Alias %s must begin with alias/ and contain only letters, digits, /, _ and -.", name)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return errs.Coded(errs.Invalid, CodeInvalidAliasName, "Alias names beginning with alias/aws/ are reserved for AWS-managed keys.")
	}
	return nil
}

// targetKey resolves the key an alias should point at: a customer key of
// the caller's account, not pending deletion.
func (s *Service) targetKey(ctx context.Context, tx store.Tx, p iam.Principal, keyID string) (*store.KMSKey, error) {
	if strings.HasPrefix(keyID, "alias/") || aliasARNRE.MatchString(keyID) {
		return nil, errs.New(errs.Invalid, "An alias must point to a key, not to another alias: %s", keyID)
	}
	k, err := s.resolve(ctx, tx, p, keyID, false)
	if err != nil {
		return nil, err
	}
	if k.Account != p.Account {
		return nil, notFound("Key '%s' does not exist", keyID)
	}
	if k.KeyManager == ManagerAWS {
		return nil, errs.Coded(errs.Invalid, CodeUnsupported, "%s is an AWS managed key; aliases cannot point to it.", k.ARN)
	}
	if k.State == StatePendingDeletion {
		return nil, errs.Coded(errs.State, CodeInvalidState, "%s is pending deletion.", k.ARN)
	}
	return k, nil
}

// CreateAlias names a key.
func (s *Service) CreateAlias(ctx context.Context, p iam.Principal, name, keyID string) error {
	if err := s.checkAliasName(name); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		k, err := s.targetKey(ctx, tx, p, keyID)
		if err != nil {
			return err
		}
		if err := s.authz.Authorize(ctx, p, iam.Request{Action: "kms:CreateAlias", Resource: s.aliasARN(p.Account, name)}); err != nil {
			return err
		}
		if err := s.authorizeKey(ctx, tx, p, k, "kms:CreateAlias", nil); err != nil {
			return err
		}
		now := s.clock.Now()
		err = tx.KMSKeys().InsertAlias(ctx, &store.KMSAlias{Account: p.Account, Name: name, TargetKeyID: k.ID, CreatedAt: now, UpdatedAt: now})
		if errors.Is(err, store.ErrConflict) {
			return errs.Coded(errs.Conflict, CodeAlreadyExists, "An alias with the name %s already exists", s.aliasARN(p.Account, name))
		}
		return err
	})
}

// UpdateAlias points an alias at another key.
func (s *Service) UpdateAlias(ctx context.Context, p iam.Principal, name, keyID string) error {
	if err := s.checkAliasName(name); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		a, err := tx.KMSKeys().GetAlias(ctx, p.Account, name)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Alias %s is not found.", s.aliasARN(p.Account, name))
		} else if err != nil {
			return err
		}
		k, err := s.targetKey(ctx, tx, p, keyID)
		if err != nil {
			return err
		}
		if err := s.authz.Authorize(ctx, p, iam.Request{Action: "kms:UpdateAlias", Resource: s.aliasARN(p.Account, name)}); err != nil {
			return err
		}
		a.TargetKeyID, a.UpdatedAt = k.ID, s.clock.Now()
		return tx.KMSKeys().UpdateAlias(ctx, a)
	})
}

// DeleteAlias removes an alias (never the key).
func (s *Service) DeleteAlias(ctx context.Context, p iam.Principal, name string) error {
	if err := s.checkAliasName(name); err != nil {
		return err
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "kms:DeleteAlias", Resource: s.aliasARN(p.Account, name)}); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		err := tx.KMSKeys().DeleteAlias(ctx, p.Account, name)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Alias %s is not found.", s.aliasARN(p.Account, name))
		}
		return err
	})
}

// AliasPage is a page of ListAliases.
type AliasPage struct {
	Aliases    []*Alias
	NextMarker string
}

// ListAliases lists the caller's aliases (the AWS-managed ones included),
// only those of one key when keyID is set.
func (s *Service) ListAliases(ctx context.Context, p iam.Principal, keyID string, limit int, marker string) (*AliasPage, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	if marker != "" && !strings.HasPrefix(marker, "alias/") {
		return nil, errs.Coded(errs.Invalid, CodeInvalidMarker, "Invalid marker.")
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "kms:ListAliases", Resource: "*"}); err != nil {
		return nil, err
	}
	if err := s.EnsureManagedKeys(ctx, p.Account); err != nil {
		return nil, err
	}
	page := &AliasPage{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		id := ""
		if keyID != "" {
			k, err := s.resolve(ctx, tx, p, keyID, false)
			if err != nil {
				return err
			}
			id = k.ID
		}
		as, err := tx.KMSKeys().Aliases(ctx, p.Account, id, marker, limit+1)
		if err != nil {
			return err
		}
		if len(as) > limit {
			as = as[:limit]
			page.NextMarker = as[limit-1].Name
		}
		for _, a := range as {
			page.Aliases = append(page.Aliases, &Alias{Name: a.Name, ARN: s.aliasARN(a.Account, a.Name),
				TargetKeyID: a.TargetKeyID, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
		}
		return nil
	})
	return page, err
}

// Encrypt encrypts up to 4 KiB under a key.
func (s *Service) Encrypt(ctx context.Context, p iam.Principal, keyID string, plaintext []byte, ec map[string]string) (blob []byte, keyARN string, err error) {
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintext {
		return nil, "", validation("plaintext", "***", "Member must have length between 1 and 4096")
	}
	if err := checkContext(ec); err != nil {
		return nil, "", err
	}
	err = s.withKeyEC(ctx, p, "kms:Encrypt", keyID, true, ec, func(tx store.Tx, k *store.KMSKey) error {
		if err := usable(k); err != nil {
			return err
		}
		keyARN = k.ARN
		blob, err = s.seal(ctx, tx, k, plaintext, ec)
		return err
	})
	return blob, keyARN, err
}

// Decrypt decrypts a ciphertext blob with the encryption context it was
// made with. keyID, when given, must name the key the blob was made with.
func (s *Service) Decrypt(ctx context.Context, p iam.Principal, blob []byte, ec map[string]string, keyID string) (plaintext []byte, keyARN string, err error) {
	err = s.store.View(ctx, func(tx store.Tx) error {
		plaintext, keyARN, err = s.DecryptTx(ctx, tx, p, blob, ec, keyID)
		return err
	})
	return plaintext, keyARN, err
}

// DecryptTx is Decrypt inside a caller's transaction (for services that
// keep data keys next to their records).
func (s *Service) DecryptTx(ctx context.Context, tx store.Tx, p iam.Principal, blob []byte, ec map[string]string, keyID string) ([]byte, string, error) {
	if len(blob) == 0 {
		return nil, "", validation("ciphertextBlob", "", "Member must have length greater than or equal to 1")
	}
	id, err := blobKeyID(blob)
	if err != nil {
		return nil, "", err
	}
	k, err := s.cachedKeyGet(ctx, tx, id, blobMaterial(blob))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", invalidCiphertext()
	} else if err != nil {
		return nil, "", err
	}
	if keyID != "" {
		want, err := s.resolve(ctx, tx, p, keyID, false)
		if err != nil {
			return nil, "", err
		}
		if want.ID != k.ID {
			return nil, "", errs.Coded(errs.Invalid, CodeIncorrectKey, "The key ID in the request does not identify the key that encrypted the ciphertext.")
		}
	}
	if err := s.authorizeKey(ctx, tx, p, k, "kms:Decrypt", ec); err != nil {
		return nil, "", err
	}
	if err := usable(k); err != nil {
		return nil, "", err
	}
	pt, err := s.open(ctx, tx, k, blob, ec)
	return pt, k.ARN, err
}

// DataKeySize returns the length of a data key from a KeySpec or a
// NumberOfBytes (exactly one of them).
func DataKeySize(keySpec string, numberOfBytes int) (int, error) {
	switch {
	case keySpec != "" && numberOfBytes != 0:
		return 0, errs.New(errs.Invalid, "Please specify either number of bytes or key spec.")
	case keySpec == "AES_256":
		return 32, nil
	case keySpec == "AES_128":
		return 16, nil
	case keySpec != "":
		return 0, validation("keySpec", keySpec, "Member must satisfy enum value set: [AES_256, AES_128]")
	case numberOfBytes == 0:
		return 0, errs.New(errs.Invalid, "Please specify either number of bytes or key spec.")
	case numberOfBytes < 1 || numberOfBytes > 1024:
		return 0, validation("numberOfBytes", numberOfBytes, "Member must have value between 1 and 1024")
	}
	return numberOfBytes, nil
}

// GenerateDataKey returns a fresh data key in plaintext and encrypted
// under a key.
func (s *Service) GenerateDataKey(ctx context.Context, p iam.Principal, keyID string, ec map[string]string, size int, action string) (plaintext, blob []byte, keyARN string, err error) {
	err = s.store.Update(ctx, func(tx store.Tx) error {
		plaintext, blob, keyARN, err = s.GenerateDataKeyTx(ctx, tx, p, keyID, ec, size, action)
		return err
	})
	return plaintext, blob, keyARN, err
}

// GenerateDataKeyTx is GenerateDataKey inside a caller's read-write
// transaction. action is the IAM action authorized (kms:GenerateDataKey or
// kms:GenerateDataKeyWithoutPlaintext).
func (s *Service) GenerateDataKeyTx(ctx context.Context, tx store.Tx, p iam.Principal, keyID string, ec map[string]string, size int, action string) (plaintext, blob []byte, keyARN string, err error) {
	if err := checkContext(ec); err != nil {
		return nil, nil, "", err
	}
	k, err := s.resolve(ctx, tx, p, keyID, true)
	if err != nil {
		return nil, nil, "", err
	}
	if err := s.authorizeKey(ctx, tx, p, k, action, ec); err != nil {
		return nil, nil, "", err
	}
	if err := usable(k); err != nil {
		return nil, nil, "", err
	}
	plaintext = make([]byte, size)
	if _, err := io.ReadFull(s.rand, plaintext); err != nil {
		return nil, nil, "", errs.Wrap(err, "generate data key")
	}
	blob, err = s.seal(ctx, tx, k, plaintext, ec)
	if err != nil {
		return nil, nil, "", err
	}
	return plaintext, blob, k.ARN, nil
}

// ReEncrypt decrypts a blob and encrypts its plaintext under another key
// (or the same key's current material) and context, without returning it.
func (s *Service) ReEncrypt(ctx context.Context, p iam.Principal, blob []byte, srcEC map[string]string, srcKeyID, dstKeyID string, dstEC map[string]string) (out []byte, srcARN, dstARN string, err error) {
	if dstKeyID == "" {
		return nil, "", "", errs.New(errs.Invalid, "1 validation error detected: Value null at 'destinationKeyId' failed to satisfy constraint: Member must not be null")
	}
	if err := checkContext(dstEC); err != nil {
		return nil, "", "", err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		pt, src, err := s.DecryptTx(ctx, tx, p, blob, srcEC, srcKeyID)
		if err != nil {
			return err
		}
		defer clear(pt)
		dst, err := s.resolve(ctx, tx, p, dstKeyID, true)
		if err != nil {
			return err
		}
		if err := s.authorizeKey(ctx, tx, p, dst, "kms:ReEncryptTo", dstEC); err != nil {
			return err
		}
		if err := usable(dst); err != nil {
			return err
		}
		srcARN, dstARN = src, dst.ARN
		out, err = s.seal(ctx, tx, dst, pt, dstEC)
		return err
	})
	return out, srcARN, dstARN, err
}

// GenerateRandom returns n random bytes (1-1024).
func (s *Service) GenerateRandom(ctx context.Context, p iam.Principal, n int) ([]byte, error) {
	if n < 1 || n > 1024 {
		return nil, validation("numberOfBytes", n, "Member must have value between 1 and 1024")
	}
	if err := s.authz.Authorize(ctx, p, iam.Request{Action: "kms:GenerateRandom", Resource: "*"}); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, errs.Wrap(err, "generate random")
	}
	return b, nil
}

// change runs a state change on a customer-managed key.
func (s *Service) change(ctx context.Context, p iam.Principal, action, keyID string, fn func(k *store.KMSKey, now time.Time) error) (*Key, error) {
	var out *Key
	err := s.withKey(ctx, p, action, keyID, true, func(tx store.Tx, k *store.KMSKey) error {
		if k.KeyManager == ManagerAWS {
			return errs.Coded(errs.Invalid, CodeUnsupported, "%s is an AWS managed key; %s is not allowed on it.", k.ARN, strings.TrimPrefix(action, "kms:"))
		}
		now := s.clock.Now()
		before := k.State
		if err := fn(k, now); err != nil {
			return err
		}
		if err := tx.KMSKeys().Update(ctx, k); err != nil {
			return err
		}
		out = toKey(k)
		if k.State != before {
			detail := map[string]string{"key-id": k.ID, "previousState": before, "state": k.State}
			if !k.DeletionAt.IsZero() {
				detail["deletionDate"] = k.DeletionAt.UTC().Format(events.TimeFormat)
			}
			return events.Publish(ctx, tx, events.SourceKMS, events.KMSStateChange, k.Account, s.region, now, []string{k.ARN}, detail)
		}
		return nil
	})
	return out, err
}

func pendingDeletion(k *store.KMSKey) error {
	if k.State == StatePendingDeletion {
		return errs.Coded(errs.State, CodeInvalidState, "%s is pending deletion.", k.ARN)
	}
	return nil
}

// EnableKey makes a disabled key usable again.
func (s *Service) EnableKey(ctx context.Context, p iam.Principal, keyID string) error {
	_, err := s.change(ctx, p, "kms:EnableKey", keyID, func(k *store.KMSKey, _ time.Time) error {
		if err := pendingDeletion(k); err != nil {
			return err
		}
		k.State = StateEnabled
		return nil
	})
	return err
}

// DisableKey stops a key from encrypting and decrypting; what it protects
// becomes unreadable until it is enabled again.
func (s *Service) DisableKey(ctx context.Context, p iam.Principal, keyID string) error {
	_, err := s.change(ctx, p, "kms:DisableKey", keyID, func(k *store.KMSKey, _ time.Time) error {
		if err := pendingDeletion(k); err != nil {
			return err
		}
		k.State = StateDisabled
		return nil
	})
	return err
}

// ScheduleKeyDeletion schedules a key's deletion after a waiting period of
// 7-30 days (default 30) and returns the key.
func (s *Service) ScheduleKeyDeletion(ctx context.Context, p iam.Principal, keyID string, days int) (*Key, error) {
	if days == 0 {
		days = defaultDeletionWindow
	}
	if days < 7 || days > 30 {
		return nil, validation("pendingWindowInDays", days, "Member must have value between 7 and 30")
	}
	return s.change(ctx, p, "kms:ScheduleKeyDeletion", keyID, func(k *store.KMSKey, now time.Time) error {
		if err := pendingDeletion(k); err != nil {
			return err
		}
		k.State, k.DeletionAt = StatePendingDeletion, now.AddDate(0, 0, days)
		return nil
	})
}

// CancelKeyDeletion stops a scheduled deletion; the key stays disabled.
func (s *Service) CancelKeyDeletion(ctx context.Context, p iam.Principal, keyID string) (*Key, error) {
	return s.change(ctx, p, "kms:CancelKeyDeletion", keyID, func(k *store.KMSKey, _ time.Time) error {
		if k.State != StatePendingDeletion {
			return errs.Coded(errs.State, CodeInvalidState, "%s is not pending deletion.", k.ARN)
		}
		k.State, k.DeletionAt = StateDisabled, time.Time{}
		return nil
	})
}

// GetKeyPolicy returns a key's policy (its only policy is "default").
func (s *Service) GetKeyPolicy(ctx context.Context, p iam.Principal, keyID, name string) (string, error) {
	if err := checkPolicyName(name); err != nil {
		return "", err
	}
	var policy string
	err := s.withKey(ctx, p, "kms:GetKeyPolicy", keyID, false, func(_ store.Tx, k *store.KMSKey) error {
		policy = s.keyPolicy(k)
		return nil
	})
	return policy, err
}

func checkPolicyName(name string) error {
	if name != "" && name != "default" {
		return notFound("No such policy exists: %s. The only valid policy name is default.", name)
	}
	return nil
}

// PutKeyPolicy replaces a key's policy. It is stored and checked here;
// the access-control layer enforces it.
func (s *Service) PutKeyPolicy(ctx context.Context, p iam.Principal, keyID, name, policy string) error {
	if err := checkPolicyName(name); err != nil {
		return err
	}
	if policy == "" {
		return errs.New(errs.Invalid, "1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null")
	}
	if err := checkPolicy(policy); err != nil {
		return err
	}
	_, err := s.change(ctx, p, "kms:PutKeyPolicy", keyID, func(k *store.KMSKey, _ time.Time) error {
		if err := pendingDeletion(k); err != nil {
			return err
		}
		k.Policy = policy
		return nil
	})
	return err
}

// RotationStatus is GetKeyRotationStatus's answer.
type RotationStatus struct {
	KeyID          string
	Enabled        bool
	PeriodDays     int
	NextRotationAt time.Time
}

// EnableKeyRotation turns on yearly (or every periodDays, 90-2560)
// rotation of a key's material.
func (s *Service) EnableKeyRotation(ctx context.Context, p iam.Principal, keyID string, periodDays int) error {
	if periodDays == 0 {
		periodDays = DefaultRotationPeriod
	}
	if periodDays < 90 || periodDays > 2560 {
		return validation("rotationPeriodInDays", periodDays, "Member must have value between 90 and 2560")
	}
	_, err := s.change(ctx, p, "kms:EnableKeyRotation", keyID, func(k *store.KMSKey, now time.Time) error {
		if err := usable(k); err != nil {
			return err
		}
		if !k.RotationEnabled || k.RotationPeriodDays != periodDays {
			base := now
			if !k.LastRotatedAt.IsZero() {
				base = k.LastRotatedAt
			}
			k.NextRotationAt = base.AddDate(0, 0, periodDays)
			if k.NextRotationAt.Before(now) {
				k.NextRotationAt = now
			}
		}
		k.RotationEnabled, k.RotationPeriodDays = true, periodDays
		return nil
	})
	return err
}

// DisableKeyRotation turns automatic rotation off.
func (s *Service) DisableKeyRotation(ctx context.Context, p iam.Principal, keyID string) error {
	_, err := s.change(ctx, p, "kms:DisableKeyRotation", keyID, func(k *store.KMSKey, _ time.Time) error {
		if err := usable(k); err != nil {
			return err
		}
		k.RotationEnabled, k.NextRotationAt = false, time.Time{}
		return nil
	})
	return err
}

// GetKeyRotationStatus reports whether a key rotates, and when next.
func (s *Service) GetKeyRotationStatus(ctx context.Context, p iam.Principal, keyID string) (*RotationStatus, error) {
	var out *RotationStatus
	err := s.withKey(ctx, p, "kms:GetKeyRotationStatus", keyID, false, func(_ store.Tx, k *store.KMSKey) error {
		if err := pendingDeletion(k); err != nil {
			return err
		}
		out = &RotationStatus{KeyID: k.ARN, Enabled: k.RotationEnabled, PeriodDays: k.RotationPeriodDays, NextRotationAt: k.NextRotationAt}
		if !k.RotationEnabled {
			out.PeriodDays, out.NextRotationAt = 0, time.Time{}
		}
		return nil
	})
	return out, err
}

// RotateKeyOnDemand adds a new generation of material now.
func (s *Service) RotateKeyOnDemand(ctx context.Context, p iam.Principal, keyID string) (string, error) {
	var arn string
	err := s.withKey(ctx, p, "kms:RotateKeyOnDemand", keyID, true, func(tx store.Tx, k *store.KMSKey) error {
		if k.KeyManager == ManagerAWS {
			return errs.Coded(errs.Invalid, CodeUnsupported, "%s is an AWS managed key; it rotates on its own schedule.", k.ARN)
		}
		if err := usable(k); err != nil {
			return err
		}
		arn = k.ARN
		return s.rotate(ctx, tx, k, s.clock.Now(), false)
	})
	return arn, err
}

// rotate adds a generation of material and makes it current. Only a
// scheduled rotation moves the schedule: as on AWS, rotating on demand
// leaves the next automatic rotation where it was.
func (s *Service) rotate(ctx context.Context, tx store.Tx, k *store.KMSKey, now time.Time, scheduled bool) error {
	n := k.CurrentMaterial + 1
	if err := s.addMaterial(ctx, tx, k, n, now); err != nil {
		return err
	}
	k.CurrentMaterial, k.LastRotatedAt = n, now
	if scheduled {
		k.NextRotationAt = now.AddDate(0, 0, k.RotationPeriodDays)
	}
	if err := tx.KMSKeys().Update(ctx, k); err != nil {
		return err
	}
	return events.Publish(ctx, tx, events.SourceKMS, events.KMSRotation, k.Account, s.region, now, []string{k.ARN},
		map[string]string{"key-id": k.ID})
}

// RotateDue rotates the keys whose rotation date has come and returns how
// many.
func (s *Service) RotateDue(ctx context.Context, fence scheduler.Fence) (int, error) {
	now := s.clock.Now()
	return scheduler.EachDue(ctx, s.store, fence,
		func(tx store.Tx) ([]string, error) { return tx.KMSKeys().RotationDue(ctx, now, 100) },
		func(tx store.Tx, id string) (bool, error) {
			defer s.forget(id)
			k, err := tx.KMSKeys().Get(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			} else if err != nil {
				return false, err
			}
			if !k.RotationEnabled || k.NextRotationAt.IsZero() || k.NextRotationAt.After(now) {
				return false, nil
			}
			if k.State != StateEnabled {
				// A disabled key does not rotate; look again in a day.
				k.NextRotationAt = now.Add(24 * time.Hour)
				return false, tx.KMSKeys().Update(ctx, k)
			}
			return true, s.rotate(ctx, tx, k, now, true)
		})
}

// DeleteDue deletes the keys whose waiting period has ended, with their
// material: what they protected can never be decrypted again.
func (s *Service) DeleteDue(ctx context.Context, fence scheduler.Fence) (int, error) {
	now := s.clock.Now()
	return scheduler.EachDue(ctx, s.store, fence,
		func(tx store.Tx) ([]string, error) { return tx.KMSKeys().DeletionDue(ctx, now, 100) },
		func(tx store.Tx, id string) (bool, error) {
			defer s.forget(id)
			k, err := tx.KMSKeys().Get(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			} else if err != nil {
				return false, err
			}
			if k.State != StatePendingDeletion || k.DeletionAt.After(now) {
				return false, nil
			}
			if err := tx.Tags().Replace(ctx, k.ARN, nil); err != nil {
				return false, err
			}
			s.log.Info("deleted KMS key", "key", k.ARN)
			if err := tx.KMSKeys().Delete(ctx, id); err != nil {
				return false, err
			}
			return true, events.Publish(ctx, tx, events.SourceKMS, events.KMSDeletion, k.Account, s.region, now, []string{k.ARN},
				map[string]string{"key-id": k.ID})
		})
}

// TagResource adds tags to a key.
func (s *Service) TagResource(ctx context.Context, p iam.Principal, keyID string, tags []tagging.Tag) error {
	return s.withKey(ctx, p, "kms:TagResource", keyID, true, func(tx store.Tx, k *store.KMSKey) error {
		if k.KeyManager == ManagerAWS {
			return errs.Coded(errs.Invalid, CodeUnsupported, "%s is an AWS managed key; it cannot be tagged.", k.ARN)
		}
		if err := pendingDeletion(k); err != nil {
			return err
		}
		cur, err := tx.Tags().List(ctx, k.ARN)
		if err != nil {
			return err
		}
		next, err := tagRules.Merge(cur, tags)
		if err != nil {
			return err
		}
		if err := tx.Tags().Replace(ctx, k.ARN, next); err != nil {
			return err
		}
		return tx.KMSKeys().Update(ctx, k) // a new row version: cached tags are stale
	})
}

// UntagResource removes tags from a key.
func (s *Service) UntagResource(ctx context.Context, p iam.Principal, keyID string, keys []string) error {
	return s.withKey(ctx, p, "kms:UntagResource", keyID, true, func(tx store.Tx, k *store.KMSKey) error {
		if err := pendingDeletion(k); err != nil {
			return err
		}
		cur, err := tx.Tags().List(ctx, k.ARN)
		if err != nil {
			return err
		}
		next, err := tagRules.Remove(cur, keys)
		if err != nil {
			return err
		}
		if err := tx.Tags().Replace(ctx, k.ARN, next); err != nil {
			return err
		}
		return tx.KMSKeys().Update(ctx, k)
	})
}

// ListResourceTags returns a key's tags.
func (s *Service) ListResourceTags(ctx context.Context, p iam.Principal, keyID string) ([]store.Tag, error) {
	var tags []store.Tag
	err := s.withKey(ctx, p, "kms:ListResourceTags", keyID, false, func(tx store.Tx, k *store.KMSKey) (err error) {
		tags, err = tx.Tags().List(ctx, k.ARN)
		return err
	})
	return tags, err
}
