// Package secrets is Secrets Manager: named secrets whose values are kept
// as encrypted versions (each under its own data key from KMS), staging
// labels that say which version is current, deletion with a recovery
// window, and rotation by the four-step protocol (createSecret, setSecret,
// testSecret, finishSecret) through a built-in certificate rotator or
// webhook functions. It is the domain behind the secretsmanager API.
package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/kms"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/tagging"
	"github.com/sigilhq/sigil/internal/telemetry"
)

// Staging labels Secrets Manager itself manages.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Limits, as on AWS.
const (
	MaxValue          = 65536
	MaxLabels         = 20
	MaxVersions       = 100
	MaxPolicy         = 20480
	MaxDescription    = 2048
	MaxTags           = 50
	pruneAfter        = 24 * time.Hour // unlabelled versions younger than this are kept
	defaultRecovery   = 30
	dataKeyBytes      = 32
	versionKeyContext = "SecretVersionId"
)

// Precise error codes; the adapter maps them to Secrets Manager's errors.
const (
	CodeInvalidParameter  errs.Code = "InvalidParameter"
	CodeInvalidRequest    errs.Code = "InvalidRequest"
	CodeResourceExists    errs.Code = "ResourceExists"
	CodeEncryptionFailure errs.Code = "EncryptionFailure"
	CodeDecryptionFailure errs.Code = "DecryptionFailure"
	CodeMalformedPolicy   errs.Code = "MalformedPolicyDocument"
	CodePublicPolicy      errs.Code = "PublicPolicy"
	CodeInvalidNextToken  errs.Code = "InvalidNextToken"
	CodeLimit             errs.Code = "LimitExceeded"
)

// KMS is what Secrets Manager needs from KMS (satisfied by *kms.Service):
// data keys made and opened inside the secret's own transaction.
type KMS interface {
	GenerateDataKeyTx(ctx context.Context, tx store.Tx, p iam.Principal, keyID string, ec map[string]string, size int, action string) (plaintext, blob []byte, keyARN string, err error)
	DecryptTx(ctx context.Context, tx store.Tx, p iam.Principal, blob []byte, ec map[string]string, keyID string) ([]byte, string, error)
}

var _ KMS = (*kms.Service)(nil)

// Authorizer decides whether a principal may act on a resource.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, r iam.Request) error
}

// Sealer protects the signing secrets of rotation functions.
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	Open(blob, context []byte) ([]byte, error)
}

// Options configure a Service.
type Options struct {
	Region string
	Logger *slog.Logger
	// AllowHTTPFunctions lets rotation functions use plain http:// URLs
	// (development mode on loopback only).
	AllowHTTPFunctions bool
	// RetryBase is the delay before the first retry of a failed rotation;
	// it doubles with each attempt. Default one minute.
	RetryBase time.Duration
	// Telemetry counts rotations (nil: not counted).
	Telemetry telemetry.Recorder
}

// Service is Secrets Manager.
type Service struct {
	store     store.Store
	kms       KMS
	authz     Authorizer
	sealer    Sealer
	clock     clock.Clock
	region    string
	log       *slog.Logger
	tel       telemetry.Recorder
	invoker   Invoker
	certs     *certRotator
	allowHTTP bool
	retryBase time.Duration

	// reads caches, per (secret, version ID, label), which version a read
	// resolves to, with its encrypted value and labels, valid while the
	// secret's row version is unchanged (every change of labels or values
	// bumps it). A read then costs one indexed lookup of the secret; the
	// value is still decrypted through KMS each time. Nothing in it is
	// plaintext.
	reads sync.Map // readKey -> *cachedRead
	// auths caches, per secret, what authorization needs (resource policy
	// and tags) by row version: policy and tag changes bump it.
	auths     sync.Map // secret ID -> *authInfo
	readCount atomic.Int64
	// touched remembers which versions this node marked read today.
	touched    sync.Map // readKey{secret, version, ""} -> time.Time
	touchCount atomic.Int64
}

type readKey struct{ secretID, versionID, stage string }

type cachedRead struct {
	rowVersion int64
	version    *store.SecretVersion
	labels     []string
}

// maxCachedReads bounds the read cache; past it the cache starts over.
const maxCachedReads = 100000

// New returns a Secrets Manager service. invoker calls webhook rotation
// functions; certs (may be nil) is the built-in certificate rotator's
// access to the Private CA and Certificate Manager.
func New(st store.Store, k KMS, authz Authorizer, sealer Sealer, clk clock.Clock, invoker Invoker, certs *CertificateServices, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: st, kms: k, authz: authz, sealer: sealer, clock: clk, region: opts.Region, log: log, tel: telemetry.Or(opts.Telemetry),
		invoker: invoker, allowHTTP: opts.AllowHTTPFunctions, retryBase: opts.RetryBase}
	if s.retryBase <= 0 {
		s.retryBase = time.Minute
	}
	if certs != nil {
		s.certs = &certRotator{svc: s, deps: *certs}
	}
	return s
}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	labelRE    = regexp.MustCompile(`^[\x20-\x7e]{1,256}$`)
	secretARNs = regexp.MustCompile(`^arn:aws:secretsmanager:([a-z0-9-]+):([0-9]{12}):secret:(.+)$`)
	tagRules   = tagging.Rules{Max: MaxTags, InvalidCode: CodeInvalidParameter, LimitCode: CodeLimit, Noun: "secret"}
)

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (s *Service) secretARN(account, name string) (string, error) {
	b := make([]byte, 6)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(suffixAlphabet))))
		if err != nil {
			return "", errs.Wrap(err, "secret ARN suffix")
		}
		b[i] = suffixAlphabet[n.Int64()]
	}
	return "arn:aws:secretsmanager:" + s.region + ":" + account + ":secret:" + name + "-" + string(b), nil
}

func notFound() error {
	return errs.New(errs.NotFound, "Secrets Manager can't find the specified secret.")
}

func invalidParameter(format string, a ...any) error {
	return errs.Coded(errs.Invalid, CodeInvalidParameter, format, a...)
}

func invalidRequest(format string, a ...any) error {
	return errs.Coded(errs.Invalid, CodeInvalidRequest, format, a...)
}

func validation(field string, value any, constraint string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, field, constraint)
}

func required(field string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

func checkSecretID(id string) error {
	if id == "" {
		return required("secretId")
	}
	if len(id) > 2048 {
		return validation("secretId", id, "Member must have length less than or equal to 2048")
	}
	return nil
}

// find resolves a SecretId (a name in the caller's account, a full ARN, or
// a partial ARN without the random suffix) to a secret.
func (s *Service) find(ctx context.Context, tx store.Tx, p iam.Principal, id string) (*store.Secret, error) {
	return s.lookup(ctx, tx, p, id, false)
}

// lookup is find; with head it reads only the secret's identity, deletion
// and row version (see store.Secrets.Head).
func (s *Service) lookup(ctx context.Context, tx store.Tx, p iam.Principal, id string, head bool) (*store.Secret, error) {
	if err := checkSecretID(id); err != nil {
		return nil, err
	}
	byARN, byName := tx.Secrets().GetByARN, tx.Secrets().GetByName
	if head {
		byARN = func(ctx context.Context, arn string) (*store.Secret, error) {
			return tx.Secrets().Head(ctx, arn, "", "")
		}
		byName = func(ctx context.Context, account, name string) (*store.Secret, error) {
			return tx.Secrets().Head(ctx, "", account, name)
		}
	}
	var sec *store.Secret
	var err error
	if m := secretARNs.FindStringSubmatch(id); m != nil {
		if m[1] != s.region {
			return nil, notFound()
		}
		sec, err = byARN(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			sec, err = byName(ctx, m[2], m[3])
		}
	} else if strings.HasPrefix(id, "arn:") {
		return nil, notFound()
	} else {
		sec, err = byName(ctx, p.Account, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound()
	}
	return sec, err
}

// access finds a secret and authorizes the action on it.
func (s *Service) access(ctx context.Context, tx store.Tx, p iam.Principal, action, id string) (*store.Secret, error) {
	sec, err := s.find(ctx, tx, p, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, tx, p, sec, action); err != nil {
		return nil, err
	}
	return sec, nil
}

type authInfo struct {
	version int64
	policy  string
	tags    map[string]string
}

// authorize decides whether p may perform action on sec, with the secret's
// resource policy, its tags (aws:ResourceTag, secretsmanager:ResourceTag)
// and secretsmanager:SecretId as inputs.
func (s *Service) authorize(ctx context.Context, tx store.Tx, p iam.Principal, sec *store.Secret, action string) error {
	var info *authInfo
	if v, ok := s.auths.Load(sec.ID); ok && v.(*authInfo).version == sec.Version {
		info = v.(*authInfo)
	} else {
		// sec may be a head (no policy): read the whole row once per
		// version.
		full, err := tx.Secrets().GetByARN(ctx, sec.ARN)
		if err != nil {
			return err
		}
		list, err := tx.Tags().List(ctx, sec.ARN)
		if err != nil {
			return err
		}
		info = &authInfo{version: full.Version, policy: full.ResourcePolicy, tags: make(map[string]string, len(list))}
		for _, t := range list {
			info.tags[t.Key] = t.Value
		}
		if full.Version == sec.Version {
			s.auths.Store(sec.ID, info)
		}
	}
	return s.authz.Authorize(ctx, p, iam.Request{Action: action, Resource: sec.ARN, ResourcePolicy: info.policy,
		ResourceTags: info.tags, Context: map[string][]string{"secretsmanager:SecretId": {sec.ARN}}})
}

// viaSecretsManager marks KMS calls made for a secret, for key policies'
// kms:ViaService condition.
func (s *Service) viaSecretsManager(ctx context.Context) context.Context {
	return kms.WithViaService(ctx, "secretsmanager."+s.region+".amazonaws.com")
}

func notDeleted(sec *store.Secret) error {
	if !sec.DeletedAt.IsZero() {
		return invalidRequest("You can't perform this operation on the secret because it was marked for deletion.")
	}
	return nil
}

// kmsKeyRef is the KMS key a secret's versions are encrypted with: its
// own, or its account's aws/secretsmanager key.
func (s *Service) kmsKeyRef(sec *store.Secret) string {
	if sec.KMSKeyID != "" {
		return sec.KMSKeyID
	}
	return "arn:aws:kms:" + s.region + ":" + sec.Account + ":" + kms.AliasSecretsManager
}

func encryptionContext(arn, versionID string) map[string]string {
	return map[string]string{"SecretARN": arn, versionKeyContext: versionID}
}

func valueAAD(arn, versionID string) []byte {
	return []byte("sigil-secret-v1\x00" + arn + "\x00" + versionID)
}

// kmsFailure rewords a KMS error for a secret write or read.
func kmsFailure(err error, code errs.Code, verb string) error {
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind == errs.Internal {
		return err
	}
	if e.Kind == errs.Denied {
		return err
	}
	return errs.Coded(errs.Invalid, code, "Secrets Manager can't %s the protected secret text using the provided KMS key: %s", verb, e.Msg)
}

// sealValue encrypts a version's value under a fresh data key from KMS.
func (s *Service) sealValue(ctx context.Context, tx store.Tx, p iam.Principal, sec *store.Secret, v *store.SecretVersion, value []byte) error {
	dk, blob, keyARN, err := s.kms.GenerateDataKeyTx(s.viaSecretsManager(ctx), tx, p, s.kmsKeyRef(sec), encryptionContext(sec.ARN, v.VersionID), dataKeyBytes, "kms:GenerateDataKey")
	if err != nil {
		return kmsFailure(err, CodeEncryptionFailure, "encrypt")
	}
	defer clear(dk)
	a, err := gcm(dk)
	if err != nil {
		return err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return errs.Wrap(err, "nonce")
	}
	v.KMSKeyARN, v.DataKey = keyARN, blob
	v.Ciphertext = a.Seal(nonce, nonce, value, valueAAD(sec.ARN, v.VersionID))
	v.HasValue = true
	return nil
}

// openValue decrypts a version's value.
func (s *Service) openValue(ctx context.Context, tx store.Tx, p iam.Principal, sec *store.Secret, v *store.SecretVersion) ([]byte, error) {
	dk, _, err := s.kms.DecryptTx(s.viaSecretsManager(ctx), tx, p, v.DataKey, encryptionContext(sec.ARN, v.VersionID), "")
	if err != nil {
		return nil, kmsFailure(err, CodeDecryptionFailure, "decrypt")
	}
	defer clear(dk)
	a, err := gcm(dk)
	if err != nil {
		return nil, err
	}
	n := a.NonceSize()
	if len(v.Ciphertext) < n {
		return nil, errs.Coded(errs.Invalid, CodeDecryptionFailure, "Secrets Manager can't decrypt the protected secret text.")
	}
	pt, err := a.Open(nil, v.Ciphertext[:n], v.Ciphertext[n:], valueAAD(sec.ARN, v.VersionID))
	if err != nil {
		return nil, errs.Coded(errs.Invalid, CodeDecryptionFailure, "Secrets Manager can't decrypt the protected secret text.")
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, errs.Wrap(err, "data key")
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, errs.Wrap(err, "data key")
	}
	return a, nil
}

// servicePrincipal is the identity Secrets Manager's background work acts
// as within an account.
func servicePrincipal(account string) iam.Principal {
	return iam.Principal{Account: account, ARN: "arn:aws:iam::" + account + ":role/aws-service-role/secretsmanager.amazonaws.com/AWSServiceRoleForSecretsManager", Admin: true}
}

// day truncates a time to its UTC date (access dates are kept to the day).
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
