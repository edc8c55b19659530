// Package kms is Sigil's key management service: symmetric keys whose
// material never leaves the server, aliases, envelope encryption with an
// encryption context bound as associated data, key rotation that keeps old
// material for decryption, and the AWS-managed keys other services use
// (aws/secretsmanager, aws/acm). It is the domain behind the KMS API.
package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Key states, managers and the one key type this subset supports, spelled
// as KMS spells them.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"

	ManagerAWS      = "AWS"
	ManagerCustomer = "CUSTOMER"

	SpecSymmetric       = "SYMMETRIC_DEFAULT"
	UsageEncryptDecrypt = "ENCRYPT_DECRYPT"
	OriginAWS           = "AWS_KMS"
	AlgorithmSymmetric  = "SYMMETRIC_DEFAULT"

	AliasSecretsManager = "alias/aws/secretsmanager"
	AliasACM            = "alias/aws/acm"
)

// Limits, as on AWS.
const (
	MaxPlaintext          = 4096
	MaxDescription        = 8192
	MaxPolicy             = 32768
	DefaultRotationPeriod = 365
	defaultDeletionWindow = 30
)

// ManagedAliases are the AWS-managed keys every account has.
var ManagedAliases = []string{AliasACM, AliasSecretsManager}

// Precise error codes; the KMS adapter appends "Exception".
const (
	CodeNotFound          errs.Code = "NotFound"
	CodeDisabled          errs.Code = "Disabled"
	CodeInvalidState      errs.Code = "KMSInvalidState"
	CodeInvalidCiphertext errs.Code = "InvalidCiphertext"
	CodeIncorrectKey      errs.Code = "IncorrectKey"
	CodeAlreadyExists     errs.Code = "AlreadyExists"
	CodeInvalidAliasName  errs.Code = "InvalidAliasName"
	CodeInvalidMarker     errs.Code = "InvalidMarker"
	CodeMalformedPolicy   errs.Code = "MalformedPolicyDocument"
	CodeInvalidArn        errs.Code = "InvalidArn"
	CodeUnsupported       errs.Code = "UnsupportedOperation"
	CodeTag               errs.Code = "Tag"
	CodeLimit             errs.Code = "LimitExceeded"
)

// Authorizer decides whether a principal may act on a resource.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, r iam.Request) error
}

// Sealer protects key material at rest under the master key (satisfied by
// *seal.Keyring).
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	Open(blob, context []byte) ([]byte, error)
}

// Options configure a Service.
type Options struct {
	Region string
	Logger *slog.Logger
	Rand   io.Reader // default crypto/rand
}

// Service is KMS.
type Service struct {
	store  store.Store
	sealer Sealer
	authz  Authorizer
	clock  clock.Clock
	region string
	log    *slog.Logger
	rand   io.Reader

	// aeads caches the cipher of each key generation: material never
	// changes once written, so an entry is never stale (a deleted key is
	// refused before its material is looked up).
	aeads sync.Map // materialRef -> cipher.AEAD

	// keys caches key records for decryption for keyCacheTTL. A change made
	// on this node drops the entry at once; one made on another node is
	// seen within the TTL (key state changes are eventually consistent on
	// AWS too). The cache holds metadata, never material.
	keys sync.Map // key ID -> cachedKey

	tags iam.TagCache // keys' tags for aws:ResourceTag conditions
}

// keyCacheTTL bounds how long a key's cached state is trusted.
const keyCacheTTL = time.Second

type cachedKey struct {
	key *store.KMSKey
	at  time.Time
}

// cachedKeyGet returns a key record, from the cache when it is fresh and
// knows material generation need (0: any).
func (s *Service) cachedKeyGet(ctx context.Context, tx store.Tx, id string, need int64) (*store.KMSKey, error) {
	now := s.clock.Now()
	if v, ok := s.keys.Load(id); ok {
		c := v.(cachedKey)
		if age := now.Sub(c.at); age >= 0 && age < keyCacheTTL && need <= c.key.CurrentMaterial {
			return c.key, nil
		}
	}
	k, err := tx.KMSKeys().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	s.keys.Store(id, cachedKey{key: k, at: now})
	return k, nil
}

// forget drops a key from the cache after a change on this node.
func (s *Service) forget(id string) { s.keys.Delete(id) }

type materialRef struct {
	key    string
	number int64
}

// New returns a KMS service.
func New(st store.Store, sealer Sealer, authz Authorizer, clk clock.Clock, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := opts.Rand
	if r == nil {
		r = rand.Reader
	}
	return &Service{store: st, sealer: sealer, authz: authz, clock: clk, region: opts.Region, log: log, rand: r}
}

// Key is a key's metadata, as DescribeKey shows it.
type Key struct {
	ID                 string
	ARN                string
	Account            string
	Description        string
	KeyManager         string
	KeyUsage           string
	KeySpec            string
	Origin             string
	State              string
	CreatedAt          time.Time
	DeletionAt         time.Time
	RotationEnabled    bool
	RotationPeriodDays int
	NextRotationAt     time.Time
}

func toKey(k *store.KMSKey) *Key {
	return &Key{ID: k.ID, ARN: k.ARN, Account: k.Account, Description: k.Description, KeyManager: k.KeyManager,
		KeyUsage: k.KeyUsage, KeySpec: k.KeySpec, Origin: k.Origin, State: k.State, CreatedAt: k.CreatedAt,
		DeletionAt: k.DeletionAt, RotationEnabled: k.RotationEnabled, RotationPeriodDays: k.RotationPeriodDays,
		NextRotationAt: k.NextRotationAt}
}

func (s *Service) keyARN(account, id string) string {
	return "arn:aws:kms:" + s.region + ":" + account + ":key/" + id
}

func (s *Service) aliasARN(account, name string) string {
	return "arn:aws:kms:" + s.region + ":" + account + ":" + name
}

// DefaultPolicy is the key policy a key gets when none is given: the
// account's principals may use the key as their IAM policies allow.
func DefaultPolicy(account string) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",` +
		`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

func checkPolicy(policy string) error {
	if len(policy) > MaxPolicy {
		return errs.Coded(errs.Invalid, CodeMalformedPolicy, "The key policy is larger than %d characters.", MaxPolicy)
	}
	if probs := iam.CheckPolicyDocument(policy, true); len(probs) > 0 {
		return errs.Coded(errs.Invalid, CodeMalformedPolicy, "The new key policy will not allow you to update the key policy in the future: %s", probs[0].Message)
	}
	return nil
}

func validation(field string, value any, constraint string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, field, constraint)
}

func notFound(format string, a ...any) error {
	return errs.Coded(errs.NotFound, CodeNotFound, format, a...)
}

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	keyARNRE   = regexp.MustCompile(`^arn:aws:kms:([a-z0-9-]+):([0-9]{12}):key/(.+)$`)
	aliasARNRE = regexp.MustCompile(`^arn:aws:kms:([a-z0-9-]+):([0-9]{12}):(alias/.+)$`)
	aliasRE    = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)
)

// resolve finds the key a KeyId names for a caller: a key ID or alias name
// in the caller's account, or a key or alias ARN in any account. Managed
// aliases are created on first use when tx can write.
func (s *Service) resolve(ctx context.Context, tx store.Tx, p iam.Principal, keyID string, write bool) (*store.KMSKey, error) {
	if keyID == "" {
		return nil, errs.New(errs.Invalid, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	if len(keyID) > 2048 {
		return nil, validation("keyId", keyID, "Member must have length less than or equal to 2048")
	}
	account, id := p.Account, ""
	alias := ""
	switch {
	case strings.HasPrefix(keyID, "alias/"):
		alias = keyID
	case strings.HasPrefix(keyID, "arn:"):
		if m := keyARNRE.FindStringSubmatch(keyID); m != nil {
			if m[1] != s.region {
				return nil, notFound("Key '%s' does not exist", keyID)
			}
			account, id = m[2], m[3]
		} else if m := aliasARNRE.FindStringSubmatch(keyID); m != nil {
			if m[1] != s.region {
				return nil, notFound("Alias %s is not found.", keyID)
			}
			account, alias = m[2], m[3]
		} else {
			return nil, errs.Coded(errs.Invalid, CodeInvalidArn, "Invalid arn %s", keyID)
		}
	default:
		id = keyID
	}
	if alias != "" {
		a, err := tx.KMSKeys().GetAlias(ctx, account, alias)
		if errors.Is(err, store.ErrNotFound) && write && isManagedAlias(alias) {
			k, err := s.createManaged(ctx, tx, account, alias)
			if err != nil {
				return nil, err
			}
			return k, nil
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("Alias %s is not found.", s.aliasARN(account, alias))
		}
		if err != nil {
			return nil, err
		}
		id = a.TargetKeyID
	}
	if !uuidRE.MatchString(id) {
		return nil, notFound("Invalid keyId '%s'", keyID)
	}
	k, err := tx.KMSKeys().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.Account != account) {
		return nil, notFound("Key '%s' does not exist", s.keyARN(account, id))
	}
	return k, err
}

func isManagedAlias(alias string) bool {
	for _, a := range ManagedAliases {
		if a == alias {
			return true
		}
	}
	return false
}

// createManaged creates an AWS-managed key and its alias.
func (s *Service) createManaged(ctx context.Context, tx store.Tx, account, alias string) (*store.KMSKey, error) {
	service := strings.TrimPrefix(alias, "alias/aws/")
	k, err := s.insertKey(ctx, tx, account, ManagerAWS,
		"Default key that protects my "+managedDescriptions[service]+" when no other key is defined", s.managedKeyPolicy(account, service))
	if err != nil {
		return nil, err
	}
	// AWS rotates its managed keys every year.
	now := s.clock.Now()
	k.RotationEnabled, k.RotationPeriodDays, k.NextRotationAt = true, DefaultRotationPeriod, now.AddDate(0, 0, DefaultRotationPeriod)
	if err := tx.KMSKeys().Update(ctx, k); err != nil {
		return nil, err
	}
	if err := tx.KMSKeys().InsertAlias(ctx, &store.KMSAlias{Account: account, Name: alias, TargetKeyID: k.ID,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		return nil, err
	}
	return k, nil
}

var managedDescriptions = map[string]string{"secretsmanager": "Secrets Manager secrets", "acm": "ACM private keys"}

// managedKeyPolicy is the key policy of an AWS managed key, as AWS writes
// it: principals of the account may use the key only through its service,
// and the account may read its metadata. It cannot be changed.
func (s *Service) managedKeyPolicy(account, service string) string {
	return `{"Version":"2012-10-17","Id":"auto-` + service + `-1","Statement":[` +
		`{"Sid":"Allow access through ` + service + ` for all principals in the account that are authorized to use it",` +
		`"Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],` +
		`"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"` + account + `","kms:ViaService":"` + service + `.` + s.region + `.amazonaws.com"}}},` +
		`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},` +
		`"Action":["kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}]}`
}

// keyPolicy is the policy that gates a key: its stored policy, or for an
// AWS managed key made before managed policies existed, the managed one.
func (s *Service) keyPolicy(k *store.KMSKey) string {
	if k.KeyManager == ManagerAWS && k.Policy == DefaultPolicy(k.Account) {
		for service, d := range managedDescriptions {
			if strings.Contains(k.Description, d) {
				return s.managedKeyPolicy(k.Account, service)
			}
		}
	}
	return k.Policy
}

// EnsureManagedKeys creates an account's AWS-managed keys if they do not
// exist yet. Concurrent callers are safe: the alias is the guard.
func (s *Service) EnsureManagedKeys(ctx context.Context, account string) error {
	var missing bool
	err := s.store.View(ctx, func(tx store.Tx) error {
		for _, a := range ManagedAliases {
			if _, err := tx.KMSKeys().GetAlias(ctx, account, a); errors.Is(err, store.ErrNotFound) {
				missing = true
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || !missing {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		for _, a := range ManagedAliases {
			if _, err := tx.KMSKeys().GetAlias(ctx, account, a); errors.Is(err, store.ErrNotFound) {
				if _, err := s.createManaged(ctx, tx, account, a); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return nil // another request created them
	}
	return err
}

// insertKey creates a key with its first generation of material.
func (s *Service) insertKey(ctx context.Context, tx store.Tx, account, manager, description, policy string) (*store.KMSKey, error) {
	id := uuid.NewString()
	now := s.clock.Now()
	k := &store.KMSKey{ID: id, ARN: s.keyARN(account, id), Account: account, Description: description,
		KeyManager: manager, KeyUsage: UsageEncryptDecrypt, KeySpec: SpecSymmetric, Origin: OriginAWS,
		State: StateEnabled, Policy: policy, CreatedAt: now, RotationPeriodDays: DefaultRotationPeriod, CurrentMaterial: 1}
	if err := tx.KMSKeys().Insert(ctx, k); err != nil {
		return nil, err
	}
	if err := s.addMaterial(ctx, tx, k, 1, now); err != nil {
		return nil, err
	}
	return k, nil
}

func materialContext(keyARN string, n int64) []byte {
	return fmt.Appendf(nil, "sigil/kms-material/%s/%d", keyARN, n)
}

func (s *Service) addMaterial(ctx context.Context, tx store.Tx, k *store.KMSKey, n int64, now time.Time) error {
	material := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, material); err != nil {
		return errs.Wrap(err, "generate key material")
	}
	defer clear(material)
	sealed, err := s.sealer.Seal(material, materialContext(k.ARN, n))
	if err != nil {
		return errs.Wrap(err, "seal key material")
	}
	return tx.KMSKeys().AddMaterial(ctx, &store.KMSMaterial{KeyID: k.ID, Number: n, Sealed: sealed, CreatedAt: now})
}

// aead returns the cipher of one generation of a key's material.
func (s *Service) aead(ctx context.Context, tx store.Tx, k *store.KMSKey, n int64) (cipher.AEAD, error) {
	ref := materialRef{k.ID, n}
	if v, ok := s.aeads.Load(ref); ok {
		return v.(cipher.AEAD), nil
	}
	m, err := tx.KMSKeys().Material(ctx, k.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.Coded(errs.Invalid, CodeInvalidCiphertext, "The ciphertext refers to key material that does not exist.")
	}
	if err != nil {
		return nil, err
	}
	material, err := s.sealer.Open(m.Sealed, materialContext(k.ARN, n))
	if err != nil {
		return nil, errs.Wrap(err, "open key material")
	}
	defer clear(material)
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, errs.Wrap(err, "key material")
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errs.Wrap(err, "key material")
	}
	s.aeads.Store(ref, a)
	return a, nil
}

// usable checks that a key can encrypt or decrypt now.
func usable(k *store.KMSKey) error {
	switch k.State {
	case StateEnabled:
		return nil
	case StateDisabled:
		return errs.Coded(errs.State, CodeDisabled, "%s is disabled.", k.ARN)
	default:
		return errs.Coded(errs.State, CodeInvalidState, "%s is pending deletion.", k.ARN)
	}
}

// Ciphertext blobs: a version byte, the key ID, the material generation,
// a GCM nonce, then the sealed plaintext and tag. The header and the
// canonical encryption context are the associated data.
const (
	blobVersion = 0x01
	idLen       = 36
	headerLen   = 1 + idLen + 4
	nonceLen    = 12
	tagLen      = 16
)

// canonicalContext encodes an encryption context independent of map order.
func canonicalContext(ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

func blobAAD(header []byte, ec map[string]string) []byte {
	a := append([]byte("sigil-kms-v1\x00"), header...)
	return append(a, canonicalContext(ec)...)
}

func (s *Service) seal(ctx context.Context, tx store.Tx, k *store.KMSKey, plaintext []byte, ec map[string]string) ([]byte, error) {
	a, err := s.aead(ctx, tx, k, k.CurrentMaterial)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, headerLen+nonceLen+len(plaintext)+tagLen)
	out = append(out, blobVersion)
	out = append(out, k.ID...)
	out = binary.BigEndian.AppendUint32(out, uint32(k.CurrentMaterial))
	header := out[:headerLen:headerLen]
	nonce := make([]byte, nonceLen)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, errs.Wrap(err, "nonce")
	}
	out = append(out, nonce...)
	return a.Seal(out, nonce, plaintext, blobAAD(header, ec)), nil
}

func invalidCiphertext() error {
	return errs.Coded(errs.Invalid, CodeInvalidCiphertext, "The ciphertext is invalid, or was encrypted under another key or encryption context.")
}

// blobKeyID returns the key a ciphertext blob was made with.
func blobKeyID(blob []byte) (string, error) {
	if len(blob) < headerLen+nonceLen+tagLen || blob[0] != blobVersion {
		return "", invalidCiphertext()
	}
	id := string(blob[1 : 1+idLen])
	if !uuidRE.MatchString(id) {
		return "", invalidCiphertext()
	}
	return id, nil
}

// blobMaterial returns the material generation a blob names.
func blobMaterial(blob []byte) int64 {
	return int64(binary.BigEndian.Uint32(blob[1+idLen : headerLen]))
}

func (s *Service) open(ctx context.Context, tx store.Tx, k *store.KMSKey, blob []byte, ec map[string]string) ([]byte, error) {
	n := int64(binary.BigEndian.Uint32(blob[1+idLen : headerLen]))
	if n < 1 || n > k.CurrentMaterial {
		return nil, invalidCiphertext()
	}
	a, err := s.aead(ctx, tx, k, n)
	if err != nil {
		return nil, err
	}
	nonce := blob[headerLen : headerLen+nonceLen]
	pt, err := a.Open(nil, nonce, blob[headerLen+nonceLen:], blobAAD(blob[:headerLen], ec))
	if err != nil {
		return nil, invalidCiphertext()
	}
	return pt, nil
}

func checkContext(ec map[string]string) error {
	size := 0
	for k, v := range ec {
		if k == "" {
			return validation("encryptionContext", "", "Encryption context keys must not be empty")
		}
		size += len(k) + len(v)
	}
	if size > 8192 {
		return errs.New(errs.Invalid, "The encryption context is larger than 8192 bytes.")
	}
	return nil
}

type viaServiceKey struct{}

// WithViaService marks ctx as a call made by another service on the
// caller's behalf (e.g. "secretsmanager.us-east-1.amazonaws.com"), for key
// policies' kms:ViaService condition.
func WithViaService(ctx context.Context, service string) context.Context {
	return context.WithValue(ctx, viaServiceKey{}, service)
}

// authorizeKey authorizes an action on a key: its key policy gates every
// use, with its tags, the encryption context and the calling service as
// condition keys.
func (s *Service) authorizeKey(ctx context.Context, tx store.Tx, p iam.Principal, k *store.KMSKey, action string, ec map[string]string) error {
	tags, err := s.tags.Get(ctx, tx, k.ARN, k.Version)
	if err != nil {
		return err
	}
	c := map[string][]string{"kms:CallerAccount": {p.Account}}
	if len(ec) > 0 {
		keys := make([]string, 0, len(ec))
		for k, v := range ec {
			c["kms:EncryptionContext:"+k] = []string{v}
			keys = append(keys, k)
		}
		c["kms:EncryptionContextKeys"] = keys
	}
	if via, ok := ctx.Value(viaServiceKey{}).(string); ok {
		c["kms:ViaService"] = []string{via}
	}
	return s.authz.Authorize(ctx, p, iam.Request{Action: action, Resource: k.ARN, ResourcePolicy: s.keyPolicy(k), KeyPolicy: true,
		ResourceTags: tags, Context: c})
}
