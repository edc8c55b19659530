// Package ca is the private certificate authority: CA hierarchy and
// lifecycle (create, install a certificate, enable, disable, delete,
// restore), issuance from templates, and the records of issued
// certificates. It is protocol-neutral; the AWS acm-pca API, the CLI and
// later ACME/EST are adapters over it.
package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/keys"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/telemetry"
)

// Type is ROOT or SUBORDINATE.
type Type string

// CA types.
const (
	Root        Type = "ROOT"
	Subordinate Type = "SUBORDINATE"
)

// Status is the lifecycle state of a CA.
type Status string

// CA statuses. CREATING and FAILED exist for compatibility: Sigil creates the
// key and CSR before it answers, so a CA is never observed in CREATING.
const (
	Creating           Status = "CREATING"
	PendingCertificate Status = "PENDING_CERTIFICATE"
	Active             Status = "ACTIVE"
	Deleted            Status = "DELETED"
	Disabled           Status = "DISABLED"
	Expired            Status = "EXPIRED"
	Failed             Status = "FAILED"
)

// Usage modes.
const (
	GeneralPurpose        = "GENERAL_PURPOSE"
	ShortLivedCertificate = "SHORT_LIVED_CERTIFICATE"
)

// Key storage security standards (labels; see docs/aws-compatibility.md).
var keyStorageStandards = []string{"FIPS_140_2_LEVEL_2_OR_HIGHER", "FIPS_140_2_LEVEL_3_OR_HIGHER", "CCPC_LEVEL_1_OR_HIGHER"}

// DefaultKeyStorage is used when a request names no standard.
const DefaultKeyStorage = "FIPS_140_2_LEVEL_3_OR_HIGHER"

// Limits of the Private CA service.
const (
	MaxDepth            = 5                // levels in a CA hierarchy, root included
	MaxTags             = 50               // tags per CA
	IdempotencyWindow   = 5 * time.Minute  // client-token memory
	DefaultNotBeforeLag = 60 * time.Minute // NotBefore = now - lag unless given
	ShortLivedMax       = 7 * 24 * time.Hour
	MaxCertificatePEM   = 32 << 10
	MaxChainPEM         = 2 << 20
)

// Config is what a CA is made of: its key, signing algorithm, subject and
// the extensions its CSR requests.
type Config struct {
	KeyAlgorithm     pki.KeyAlgorithm     `json:"KeyAlgorithm"`
	SigningAlgorithm pki.SigningAlgorithm `json:"SigningAlgorithm"`
	Subject          pki.Subject          `json:"Subject"`
	CSRExtensions    *CSRExtensions       `json:"CsrExtensions,omitempty"`
}

// CSRExtensions are extensions requested in the CA's CSR.
type CSRExtensions struct {
	KeyUsage                 *pki.KeyUsage           `json:"KeyUsage,omitempty"`
	SubjectInformationAccess []pki.AccessDescription `json:"SubjectInformationAccess,omitempty"`
}

// Authority is the public view of a CA.
type Authority struct {
	ARN                        string
	Account                    string
	Type                       Type
	Status                     Status // effective: EXPIRED when the certificate has expired
	FailureReason              string
	Config                     Config
	Revocation                 *RevocationConfig
	UsageMode                  string
	KeyStorageSecurityStandard string
	Serial                     string
	NotBefore, NotAfter        time.Time
	CreatedAt                  time.Time
	LastStateChangeAt          time.Time
	RestorableUntil            time.Time
}

// Tag is a label on a CA. In untag requests a nil Value matches any value.
type Tag struct {
	Key   string
	Value *string
}

// Authorizer decides whether a principal may act on a resource.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, r iam.Request) error
}

// Linter checks a to-be-signed certificate (issuer nil: self-signed).
type Linter interface {
	Check(tpl, issuer *x509.Certificate) error
}

// Options configure a Service.
type Options struct {
	Region string // e.g. us-east-1
	// Linter, when set, lints every certificate before the CA key signs it.
	Linter Linter
	// MaxCAsPerAccount bounds the CAs of an account, deleted ones included
	// until purged (default 200, as on AWS).
	MaxCAsPerAccount int
	Logger           *slog.Logger
	// Revocation tunes CRLs and OCSP.
	Revocation RevocationOptions
	// Objects receives published CRLs and audit reports (the stand-in for
	// S3 buckets); nil disables publishing files.
	Objects ObjectStore
	// Telemetry counts issuances and revocations (nil: not counted).
	Telemetry telemetry.Recorder
}

// RevocationOptions tune revocation.
type RevocationOptions struct {
	// PublicURL is the base URL of Sigil's public HTTP listener as relying
	// parties reach it; CRL, OCSP and CA-certificate URLs in certificates
	// start with it (unless a CA names its own CNAMEs).
	PublicURL string
	// Propagation bounds how long a revocation takes to reach CRLs and OCSP
	// answers (default 5s).
	Propagation time.Duration
	// PartitionSize is how many certificates share one CRL partition
	// (default 100,000).
	PartitionSize int64
	// OCSPValidity is how long an OCSP answer is valid (nextUpdate -
	// thisUpdate; default 1h).
	OCSPValidity time.Duration
	// CASignsOCSP makes the CA key sign OCSP answers instead of a delegated
	// responder certificate.
	CASignsOCSP bool
}

// ObjectStore stores files by bucket and key.
type ObjectStore interface {
	// Put stores an object atomically, replacing any previous one.
	Put(ctx context.Context, bucket, key string, data []byte) error
	// Create starts an object written in pieces; it appears (atomically)
	// when Commit succeeds, and never if Abort is called.
	Create(ctx context.Context, bucket, key string) (ObjectWriter, error)
}

// ObjectWriter writes one object.
type ObjectWriter interface {
	Write(p []byte) (int, error)
	Commit() error
	Abort()
}

// Service is the certificate authority service.
type Service struct {
	store    store.Store
	keys     keys.Manager
	authz    Authorizer
	clock    clock.Clock
	opts     Options
	log      *slog.Logger
	tel      telemetry.Recorder
	issuer   issuerCache
	recs     recordCache
	policies policyCache
	parts    partitioner
	ocsp     ocspState
	crls     crlCache
	wg       sync.WaitGroup // background work (audit reports)
	bg       context.Context
	bgCancel context.CancelFunc
}

// New returns a CA service.
func New(st store.Store, km keys.Manager, authz Authorizer, clk clock.Clock, opts Options) *Service {
	if opts.MaxCAsPerAccount <= 0 {
		opts.MaxCAsPerAccount = 200
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Revocation.Propagation <= 0 {
		opts.Revocation.Propagation = 5 * time.Second
	}
	if opts.Revocation.PartitionSize <= 0 {
		opts.Revocation.PartitionSize = 100_000
	}
	if opts.Revocation.OCSPValidity <= 0 {
		opts.Revocation.OCSPValidity = time.Hour
	}
	if opts.Revocation.PublicURL == "" {
		opts.Revocation.PublicURL = "http://localhost:8080"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	bg, cancel := context.WithCancel(context.Background())
	return &Service{tel: telemetry.Or(opts.Telemetry), bg: bg, bgCancel: cancel, store: st, keys: km, authz: authz, clock: clk, opts: opts, log: log,
		issuer: issuerCache{m: map[string]*issuerEntry{}}, recs: recordCache{m: map[string]*store.CA{}},
		parts: partitioner{blocks: map[string]*seqBlock{}, ensured: map[partitionKey]int64{}},
		ocsp:  newOCSPState(), crls: crlCache{m: map[partitionKey]*crlEntry{}}}
}

// effectiveStatus reports EXPIRED for an active or disabled CA whose
// certificate has expired; otherwise the stored status.
func effectiveStatus(c *store.CA, now time.Time) Status {
	s := Status(c.Status)
	if (s == Active || s == Disabled) && !c.NotAfter.IsZero() && !now.Before(c.NotAfter) {
		return Expired
	}
	return s
}

// gone reports whether a deleted CA's restore window has ended: it then
// behaves as if it no longer exists, even before the purge removes it.
func gone(c *store.CA, now time.Time) bool {
	return Status(c.Status) == Deleted && !now.Before(c.RestorableUntil)
}

// issuerCache keeps the parsed certificate and chain of each CA, keyed by
// the record version, so issuance does not re-parse them every time.
type issuerCache struct {
	mu sync.RWMutex
	m  map[string]*issuerEntry
}

type issuerEntry struct {
	version  int64
	cert     *x509.Certificate
	chain    []*x509.Certificate
	chainPEM []byte // the CA certificate followed by its chain: what a leaf's chain is
	pub      *publication
	cfg      Config
}

// issuerOf returns the parsed certificate, chain and revocation publication
// of an installed CA.
func (s *Service) issuerOf(rec *store.CA) (*issuerEntry, error) {
	return s.issuer.get(rec, s.publicationOf)
}

func (c *issuerCache) get(rec *store.CA, pubOf func(string, *RevocationConfig) *publication) (*issuerEntry, error) {
	c.mu.RLock()
	e, ok := c.m[rec.ID]
	c.mu.RUnlock()
	if ok && e.version == rec.Version {
		return e, nil
	}
	cert, err := x509.ParseCertificate(rec.Certificate)
	if err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	if len(rec.Chain) > 0 {
		if chain, err = pki.ParseCertificatesPEM(rec.Chain); err != nil {
			return nil, err
		}
	}
	pemBytes := pki.EncodeCertificatesPEM(rec.Certificate)
	pemBytes = append(pemBytes, rec.Chain...)
	rev, err := decodeRevocation(rec.RevocationConfig)
	if err != nil {
		return nil, err
	}
	e = &issuerEntry{version: rec.Version, cert: cert, chain: chain, chainPEM: pemBytes, pub: pubOf(rec.ID, rev)}
	if err := decodeJSON(rec.Config, &e.cfg); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[rec.ID] = e
	c.mu.Unlock()
	return e, nil
}

func decodeJSON(b []byte, v any) error { return json.Unmarshal(b, v) }

// recordCache keeps CA records for issuance, the hot path. A cached record
// is only a starting point: issuance re-reads the record's version inside
// the transaction that stores the certificate and starts over if the CA
// changed (here or on another node), so a stale copy can never let a
// disabled or deleted CA issue.
type recordCache struct {
	mu sync.RWMutex
	m  map[string]*store.CA
}

func (c *recordCache) get(id string) *store.CA {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[id]
}

func (c *recordCache) put(rec *store.CA) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[rec.ID] = rec
}

func (c *recordCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
