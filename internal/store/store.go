// Package store declares how Sigil persists its state: a transaction runner
// and one small repository interface per aggregate, with plain record types.
// Implementations live in sub-packages (sqlstore for SQLite and PostgreSQL);
// storetest is the conformance suite every implementation must pass.
//
// Contracts that hold for every implementation:
//   - Every method honours context cancellation.
//   - A missing row is reported as an error for which errors.Is(err,
//     ErrNotFound) is true; a uniqueness violation as ErrConflict; a failed
//     optimistic-concurrency check as ErrStale. Other failures are Internal.
//   - Times are stored with microsecond precision in UTC; a zero time.Time
//     means "not set" and round-trips as zero.
//   - Records returned are owned by the caller.
package store

import (
	"context"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
)

// Sentinel errors. Compare with errors.Is.
var (
	ErrNotFound = errs.New(errs.NotFound, "not found")
	ErrConflict = errs.New(errs.Conflict, "already exists")
	ErrStale    = errs.New(errs.Conflict, "the resource was changed concurrently")
)

// Store runs transactions.
type Store interface {
	// Update runs fn in a read-write transaction that commits if fn returns
	// nil and rolls back otherwise. An implementation MAY run fn more than
	// once (to retry a serialization failure), so fn MUST NOT have effects
	// outside tx.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction with a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Read runs fn without a transaction: each statement reads the latest
	// committed data on its own, with no snapshot across statements. It is
	// for hot paths that need a single statement (or validate what they
	// read, as a version check does); fn MUST NOT write.
	Read(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Tx gives access to the repositories inside one transaction. Repositories
// MUST NOT be used after the transaction ends.
type Tx interface {
	Meta() Meta
	Accounts() Accounts
	AccessKeys() AccessKeys
	IAM() IAM
	CAs() CAs
	CAAccess() CAAccess
	Certificates() Certificates
	Tags() Tags
	Idempotency() Idempotency
	Leases() Leases
	CRLs() CRLs
	Sequences() Sequences
	OCSPResponders() OCSPResponders
	AuditReports() AuditReports
	ACMCertificates() ACMCertificates
	AccountSettings() AccountSettings
	Events() Events
	KMSKeys() KMSKeys
	Secrets() Secrets
	RotationFunctions() RotationFunctions
	AuditEvents() AuditEvents
	EventRules() EventRules
	Deploy() Deploy
}

// Meta is a small key-value table for installation facts (such as which
// master key sealed the data).
type Meta interface {
	Get(ctx context.Context, key string) (string, error)
	// Put sets a key, replacing any value.
	Put(ctx context.Context, key, value string) error
	// Insert sets a key that must not exist yet (ErrConflict otherwise). A
	// concurrent transaction inserting the same key waits for this one, so
	// Insert works as a once-only guard across nodes.
	Insert(ctx context.Context, key, value string) error
}

// Account is a tenant; every resource belongs to one.
type Account struct {
	ID        string // 12 digits
	Name      string
	CreatedAt time.Time
}

// Accounts stores accounts.
type Accounts interface {
	Insert(ctx context.Context, a *Account) error
	Get(ctx context.Context, id string) (*Account, error)
	Count(ctx context.Context) (int, error)
	// List returns every account ordered by ID.
	List(ctx context.Context) ([]*Account, error)
}

// AccessKey is a long-term credential of a principal.
type AccessKey struct {
	ID           string // the access key ID
	Account      string
	PrincipalARN string
	SecretSealed []byte // the secret access key, sealed to the key ID
	Status       string // Active or Inactive
	CreatedAt    time.Time
}

// AccessKeys stores access keys.
type AccessKeys interface {
	Insert(ctx context.Context, k *AccessKey) error
	Get(ctx context.Context, id string) (*AccessKey, error)
	// ListByPrincipal returns a principal's keys ordered by creation.
	ListByPrincipal(ctx context.Context, principalARN string) ([]*AccessKey, error)
	// SetStatus changes a key's status; ErrNotFound if there is no key.
	SetStatus(ctx context.Context, id, status string) error
	// Delete removes a key; ErrNotFound if there is none.
	Delete(ctx context.Context, id string) error
}

// IAMPrincipal is an IAM user or role.
type IAMPrincipal struct {
	ARN               string
	Account           string
	Kind              string // "user" or "role"
	Name              string
	Path              string
	UniqueID          string // AIDA... for users, AROA... for roles
	TrustPolicy       string // roles: who may assume it
	MaxSessionSeconds int
	Description       string
	CreatedAt         time.Time
}

// IAMPolicy is a customer managed policy.
type IAMPolicy struct {
	ARN         string
	Account     string
	Name        string
	Path        string
	PolicyID    string // ANPA...
	Document    string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// IAMSession is a set of temporary credentials issued by AssumeRole.
type IAMSession struct {
	AccessKeyID  string // ASIA...
	Account      string // the role's account
	RoleARN      string
	SessionName  string
	SourceARN    string // who assumed the role
	SecretSealed []byte
	TokenHash    []byte // SHA-256 of the session token
	Tags         []byte // JSON object of session tags
	ExpiresAt    time.Time
	CreatedAt    time.Time
}

// IAM stores principals, managed policies, their attachments and role
// sessions.
type IAM interface {
	InsertPrincipal(ctx context.Context, p *IAMPrincipal) error
	GetPrincipal(ctx context.Context, arn string) (*IAMPrincipal, error)
	// FindPrincipal finds a user or role by account, kind and name.
	FindPrincipal(ctx context.Context, account, kind, name string) (*IAMPrincipal, error)
	ListPrincipals(ctx context.Context, account, kind string) ([]*IAMPrincipal, error)
	UpdateTrustPolicy(ctx context.Context, arn, doc string) error
	// DeletePrincipal removes a principal; ErrNotFound if there is none.
	DeletePrincipal(ctx context.Context, arn string) error

	InsertPolicy(ctx context.Context, p *IAMPolicy) error
	GetPolicy(ctx context.Context, arn string) (*IAMPolicy, error)
	ListPolicies(ctx context.Context, account string) ([]*IAMPolicy, error)
	UpdatePolicy(ctx context.Context, arn, doc string, at time.Time) error
	DeletePolicy(ctx context.Context, arn string) error

	// Attach attaches a policy to a principal (ErrConflict if attached).
	Attach(ctx context.Context, principalARN, policyARN string) error
	// Detach removes an attachment; ErrNotFound if there is none.
	Detach(ctx context.Context, principalARN, policyARN string) error
	// Attached returns the ARNs of a principal's policies, ordered.
	Attached(ctx context.Context, principalARN string) ([]string, error)
	// AttachmentCount counts the principals a policy is attached to.
	AttachmentCount(ctx context.Context, policyARN string) (int, error)

	InsertSession(ctx context.Context, s *IAMSession) error
	GetSession(ctx context.Context, accessKeyID string) (*IAMSession, error)
	// DeleteExpiredSessions removes sessions that expired before now, at
	// most limit, and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time, limit int) (int, error)
}

// CA is a certificate authority record.
type CA struct {
	ID                         string
	ARN                        string
	Account                    string
	Type                       string
	Status                     string // the stored status; EXPIRED is computed by the domain
	StatusBeforeDeletion       string
	FailureReason              string
	UsageMode                  string
	KeyStorageSecurityStandard string
	Config                     []byte // JSON owned by the domain
	RevocationConfig           []byte // JSON owned by the domain; nil when absent
	KeyRef                     []byte
	CSR                        []byte // DER
	Certificate                []byte // DER; nil until a certificate is imported
	Chain                      []byte // PEM of the certificates above this CA; nil for a root
	Serial                     string // hex serial of the CA certificate
	NotBefore                  time.Time
	NotAfter                   time.Time
	CreatedAt                  time.Time
	LastStateChangeAt          time.Time
	RestorableUntil            time.Time // set while DELETED
	Version                    int64     // optimistic concurrency; set by the store
}

// CACursor positions a CA listing after a given CA.
type CACursor struct {
	CreatedAt time.Time
	ID        string
}

// CAs stores certificate authorities.
type CAs interface {
	// Insert stores a new CA and sets its Version to 1.
	Insert(ctx context.Context, ca *CA) error
	// Get returns the CA with the given ID.
	Get(ctx context.Context, id string) (*CA, error)
	// Version returns the stored version of a CA (a cheap check that a
	// cached copy is still current).
	Version(ctx context.Context, id string) (int64, error)
	// Update writes ca if its Version still matches the stored one, and
	// increments ca.Version; otherwise it returns ErrStale.
	Update(ctx context.Context, ca *CA) error
	// List returns up to limit CAs of the account ordered by (CreatedAt, ID),
	// starting after the cursor (nil: from the start).
	List(ctx context.Context, account string, after *CACursor, limit int) ([]*CA, error)
	// Each streams every CA of every account.
	Each(ctx context.Context, fn func(*CA) error) error
	// CountByAccount counts the CAs of an account, deleted ones included.
	CountByAccount(ctx context.Context, account string) (int, error)
	// Delete removes a CA and everything stored under it (certificates,
	// tags).
	Delete(ctx context.Context, id string) error
	// DeletedBefore returns up to limit IDs of DELETED CAs whose restore
	// window ended before t.
	DeletedBefore(ctx context.Context, t time.Time, limit int) ([]string, error)
}

// CAPermission lets a service principal act on a CA of the same account
// (Private CA's CreatePermission).
type CAPermission struct {
	CAID          string
	Principal     string // e.g. acm.amazonaws.com
	SourceAccount string // "" when not given
	Actions       []string
	CreatedAt     time.Time
}

// CAAccess stores who may use a CA besides its account's own identities:
// its resource policy, the accounts that policy names (its grantees), and
// permissions for service principals. Delete of a CA removes them.
type CAAccess interface {
	// PutPolicy sets a CA's resource policy and replaces its grantee
	// accounts.
	PutPolicy(ctx context.Context, caID, policy string, grantees []string, at time.Time) error
	// GetPolicy returns a CA's policy; ErrNotFound when it has none.
	GetPolicy(ctx context.Context, caID string) (string, error)
	// DeletePolicy removes a CA's policy and grantees; ErrNotFound when it
	// has none.
	DeletePolicy(ctx context.Context, caID string) error
	// ListShared returns up to limit CAs whose policy names account,
	// ordered by (CreatedAt, ID), starting after the cursor.
	ListShared(ctx context.Context, account string, after *CACursor, limit int) ([]*CA, error)
	// InsertPermission stores a permission; ErrConflict when the CA already
	// has one for the principal.
	InsertPermission(ctx context.Context, p *CAPermission) error
	// Permissions returns a CA's permissions ordered by principal.
	Permissions(ctx context.Context, caID string) ([]*CAPermission, error)
	// DeletePermission removes the CA's permission for a principal;
	// ErrNotFound when there is none.
	DeletePermission(ctx context.Context, caID, principal string) error
}

// Certificate is a certificate issued by a CA.
type Certificate struct {
	CAID             string
	Serial           string // canonical hex, as in the ARN
	Account          string
	DER              []byte
	NotBefore        time.Time
	NotAfter         time.Time
	IssuedAt         time.Time
	TemplateARN      string
	CRLPartition     int64     // the CRL partition its distribution point names (0: complete CRL)
	RevokedAt        time.Time // zero unless revoked
	RevocationReason string
}

// RevokedEntry is one line of a CRL.
type RevokedEntry struct {
	Serial    string
	RevokedAt time.Time
	Reason    string
}

// Certificates stores issued certificates. (CAID, Serial) is unique.
type Certificates interface {
	Insert(ctx context.Context, c *Certificate) error
	Get(ctx context.Context, caID, serial string) (*Certificate, error)
	CountByCA(ctx context.Context, caID string) (int, error)
	// Revoke marks a certificate revoked: ErrNotFound if it does not exist,
	// ErrConflict if it is already revoked. It costs the same however many
	// certificates are revoked already.
	Revoke(ctx context.Context, caID, serial string, at time.Time, reason string) error
	// Revoked streams the revoked certificates that expire after
	// notAfterSince and belong on one CRL: for partition 0 (the complete
	// CRL) every revoked certificate of the CA, for partition n >= 1 those
	// of partition n. Entries come ordered by (partition, serial); the
	// stream never loads them all.
	Revoked(ctx context.Context, caID string, partition int64, notAfterSince time.Time, fn func(RevokedEntry) error) error
	// Each streams every certificate of a CA in issuance order.
	Each(ctx context.Context, caID string, fn func(*Certificate) error) error
}

// CRL is the latest CRL of one partition of a CA.
type CRL struct {
	CAID       string
	Partition  int64
	Number     int64
	ThisUpdate time.Time
	NextUpdate time.Time
	RefreshAt  time.Time // when it must be regenerated
	Pending    int64     // revocations not yet in DER
	DER        []byte
}

// CRLs stores CRLs and when they are due.
type CRLs interface {
	// Ensure creates the (CA, partition) row, due at refreshAt, if missing.
	Ensure(ctx context.Context, caID string, partition int64, refreshAt time.Time) error
	// MarkPending records a revocation in a partition and makes its CRL due
	// at now (creating the row if needed).
	MarkPending(ctx context.Context, caID string, partition int64, now time.Time) error
	// Touch makes an existing row due at now, like MarkPending, and does
	// nothing if the row does not exist.
	Touch(ctx context.Context, caID string, partition int64, now time.Time) error
	// Reschedule moves a row's refresh time without changing its CRL (for
	// a CA that cannot sign now, such as a disabled configuration).
	Reschedule(ctx context.Context, caID string, partition int64, refreshAt time.Time) error
	Get(ctx context.Context, caID string, partition int64) (*CRL, error)
	// Number returns the number of the published CRL of a partition (0 if
	// none was published yet), without reading the CRL itself.
	Number(ctx context.Context, caID string, partition int64) (int64, error)
	// Due lists up to limit rows whose refresh time has come, without DER.
	Due(ctx context.Context, now time.Time, limit int) ([]*CRL, error)
	// Save stores a newly signed CRL: number, times and DER, and subtracts
	// covered from the pending count (revocations that arrived meanwhile
	// stay pending).
	Save(ctx context.Context, c *CRL, covered int64) error
	// Partitions lists the partitions of a CA, without DER.
	Partitions(ctx context.Context, caID string) ([]*CRL, error)
	// Remove drops a CRL row (the CA stopped publishing CRLs).
	Remove(ctx context.Context, caID string, partition int64) error
}

// Sequences hands out per-CA counters in blocks.
type Sequences interface {
	// Reserve reserves n values of the named counter of a CA and returns the
	// first (counters start at 1).
	Reserve(ctx context.Context, caID, name string, n int64) (first int64, err error)
}

// OCSPResponder is a CA's delegated OCSP signing key and certificate.
type OCSPResponder struct {
	CAID        string
	KeyRef      []byte
	Certificate []byte // DER
	NotAfter    time.Time
}

// OCSPResponders stores delegated responders, one per CA.
type OCSPResponders interface {
	Get(ctx context.Context, caID string) (*OCSPResponder, error)
	Put(ctx context.Context, r *OCSPResponder) error
}

// AuditReport is a report of a CA's issued and revoked certificates.
type AuditReport struct {
	ID        string
	CAID      string
	Status    string // CREATING, SUCCESS, FAILED
	Bucket    string
	Key       string
	Format    string // JSON or CSV
	CreatedAt time.Time
}

// AuditReports stores audit report requests.
type AuditReports interface {
	Insert(ctx context.Context, r *AuditReport) error
	Get(ctx context.Context, id string) (*AuditReport, error)
	SetStatus(ctx context.Context, id, status string) error
	// Creating reports whether a report of the CA is being created.
	Creating(ctx context.Context, caID string) (bool, error)
	// FailStale marks reports still CREATING since before t as FAILED (their
	// node died) and returns how many.
	FailStale(ctx context.Context, before time.Time) (int, error)
}

// Tag is a key/value label on a resource.
type Tag struct {
	Key   string
	Value string
}

// Tags stores resource tags by resource ARN.
type Tags interface {
	// List returns the tags of a resource ordered by key.
	List(ctx context.Context, arn string) ([]Tag, error)
	// Replace sets the tags of a resource to exactly tags.
	Replace(ctx context.Context, arn string, tags []Tag) error
}

// IdempotencyRecord remembers the outcome of a request made with a client
// token.
type IdempotencyRecord struct {
	Scope       string // e.g. "acm-pca:IssueCertificate:<ca-id>"
	Token       string
	Fingerprint []byte // hash of the request parameters
	Result      string // e.g. the ARN that was created
	ExpiresAt   time.Time
}

// Idempotency stores client-token records.
type Idempotency interface {
	// Get returns the record for (scope, token) if it has not expired at now.
	Get(ctx context.Context, scope, token string, now time.Time) (*IdempotencyRecord, error)
	// Put stores a record. It returns ErrConflict if an unexpired record with
	// the same scope and token exists at now; an expired one is replaced.
	Put(ctx context.Context, r *IdempotencyRecord, now time.Time) error
}

// Lease is a named, time-limited right to run background jobs, held by one
// node at a time.
type Lease struct {
	Name      string
	Holder    string
	Token     int64 // fencing token: grows whenever the lease changes hands
	ExpiresAt time.Time
}

// Leases stores leases.
type Leases interface {
	// Acquire gives the lease to holder until expires if it is free, expired
	// at now, or already held by holder (a renewal). It reports the fencing
	// token and whether holder now holds the lease.
	Acquire(ctx context.Context, name, holder string, now, expires time.Time) (token int64, held bool, err error)
	// Check returns ErrStale unless holder still holds the lease with this
	// token. Inside a write transaction it also locks the lease until the
	// transaction ends, so a takeover cannot slip between the check and the
	// writes it guards.
	Check(ctx context.Context, name, holder string, token int64) error
	// Release gives the lease up if holder holds it.
	Release(ctx context.Context, name, holder string) error
	// Get returns a lease (ErrNotFound if it was never taken).
	Get(ctx context.Context, name string) (*Lease, error)
}

// ACMCertificate is a certificate managed by Certificate Manager: requested
// from a private CA (Type PRIVATE) or imported (IMPORTED), with its sealed
// private key.
type ACMCertificate struct {
	ID                 string
	ARN                string
	Account            string
	Type               string // PRIVATE or IMPORTED
	Status             string
	DomainName         string
	Names              []CertName // every name the certificate covers
	KeyAlgorithm       string     // ACM spelling, e.g. EC_prime256v1
	SignatureAlgorithm string
	Serial             string // colon-separated hex, as ACM shows it
	Subject            string
	Issuer             string
	CommonName         string
	KeyUsages          int64 // bit set owned by the domain
	ExtKeyUsages       int64 // bit set owned by the domain
	NotBefore          time.Time
	NotAfter           time.Time
	CreatedAt          time.Time
	IssuedAt           time.Time
	ImportedAt         time.Time
	RevokedAt          time.Time
	RevocationReason   string
	CAARN              string // the issuing private CA (PRIVATE only)
	PCACertificateARN  string // the certificate's ARN in the private CA
	ExportOption       string // ENABLED or DISABLED
	Exported           bool   // exported since issued or last renewed
	InUseBy            []string
	RenewalStatus      string
	RenewalReason      string
	RenewalUpdatedAt   time.Time
	FailureReason      string
	Certificate        []byte    // DER; nil until issued
	Chain              []byte    // PEM of the issuer chain
	PrivateKey         []byte    // sealed PKCS#8, bound to the certificate
	RenewAt            time.Time // managed renewal is due (zero: none)
	ExpiryEventAt      time.Time // the next approaching-expiry event (zero: none)
	Version            int64     // optimistic concurrency; set by the store
}

// CertName is one name a certificate covers.
type CertName struct {
	Kind string // DNS, IP, EMAIL, URI
	Name string
}

// CertFilter is a predicate over ACM certificates: exactly one of And, Or,
// Not or Field is set. Field names a column the store knows (see
// CertFields); Op is one of the CertOp constants.
type CertFilter struct {
	And    []*CertFilter
	Or     []*CertFilter
	Not    *CertFilter
	Field  string
	Op     string
	Values []any // strings, int64s, bools or time.Times, by field
}

// Operators of a CertFilter.
const (
	OpIn       = "in"       // the field equals one of Values
	OpPrefix   = "prefix"   // a string field starts with Values[0]
	OpContains = "contains" // a string field contains Values[0]
	OpGE       = "ge"       // the field is >= Values[0]
	OpLE       = "le"       // the field is <= Values[0]
	OpAnyBits  = "anybits"  // a bit-set field shares a bit with Values[0]
	OpAllBits  = "allbits"  // a bit-set field has every bit of Values[0]
	OpNotEmpty = "notempty" // a list field (in_use_by) is not empty
)

// CertFields lists the fields a CertFilter or a sort may name. "name" and
// "name:<KIND>" match the certificate's names (any of them).
var CertFields = []string{
	"arn", "type", "status", "domain_name", "key_algorithm", "signature_algorithm", "serial", "subject",
	"issuer", "common_name", "key_usages", "ext_key_usages", "not_before", "not_after", "created_at",
	"issued_at", "imported_at", "revoked_at", "export_option", "exported", "in_use", "renewal_status",
	"ca_arn", "name",
}

// CertQuery selects a page of an account's certificates.
type CertQuery struct {
	Account string
	Where   *CertFilter
	SortBy  string // a CertFields entry; "" means created_at
	Desc    bool
	After   *CertCursor // nil: from the start
	Limit   int
	WithDER bool // also return each certificate's DER (not the key)
}

// CertCursor positions a listing after a certificate: the sort column's
// value there, and its ID.
type CertCursor struct {
	Value any
	ID    string
}

// ACMCertificates stores Certificate Manager certificates. (ID) and (ARN)
// are unique.
type ACMCertificates interface {
	// Insert stores a new certificate and sets its Version to 1.
	Insert(ctx context.Context, c *ACMCertificate) error
	// Get returns the certificate with the given ID.
	Get(ctx context.Context, id string) (*ACMCertificate, error)
	// Update writes c if its Version still matches and increments it;
	// otherwise ErrStale.
	Update(ctx context.Context, c *ACMCertificate) error
	// Delete removes a certificate (its names go with it).
	Delete(ctx context.Context, id string) error
	// Query returns a page of certificates without their key or chain
	// bytes (and without the certificate unless WithDER), in the query's
	// order; the cursor of the last one
	// continues the listing. Cost grows with the page size, not its depth.
	Query(ctx context.Context, q CertQuery) ([]*ACMCertificate, error)
	// Count counts an account's certificates of a type.
	Count(ctx context.Context, account, typ string) (int, error)
	// RenewalDue, ExpiryEventDue and ExpiredDue list up to limit IDs whose
	// renewal time, next expiry-event time or (for ISSUED certificates)
	// NotAfter is at or before now, oldest first, from their indexes.
	RenewalDue(ctx context.Context, now time.Time, limit int) ([]string, error)
	ExpiryEventDue(ctx context.Context, now time.Time, limit int) ([]string, error)
	ExpiredDue(ctx context.Context, now time.Time, limit int) ([]string, error)
	// RescheduleExpiryEvents sets, for every unexpired ISSUED certificate
	// of an account, the next expiry event to NotAfter - before (a new
	// DaysBeforeExpiry), or to after if that is later.
	RescheduleExpiryEvents(ctx context.Context, account string, before time.Duration, after time.Time) error
	// Expiries streams every certificate's ARN, domain name, type, status
	// and NotAfter (zero when it has none), for metrics.
	Expiries(ctx context.Context, fn func(arn, domain, typ, status string, notAfter time.Time) error) error
}

// AccountSettings stores per-account settings by name.
type AccountSettings interface {
	// Get returns a setting's value (ErrNotFound if unset).
	Get(ctx context.Context, account, name string) (string, error)
	Put(ctx context.Context, account, name, value string) error
}

// Event is one domain event in the outbox.
type Event struct {
	ID          string
	Account     string
	Source      string
	DetailType  string
	Time        time.Time
	Body        []byte // the EventBridge envelope, JSON
	DeliveredAt time.Time
}

// Events is the transactional outbox.
type Events interface {
	Append(ctx context.Context, e *Event) error
	// Undelivered returns up to limit events not yet fanned out to rules,
	// oldest first.
	Undelivered(ctx context.Context, limit int) ([]*Event, error)
	// MarkDelivered records that an event was fanned out.
	MarkDelivered(ctx context.Context, id string, at time.Time) error
	// CountUndelivered counts the events not yet fanned out.
	CountUndelivered(ctx context.Context) (int, error)
	// PurgeDelivered deletes up to limit events fanned out before t and
	// returns how many.
	PurgeDelivered(ctx context.Context, before time.Time, limit int) (int, error)
	// List returns up to limit events of an account ordered by (Time, ID),
	// after the event (afterTime, afterID) when afterID is not empty.
	List(ctx context.Context, account string, afterTime time.Time, afterID string, limit int) ([]*Event, error)
}

// KMSKey is a KMS key. Its material lives in KMSMaterial rows, one per
// generation; CurrentMaterial encrypts, every generation decrypts.
type KMSKey struct {
	ID                 string
	ARN                string
	Account            string
	Description        string
	KeyManager         string // AWS or CUSTOMER
	KeyUsage           string
	KeySpec            string
	Origin             string
	State              string // Enabled, Disabled, PendingDeletion
	Policy             string
	CreatedAt          time.Time
	DeletionAt         time.Time // set while PendingDeletion
	RotationEnabled    bool
	RotationPeriodDays int
	NextRotationAt     time.Time
	LastRotatedAt      time.Time
	CurrentMaterial    int64
	Version            int64 // optimistic concurrency; set by the store
}

// KMSMaterial is one generation of a key's material, sealed by the master
// key.
type KMSMaterial struct {
	KeyID     string
	Number    int64
	Sealed    []byte
	CreatedAt time.Time
}

// KMSAlias is a friendly name for a key, unique in an account.
type KMSAlias struct {
	Account     string
	Name        string // alias/...
	TargetKeyID string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// KMSKeys stores KMS keys, their material and their aliases.
type KMSKeys interface {
	// Insert stores a new key and sets its Version to 1.
	Insert(ctx context.Context, k *KMSKey) error
	Get(ctx context.Context, id string) (*KMSKey, error)
	// Update writes k if its Version still matches and increments it;
	// otherwise ErrStale.
	Update(ctx context.Context, k *KMSKey) error
	// List returns up to limit keys of an account ordered by ID, after the
	// given ID.
	List(ctx context.Context, account, afterID string, limit int) ([]*KMSKey, error)
	// Delete removes a key, its material and its aliases.
	Delete(ctx context.Context, id string) error
	// DeletionDue and RotationDue list up to limit key IDs whose deletion
	// or automatic rotation is due at now.
	DeletionDue(ctx context.Context, now time.Time, limit int) ([]string, error)
	RotationDue(ctx context.Context, now time.Time, limit int) ([]string, error)
	AddMaterial(ctx context.Context, m *KMSMaterial) error
	Material(ctx context.Context, keyID string, number int64) (*KMSMaterial, error)
	// InsertAlias stores a new alias (ErrConflict if the name is taken).
	InsertAlias(ctx context.Context, a *KMSAlias) error
	// UpdateAlias points an existing alias at another key.
	UpdateAlias(ctx context.Context, a *KMSAlias) error
	GetAlias(ctx context.Context, account, name string) (*KMSAlias, error)
	DeleteAlias(ctx context.Context, account, name string) error
	// Aliases lists up to limit aliases of an account ordered by name after
	// the given name, only those of keyID when it is not empty.
	Aliases(ctx context.Context, account, keyID, afterName string, limit int) ([]*KMSAlias, error)
}

// Secret is a Secrets Manager secret (its versions are SecretVersion rows).
type Secret struct {
	ID                string
	ARN               string
	Account           string
	Name              string
	Description       string
	KMSKeyID          string // as the user named it; "" means aws/secretsmanager
	RotationEnabled   bool
	RotationLambdaARN string
	RotationRules     []byte // JSON owned by the domain; nil when never set
	Rotation          []byte // JSON state of a rotation in progress, owned by the domain; nil when idle
	RotationDueAt     time.Time
	NextRotationAt    time.Time
	LastRotatedAt     time.Time
	LastChangedAt     time.Time
	LastAccessedAt    time.Time
	DeletedAt         time.Time // when DeleteSecret scheduled it
	PurgeAt           time.Time // when it is removed for good
	CreatedAt         time.Time
	ResourcePolicy    string
	Version           int64 // optimistic concurrency; set by the store
}

// SecretVersion is one version of a secret's value, encrypted.
type SecretVersion struct {
	SecretID       string
	VersionID      string
	KMSKeyARN      string
	DataKey        []byte // the data key encrypted by the KMS key; nil: no value
	Ciphertext     []byte
	Binary         bool
	HasValue       bool // set by the store: DataKey is not nil
	CreatedAt      time.Time
	LastAccessedAt time.Time
	Stages         []string // filled by Versions; ignored by PutVersion
}

// SecretFilter is one ListSecrets filter: Key is name, description,
// tag-key, tag-value or all; a secret matches when any value matches
// (Negate: when none does). Name and description match by
// case-insensitive prefix, tags by case-sensitive prefix, all by any.
type SecretFilter struct {
	Key    string
	Values []string
	Negate bool
}

// SecretQuery selects a page of an account's secrets.
type SecretQuery struct {
	Account        string
	IncludeDeleted bool
	Filters        []SecretFilter // all must match
	SortBy         string         // created_at (default), name, last_changed_at, last_accessed_at
	Desc           bool
	After          *SecretCursor
	Limit          int
}

// SecretCursor positions a listing after a secret.
type SecretCursor struct {
	Value any // string for name, time.Time otherwise
	ID    string
}

// Secrets stores secrets, versions and staging labels.
type Secrets interface {
	// Insert stores a new secret (ErrConflict if the account has one with
	// that name) and sets its Version to 1.
	Insert(ctx context.Context, s *Secret) error
	Get(ctx context.Context, id string) (*Secret, error)
	GetByARN(ctx context.Context, arn string) (*Secret, error)
	GetByName(ctx context.Context, account, name string) (*Secret, error)
	// Head finds a secret by ARN (when arn is set) or by account and name,
	// and returns only its ID, ARN, Account, Name, DeletedAt and Version:
	// the narrow read of the GetSecretValue hot path.
	Head(ctx context.Context, arn, account, name string) (*Secret, error)
	// Update writes s if its Version still matches and increments it;
	// otherwise ErrStale.
	Update(ctx context.Context, s *Secret) error
	// Delete removes a secret with its versions and labels.
	Delete(ctx context.Context, id string) error
	Query(ctx context.Context, q SecretQuery) ([]*Secret, error)
	// RotationDue and PurgeDue list up to limit secret IDs whose rotation
	// step or purge is due at now.
	RotationDue(ctx context.Context, now time.Time, limit int) ([]string, error)
	PurgeDue(ctx context.Context, now time.Time, limit int) ([]string, error)

	// PutVersion inserts a version, or replaces the value of an existing
	// one that has none.
	PutVersion(ctx context.Context, v *SecretVersion) error
	// GetVersion returns a version with its value.
	GetVersion(ctx context.Context, secretID, versionID string) (*SecretVersion, error)
	// StagedVersion returns the version that carries a label.
	StagedVersion(ctx context.Context, secretID, stage string) (*SecretVersion, error)
	// Versions returns every version with its labels, newest first, without
	// values.
	Versions(ctx context.Context, secretID string) ([]*SecretVersion, error)
	DeleteVersion(ctx context.Context, secretID, versionID string) error
	// Stages maps each label of a secret to its version.
	Stages(ctx context.Context, secretID string) (map[string]string, error)
	// SetStage puts a label on a version, taking it off any other.
	SetStage(ctx context.Context, secretID, stage, versionID string) error
	RemoveStage(ctx context.Context, secretID, stage string) error
	// Touch records that a version was read on day (a date: AWS keeps
	// access dates to the day).
	Touch(ctx context.Context, secretID, versionID string, day time.Time) error
}

// RotationFunction is a webhook registered to rotate secrets.
type RotationFunction struct {
	Account      string
	Name         string
	ARN          string
	URL          string
	CABundle     []byte // PEM of the CAs trusted for URL; nil: the system roots
	SecretSealed []byte // the signing secret, sealed
	CreatedAt    time.Time
}

// RotationFunctions stores rotation functions.
type RotationFunctions interface {
	Insert(ctx context.Context, f *RotationFunction) error
	Get(ctx context.Context, account, name string) (*RotationFunction, error)
	List(ctx context.Context, account string) ([]*RotationFunction, error)
	Delete(ctx context.Context, account, name string) error
}

// AuditEvent is one audit record: a CloudTrail event. Body is the record's
// JSON exactly as its MAC covers it; the other fields copy some of its
// fields into indexed columns for lookups.
type AuditEvent struct {
	Position    int64 // place in the chain, from 1
	ID          string
	Account     string // recipientAccountId; "" for a caller never authenticated
	Time        time.Time
	Name        string
	Source      string
	ReadOnly    bool
	Username    string
	AccessKeyID string
	RequestID   string
	ErrorCode   string
	Resources   []AuditResource // written by Append; not returned by reads
	Body        string
	MAC         []byte
}

// AuditResource is a resource an audit record names.
type AuditResource struct {
	Type string // e.g. AWS::SecretsManager::Secret
	Name string // usually an ARN
}

// AuditResourceRow is one row of the resource index: a resource of the
// record at Position.
type AuditResourceRow struct {
	Position int64
	Account  string
	Time     time.Time
	AuditResource
}

// AuditPending is a record written with the change it describes, waiting
// for its call's outcome before it is chained. MAC is its own MAC.
type AuditPending struct {
	ID        string
	Time      time.Time // the event's time
	Body      string
	MAC       []byte
	CreatedAt time.Time
}

// AuditHead is the end of the audit chain: the last record's position and
// MAC, and a tag over both.
type AuditHead struct {
	Position int64
	MAC      []byte
	Tag      []byte
}

// AuditQuery selects a page of an account's audit records, newest first.
type AuditQuery struct {
	Account string
	From    time.Time // inclusive; zero: no bound
	To      time.Time // inclusive; zero: no bound
	// Attribute is "" or one of EventId, EventName, ReadOnly, Username,
	// ResourceType, ResourceName, EventSource, AccessKeyId; records match
	// when that field equals Value ("true" or "false" for ReadOnly).
	Attribute string
	Value     string
	Before    *AuditCursor // nil: from the newest
	Limit     int
}

// AuditCursor positions a listing just before (older than) a record.
type AuditCursor struct {
	Time     time.Time
	Position int64
}

// AuditEvents stores the audit trail: chained records, the resources they
// name, pending records, and the chain's head. Nothing here edits a
// chained record.
type AuditEvents interface {
	// Append stores a chained record and its resource rows. A record whose
	// ID is stored already is ErrConflict, and the transaction stays
	// usable.
	Append(ctx context.Context, e *AuditEvent) error
	// InsertPending stores a pending record (ErrConflict if its ID is
	// pending already; the transaction stays usable).
	InsertPending(ctx context.Context, p *AuditPending) error
	// DeletePending removes a pending record; ErrNotFound if there is none.
	DeletePending(ctx context.Context, id string) error
	// Pending returns up to limit pending records created at or before t,
	// oldest first.
	Pending(ctx context.Context, t time.Time, limit int) ([]*AuditPending, error)
	// CreateHead stores the head of an empty chain (ErrConflict if there is
	// one).
	CreateHead(ctx context.Context, h *AuditHead) error
	// LockHead returns the head and, where the engine has row locks, locks
	// it until the transaction ends, so that appenders on several nodes
	// take turns. ErrNotFound if there is no head.
	LockHead(ctx context.Context) (*AuditHead, error)
	// SetHead replaces the head.
	SetHead(ctx context.Context, h *AuditHead) error
	// Head reads the head without locking it (ErrNotFound if none).
	Head(ctx context.Context) (*AuditHead, error)
	// Get returns a chained record by ID.
	Get(ctx context.Context, id string) (*AuditEvent, error)
	// Query returns a page of chained records in (Time, Position)
	// descending order. Cost grows with the page, not its depth.
	Query(ctx context.Context, q AuditQuery) ([]*AuditEvent, error)
	// EachChained streams the chained records in position order.
	EachChained(ctx context.Context, fn func(*AuditEvent) error) error
	// EachResource streams every resource row, in no particular order.
	EachResource(ctx context.Context, fn func(AuditResourceRow) error) error
}

// EventRule is an EventBridge rule on an account's default bus.
type EventRule struct {
	Account     string
	Name        string
	ARN         string
	Pattern     string
	State       string // ENABLED or DISABLED
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// EventTarget is where a rule sends matching events.
type EventTarget struct {
	Account string
	Rule    string
	ID      string
	ARN     string
	// Config is the target's other settings (input, transformer, retry
	// policy), JSON owned by the domain.
	Config []byte
}

// EventConnection is an EventBridge connection: how to authenticate to
// an endpoint. Auth is sealed.
type EventConnection struct {
	Account   string
	Name      string
	ARN       string
	AuthType  string
	Auth      []byte // sealed JSON of the auth parameters
	Info      []byte // JSON of the parameters that are not secret
	CreatedAt time.Time
	UpdatedAt time.Time
}

// EventDestination is an EventBridge API destination: an HTTP endpoint
// reached through a connection.
type EventDestination struct {
	Account       string
	Name          string
	ARN           string
	ConnectionARN string
	Endpoint      string
	Method        string
	RateLimit     int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// EventDelivery is one event on its way to one target.
type EventDelivery struct {
	ID          string
	EventID     string
	Account     string
	RuleARN     string
	TargetID    string
	TargetARN   string
	Body        []byte // what is sent, after the target's input settings
	Status      string // PENDING, DELIVERED, FAILED (dead-lettered)
	Attempts    int
	MaxAttempts int
	Expires     time.Time // the event's age limit
	NextAt      time.Time
	LastError   string
	LastStatus  int
	CreatedAt   time.Time
	DeliveredAt time.Time
}

// EventRules stores rules, targets, connections, API destinations and
// deliveries.
type EventRules interface {
	PutRule(ctx context.Context, r *EventRule) error // insert or replace by (Account, Name)
	GetRule(ctx context.Context, account, name string) (*EventRule, error)
	// ListRules returns up to limit rules of an account whose name starts
	// with prefix, ordered by name, after the name after.
	ListRules(ctx context.Context, account, prefix, after string, limit int) ([]*EventRule, error)
	// EnabledRules returns every enabled rule of every account (the
	// dispatcher caches them).
	EnabledRules(ctx context.Context) ([]*EventRule, error)
	DeleteRule(ctx context.Context, account, name string) error
	PutTarget(ctx context.Context, t *EventTarget) error // insert or replace by (Account, Rule, ID)
	Targets(ctx context.Context, account, rule string) ([]*EventTarget, error)
	DeleteTarget(ctx context.Context, account, rule, id string) error
	// Generation is a counter bumped by every change to rules and targets.
	Generation(ctx context.Context) (int64, error)
	BumpGeneration(ctx context.Context) error

	PutConnection(ctx context.Context, c *EventConnection) error // ErrConflict if the name exists
	GetConnection(ctx context.Context, arn string) (*EventConnection, error)
	ListConnections(ctx context.Context, account string) ([]*EventConnection, error)
	DeleteConnection(ctx context.Context, arn string) error
	PutDestination(ctx context.Context, d *EventDestination) error // ErrConflict if the name exists
	GetDestination(ctx context.Context, arn string) (*EventDestination, error)
	ListDestinations(ctx context.Context, account string) ([]*EventDestination, error)
	DeleteDestination(ctx context.Context, arn string) error
	// DestinationsUsing counts the API destinations of a connection.
	DestinationsUsing(ctx context.Context, connectionARN string) (int, error)

	// InsertDelivery stores a delivery unless one exists for its
	// (EventID, RuleARN, TargetID); it reports whether it did.
	InsertDelivery(ctx context.Context, d *EventDelivery) (bool, error)
	// DueDeliveries returns up to limit PENDING deliveries due at t.
	DueDeliveries(ctx context.Context, t time.Time, limit int) ([]*EventDelivery, error)
	UpdateDelivery(ctx context.Context, d *EventDelivery) error
	// ListDeliveries returns an account's deliveries, newest first.
	ListDeliveries(ctx context.Context, account, status string, limit int) ([]*EventDelivery, error)
	// CountDeliveries counts every account's deliveries by status.
	CountDeliveries(ctx context.Context) (map[string]int, error)
	// Redrive makes an account's FAILED deliveries (of one event, or all
	// when eventID is "") PENDING again, due at now with a fresh attempt
	// count and age limit expires; it returns how many.
	Redrive(ctx context.Context, account, eventID string, now, expires time.Time) (int, error)
	// PurgeDeliveries deletes up to limit deliveries of a status (not
	// PENDING) created before t and returns how many.
	PurgeDeliveries(ctx context.Context, status string, before time.Time, limit int) (int, error)
}

// AgentToken is a one-time enrolment token for a deployment agent. Only a
// hash of its secret part is kept.
type AgentToken struct {
	ID          string // the public part ("et-" and 16 hex digits)
	Account     string
	Hash        []byte // SHA-256 of the secret part
	Tags        []byte // JSON object: the tags the enrolled agent gets
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time // zero while unused
	UsedBy      string    // the agent that used it
}

// Agent is an enrolled deployment agent.
type Agent struct {
	ID           string // "ag-" and 17 hex digits
	Account      string
	Hostname     string
	Tags         []byte // JSON object
	TokenID      string
	CertSerial   string // hex serial of its current client certificate
	PrevSerial   string // the one before (accepted until it expires)
	CertNotAfter time.Time
	AgentVersion string
	Status       string // ACTIVE or DEREGISTERED
	CreatedAt    time.Time
	LastSeenAt   time.Time
	RowVersion   int64 // optimistic concurrency; Update bumps it
}

// DeployProfile is a custom install profile (the built-in ones are code).
type DeployProfile struct {
	Account   string
	Name      string
	Spec      []byte // JSON owned by the domain
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Deployment says what certificate goes to which agents, and how.
type Deployment struct {
	ID         string
	Account    string
	Name       string
	ARN        string
	SourceARN  string // an ACM certificate or a secret
	Selector   []byte // JSON object of tags the agents must all carry
	Profile    string // profile name
	Spec       []byte // JSON: the resolved profile with overrides, owned by the domain
	Passphrase string // ARN of the secret holding the key passphrase, if any
	// TargetAccount is the account whose agents are selected ("": the
	// deployment's own). Set at creation only.
	TargetAccount string
	// LastError says why the source could not be read at the last
	// reconcile ("" when it could).
	LastError  string
	Version    string // the source version last assigned
	Serial     string // its certificate serial (hex)
	Status     string // ACTIVE, or DELETING
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	RowVersion int64
}

// DeployTarget is one agent of a deployment: what it should hold and what
// it does hold (a row of the inventory).
type DeployTarget struct {
	DeploymentID string
	AgentID      string
	Account      string // the deployment's account
	Generation   int64  // bumped for every new assignment
	Version      string // the source version assigned
	Serial       string // its serial (hex)
	Status       string // PENDING, IN_PROGRESS, SUCCEEDED, FAILED
	Attempts     int
	Message      string
	LeaseUntil   time.Time // IN_PROGRESS until then
	Installed    string    // serial last verified on the agent ("" never)
	InstalledAt  time.Time
	Paths        []byte // JSON array of the files written
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Deploy stores enrolment tokens, agents, install profiles, deployments
// and their targets.
type Deploy interface {
	InsertToken(ctx context.Context, t *AgentToken) error
	GetToken(ctx context.Context, id string) (*AgentToken, error)
	// UseToken marks an unused token used by agent at t; ErrStale when it
	// was used already (two enrolments racing: only one wins).
	UseToken(ctx context.Context, id, agent string, at time.Time) error
	// ListTokens returns an account's tokens, newest first.
	ListTokens(ctx context.Context, account string) ([]*AgentToken, error)
	DeleteToken(ctx context.Context, id string) error

	InsertAgent(ctx context.Context, a *Agent) error
	GetAgent(ctx context.Context, id string) (*Agent, error)
	// UpdateAgent writes a whose RowVersion must match the stored one
	// (ErrStale otherwise) and bumps it.
	UpdateAgent(ctx context.Context, a *Agent) error
	// TouchAgent sets LastSeenAt without a version check.
	TouchAgent(ctx context.Context, id string, at time.Time) error
	// ListAgents returns an account's agents ordered by ID; with account
	// "" every account's.
	ListAgents(ctx context.Context, account string) ([]*Agent, error)

	PutProfile(ctx context.Context, p *DeployProfile) error // insert or replace by (Account, Name)
	GetProfile(ctx context.Context, account, name string) (*DeployProfile, error)
	ListProfiles(ctx context.Context, account string) ([]*DeployProfile, error)
	DeleteProfile(ctx context.Context, account, name string) error
	// ProfileInUse counts the deployments that use a profile.
	ProfileInUse(ctx context.Context, account, name string) (int, error)

	InsertDeployment(ctx context.Context, d *Deployment) error // ErrConflict if (Account, Name) exists
	GetDeployment(ctx context.Context, account, name string) (*Deployment, error)
	GetDeploymentByID(ctx context.Context, id string) (*Deployment, error)
	UpdateDeployment(ctx context.Context, d *Deployment) error // version-checked like UpdateAgent
	// ListDeployments returns an account's deployments ordered by name;
	// with account "" every account's.
	ListDeployments(ctx context.Context, account string) ([]*Deployment, error)
	// DeploymentsOf returns every deployment (any account) of a source.
	DeploymentsOf(ctx context.Context, sourceARN string) ([]*Deployment, error)
	// DeleteDeployment deletes a deployment and its targets.
	DeleteDeployment(ctx context.Context, id string) error

	PutTarget(ctx context.Context, t *DeployTarget) error // insert or replace by (DeploymentID, AgentID)
	GetTarget(ctx context.Context, deploymentID, agentID string) (*DeployTarget, error)
	// TargetsOfDeployment returns a deployment's targets ordered by agent.
	TargetsOfDeployment(ctx context.Context, deploymentID string) ([]*DeployTarget, error)
	// TargetsOfAgent returns an agent's targets ordered by deployment.
	TargetsOfAgent(ctx context.Context, agentID string) ([]*DeployTarget, error)
	DeleteTarget(ctx context.Context, deploymentID, agentID string) error
	// CountTargets counts every account's targets by status.
	CountTargets(ctx context.Context) (map[string]int, error)
}
