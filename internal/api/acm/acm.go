// Package acm is the AWS Certificate Manager API (acm, 2015-12-08) over the
// certmgr domain service: one thin handler per operation that decodes the
// AWS wire shape, calls the domain, and encodes the answer.
package acm

import (
	"context"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/certmgr"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Manager is the domain API this adapter needs (satisfied by
// *certmgr.Service).
type Manager interface {
	Request(ctx context.Context, p iam.Principal, in certmgr.RequestInput) (string, error)
	Describe(ctx context.Context, p iam.Principal, arn string) (*certmgr.Certificate, error)
	Get(ctx context.Context, p iam.Principal, arn string) ([]byte, []byte, error)
	List(ctx context.Context, p iam.Principal, in certmgr.ListInput) (*certmgr.Page, error)
	Search(ctx context.Context, p iam.Principal, in certmgr.SearchInput) (*certmgr.Page, error)
	Export(ctx context.Context, p iam.Principal, arn string, passphrase []byte) (*certmgr.Exported, error)
	Import(ctx context.Context, p iam.Principal, in certmgr.ImportInput) (string, error)
	Renew(ctx context.Context, p iam.Principal, arn string) error
	Delete(ctx context.Context, p iam.Principal, arn string) error
	AddTags(ctx context.Context, p iam.Principal, arn string, tags []certmgr.Tag) error
	RemoveTags(ctx context.Context, p iam.Principal, arn string, tags []certmgr.Tag) error
	ListTags(ctx context.Context, p iam.Principal, arn string) ([]store.Tag, error)
	GetAccountConfiguration(ctx context.Context, p iam.Principal) (*certmgr.AccountConfiguration, error)
	PutAccountConfiguration(ctx context.Context, p iam.Principal, token string, days *int) error
}

var _ Manager = (*certmgr.Service)(nil)

// Errors maps domain errors to ACM's wire errors.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		certmgr.CodeInvalidArn:       "InvalidArnException",
		certmgr.CodeInvalidParameter: "InvalidParameterException",
		certmgr.CodeInvalidTag:       "InvalidTagException",
		certmgr.CodeTooManyTags:      "TooManyTagsException",
		certmgr.CodeInvalidArgs:      "InvalidArgsException",
		certmgr.CodeInProgress:       "RequestInProgressException",
		certmgr.CodeInUse:            "ResourceInUseException",
		certmgr.CodeConflict:         "ConflictException",
		certmgr.CodeInvalidNextToken: "InvalidArgsException",
	},
	ByKind: map[errs.Kind]string{
		errs.NotFound: "ResourceNotFoundException",
		errs.State:    "InvalidStateException",
		errs.Conflict: "ConflictException",
	},
}

// Service returns the acm operation table.
func Service(m Manager) *awsjson.Service {
	h := handlers{m}
	return &awsjson.Service{
		TargetPrefix: "CertificateManager",
		SigningName:  "acm",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"RequestCertificate":        awsjson.Op(h.request),
			"DescribeCertificate":       awsjson.Op(h.describe),
			"GetCertificate":            awsjson.Op(h.get),
			"ListCertificates":          awsjson.Op(h.list),
			"SearchCertificates":        awsjson.Op(h.search),
			"ExportCertificate":         awsjson.Op(h.export),
			"ImportCertificate":         awsjson.Op(h.importCert),
			"RenewCertificate":          awsjson.Op(h.renew),
			"DeleteCertificate":         awsjson.Op(h.delete),
			"AddTagsToCertificate":      awsjson.Op(h.addTags),
			"RemoveTagsFromCertificate": awsjson.Op(h.removeTags),
			"ListTagsForCertificate":    awsjson.Op(h.listTags),
			"GetAccountConfiguration":   awsjson.Op(h.getAccountConfig),
			"PutAccountConfiguration":   awsjson.Op(h.putAccountConfig),
		},
	}
}

type handlers struct{ m Manager }

type empty struct{}

// ---- wire shapes ----

type tag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

func toTags(ts []tag) []certmgr.Tag {
	out := make([]certmgr.Tag, len(ts))
	for i, t := range ts {
		out[i] = certmgr.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

type certificateOptions struct {
	CertificateTransparencyLoggingPreference string `json:"CertificateTransparencyLoggingPreference,omitempty"`
	Export                                   string `json:"Export,omitempty"`
}

type keyUsage struct {
	Name string `json:"Name"`
}

type extendedKeyUsage struct {
	Name string `json:"Name"`
	OID  string `json:"OID,omitempty"`
}

type renewalSummary struct {
	RenewalStatus           string        `json:"RenewalStatus"`
	DomainValidationOptions []struct{}    `json:"DomainValidationOptions"`
	RenewalStatusReason     string        `json:"RenewalStatusReason,omitempty"`
	UpdatedAt               *awsjson.Time `json:"UpdatedAt,omitempty"`
}

type certificateDetail struct {
	CertificateArn           string             `json:"CertificateArn"`
	DomainName               string             `json:"DomainName,omitempty"`
	SubjectAlternativeNames  []string           `json:"SubjectAlternativeNames,omitempty"`
	Serial                   string             `json:"Serial,omitempty"`
	Subject                  string             `json:"Subject,omitempty"`
	Issuer                   string             `json:"Issuer,omitempty"`
	CreatedAt                *awsjson.Time      `json:"CreatedAt,omitempty"`
	IssuedAt                 *awsjson.Time      `json:"IssuedAt,omitempty"`
	ImportedAt               *awsjson.Time      `json:"ImportedAt,omitempty"`
	Status                   string             `json:"Status"`
	RevokedAt                *awsjson.Time      `json:"RevokedAt,omitempty"`
	RevocationReason         string             `json:"RevocationReason,omitempty"`
	NotBefore                *awsjson.Time      `json:"NotBefore,omitempty"`
	NotAfter                 *awsjson.Time      `json:"NotAfter,omitempty"`
	KeyAlgorithm             string             `json:"KeyAlgorithm,omitempty"`
	SignatureAlgorithm       string             `json:"SignatureAlgorithm,omitempty"`
	InUseBy                  []string           `json:"InUseBy"`
	FailureReason            string             `json:"FailureReason,omitempty"`
	Type                     string             `json:"Type"`
	RenewalSummary           *renewalSummary    `json:"RenewalSummary,omitempty"`
	KeyUsages                []keyUsage         `json:"KeyUsages,omitempty"`
	ExtendedKeyUsages        []extendedKeyUsage `json:"ExtendedKeyUsages,omitempty"`
	CertificateAuthorityArn  string             `json:"CertificateAuthorityArn,omitempty"`
	RenewalEligibility       string             `json:"RenewalEligibility"`
	Options                  certificateOptions `json:"Options"`
	CertificateKeyPairOrigin string             `json:"CertificateKeyPairOrigin,omitempty"`
}

func toDetail(c *certmgr.Certificate) certificateDetail {
	d := certificateDetail{
		CertificateArn: c.ARN, DomainName: c.DomainName, SubjectAlternativeNames: c.SANs, Serial: c.Serial,
		Subject: c.Subject, Issuer: c.Issuer, CreatedAt: awsjson.TimePtr(c.CreatedAt),
		IssuedAt: awsjson.TimePtr(c.IssuedAt), ImportedAt: awsjson.TimePtr(c.ImportedAt), Status: c.Status,
		RevokedAt: awsjson.TimePtr(c.RevokedAt), RevocationReason: c.RevocationReason,
		NotBefore: awsjson.TimePtr(c.NotBefore), NotAfter: awsjson.TimePtr(c.NotAfter),
		KeyAlgorithm: c.KeyAlgorithm, SignatureAlgorithm: c.SignatureAlgorithm, InUseBy: c.InUseBy,
		FailureReason: c.FailureReason, Type: c.Type, CertificateAuthorityArn: c.CAARN,
		RenewalEligibility: c.RenewalEligibility, CertificateKeyPairOrigin: c.KeyPairOrigin,
		// Sigil never submits certificates to Certificate Transparency logs.
		Options: certificateOptions{CertificateTransparencyLoggingPreference: "DISABLED", Export: c.ExportOption},
	}
	if d.InUseBy == nil {
		d.InUseBy = []string{}
	}
	if r := c.Renewal; r != nil {
		d.RenewalSummary = &renewalSummary{RenewalStatus: r.Status, DomainValidationOptions: []struct{}{},
			RenewalStatusReason: r.Reason, UpdatedAt: awsjson.TimePtr(r.UpdatedAt)}
	}
	for _, k := range c.KeyUsages {
		d.KeyUsages = append(d.KeyUsages, keyUsage{Name: k})
	}
	for _, e := range c.ExtKeyUsages {
		d.ExtendedKeyUsages = append(d.ExtendedKeyUsages, extendedKeyUsage{Name: e.Name, OID: e.OID})
	}
	return d
}

type certificateSummary struct {
	CertificateArn                       string        `json:"CertificateArn"`
	DomainName                           string        `json:"DomainName,omitempty"`
	SubjectAlternativeNameSummaries      []string      `json:"SubjectAlternativeNameSummaries,omitempty"`
	HasAdditionalSubjectAlternativeNames bool          `json:"HasAdditionalSubjectAlternativeNames"`
	Status                               string        `json:"Status"`
	Type                                 string        `json:"Type"`
	KeyAlgorithm                         string        `json:"KeyAlgorithm,omitempty"`
	KeyUsages                            []string      `json:"KeyUsages,omitempty"`
	ExtendedKeyUsages                    []string      `json:"ExtendedKeyUsages,omitempty"`
	ExportOption                         string        `json:"ExportOption,omitempty"`
	InUse                                bool          `json:"InUse"`
	Exported                             bool          `json:"Exported"`
	RenewalEligibility                   string        `json:"RenewalEligibility"`
	NotBefore                            *awsjson.Time `json:"NotBefore,omitempty"`
	NotAfter                             *awsjson.Time `json:"NotAfter,omitempty"`
	CreatedAt                            *awsjson.Time `json:"CreatedAt,omitempty"`
	IssuedAt                             *awsjson.Time `json:"IssuedAt,omitempty"`
	ImportedAt                           *awsjson.Time `json:"ImportedAt,omitempty"`
	RevokedAt                            *awsjson.Time `json:"RevokedAt,omitempty"`
	CertificateKeyPairOrigin             string        `json:"CertificateKeyPairOrigin,omitempty"`
}

// maxSANSummaries is how many SANs a summary lists, as on AWS.
const maxSANSummaries = 100

func toSummary(c *certmgr.Certificate) certificateSummary {
	s := certificateSummary{
		CertificateArn: c.ARN, DomainName: c.DomainName, Status: c.Status, Type: c.Type,
		KeyAlgorithm: c.KeyAlgorithm, KeyUsages: c.KeyUsages, ExportOption: c.ExportOption,
		InUse: len(c.InUseBy) > 0, Exported: c.Exported, RenewalEligibility: c.RenewalEligibility,
		NotBefore: awsjson.TimePtr(c.NotBefore), NotAfter: awsjson.TimePtr(c.NotAfter),
		CreatedAt: awsjson.TimePtr(c.CreatedAt), IssuedAt: awsjson.TimePtr(c.IssuedAt),
		ImportedAt: awsjson.TimePtr(c.ImportedAt), RevokedAt: awsjson.TimePtr(c.RevokedAt),
		CertificateKeyPairOrigin: c.KeyPairOrigin,
	}
	s.SubjectAlternativeNameSummaries = c.SANs
	if len(c.SANs) > maxSANSummaries {
		s.SubjectAlternativeNameSummaries, s.HasAdditionalSubjectAlternativeNames = c.SANs[:maxSANSummaries], true
	}
	for _, e := range c.ExtKeyUsages {
		s.ExtendedKeyUsages = append(s.ExtendedKeyUsages, e.Name)
	}
	return s
}

// ---- operations ----

type requestInput struct {
	DomainName              string              `json:"DomainName"`
	ValidationMethod        string              `json:"ValidationMethod"`
	SubjectAlternativeNames []string            `json:"SubjectAlternativeNames"`
	IdempotencyToken        string              `json:"IdempotencyToken"`
	DomainValidationOptions []json0             `json:"DomainValidationOptions"`
	Options                 *certificateOptions `json:"Options"`
	CertificateAuthorityArn string              `json:"CertificateAuthorityArn"`
	Tags                    []tag               `json:"Tags"`
	KeyAlgorithm            string              `json:"KeyAlgorithm"`
	ManagedBy               string              `json:"ManagedBy"`
}

// json0 accepts any JSON value (fields Sigil reads but does not use).
type json0 = map[string]any

type arnOutput struct {
	CertificateArn string `json:"CertificateArn"`
}

func (h handlers) request(ctx context.Context, c *awsjson.Call, in *requestInput) (*arnOutput, error) {
	if in.ManagedBy != "" {
		return nil, errs.Coded(errs.Invalid, certmgr.CodeInvalidParameter, "ManagedBy %q is not available: Sigil certificates are not managed by another service.", in.ManagedBy)
	}
	req := certmgr.RequestInput{
		DomainName: in.DomainName, SANs: in.SubjectAlternativeNames, KeyAlgorithm: in.KeyAlgorithm,
		CAARN: in.CertificateAuthorityArn, IdempotencyToken: in.IdempotencyToken,
		ValidationMethod: in.ValidationMethod, Tags: toTags(in.Tags),
	}
	if in.Options != nil {
		req.ExportOption = in.Options.Export
	}
	arn, err := h.m.Request(ctx, c.Principal, req)
	if err != nil {
		return nil, err
	}
	return &arnOutput{CertificateArn: arn}, nil
}

type arnInput struct {
	CertificateArn string `json:"CertificateArn"`
}

func (in *arnInput) check() error {
	if in.CertificateArn == "" {
		return awsjson.Required("certificateArn")
	}
	return nil
}

type describeOutput struct {
	Certificate certificateDetail `json:"Certificate"`
}

func (h handlers) describe(ctx context.Context, c *awsjson.Call, in *arnInput) (*describeOutput, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	d, err := h.m.Describe(ctx, c.Principal, in.CertificateArn)
	if err != nil {
		return nil, err
	}
	return &describeOutput{Certificate: toDetail(d)}, nil
}

type getOutput struct {
	Certificate      string `json:"Certificate"`
	CertificateChain string `json:"CertificateChain,omitempty"`
}

func (h handlers) get(ctx context.Context, c *awsjson.Call, in *arnInput) (*getOutput, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	cert, chain, err := h.m.Get(ctx, c.Principal, in.CertificateArn)
	if err != nil {
		return nil, err
	}
	return &getOutput{Certificate: string(cert), CertificateChain: string(chain)}, nil
}

type filters struct {
	ExtendedKeyUsage []string `json:"extendedKeyUsage"`
	KeyUsage         []string `json:"keyUsage"`
	KeyTypes         []string `json:"keyTypes"`
	ExportOption     string   `json:"exportOption"`
	ManagedBy        string   `json:"managedBy"`
}

type listInput struct {
	CertificateStatuses       []string `json:"CertificateStatuses"`
	Includes                  *filters `json:"Includes"`
	CertificateKeyPairOrigins []string `json:"CertificateKeyPairOrigins"`
	NextToken                 string   `json:"NextToken"`
	MaxItems                  int      `json:"MaxItems"`
	SortBy                    string   `json:"SortBy"`
	SortOrder                 string   `json:"SortOrder"`
}

type listOutput struct {
	NextToken              string               `json:"NextToken,omitempty"`
	CertificateSummaryList []certificateSummary `json:"CertificateSummaryList"`
}

func (h handlers) list(ctx context.Context, c *awsjson.Call, in *listInput) (*listOutput, error) {
	li := certmgr.ListInput{
		Statuses: in.CertificateStatuses, KeyPairOrigins: in.CertificateKeyPairOrigins, MaxItems: in.MaxItems,
		NextToken: in.NextToken, SortBy: in.SortBy, SortOrder: in.SortOrder,
	}
	if f := in.Includes; f != nil {
		li.KeyTypes, li.KeyUsages, li.ExtKeyUsages = f.KeyTypes, f.KeyUsage, f.ExtendedKeyUsage
		li.ExportOption, li.ManagedBy = f.ExportOption, f.ManagedBy
	}
	page, err := h.m.List(ctx, c.Principal, li)
	if err != nil {
		return nil, err
	}
	out := &listOutput{NextToken: page.NextToken, CertificateSummaryList: []certificateSummary{}}
	for _, cert := range page.Certificates {
		out.CertificateSummaryList = append(out.CertificateSummaryList, toSummary(cert))
	}
	return out, nil
}

type exportInput struct {
	CertificateArn string `json:"CertificateArn"`
	Passphrase     []byte `json:"Passphrase"`
}

type exportOutput struct {
	Certificate      string `json:"Certificate"`
	CertificateChain string `json:"CertificateChain,omitempty"`
	PrivateKey       string `json:"PrivateKey"`
}

func (h handlers) export(ctx context.Context, c *awsjson.Call, in *exportInput) (*exportOutput, error) {
	if in.CertificateArn == "" {
		return nil, awsjson.Required("certificateArn")
	}
	if in.Passphrase == nil {
		return nil, awsjson.Required("passphrase")
	}
	e, err := h.m.Export(ctx, c.Principal, in.CertificateArn, in.Passphrase)
	clear(in.Passphrase)
	if err != nil {
		return nil, err
	}
	return &exportOutput{Certificate: string(e.Certificate), CertificateChain: string(e.Chain), PrivateKey: string(e.PrivateKey)}, nil
}

type importInput struct {
	CertificateArn   string `json:"CertificateArn"`
	Certificate      []byte `json:"Certificate"`
	PrivateKey       []byte `json:"PrivateKey"`
	CertificateChain []byte `json:"CertificateChain"`
	Tags             []tag  `json:"Tags"`
}

func (h handlers) importCert(ctx context.Context, c *awsjson.Call, in *importInput) (*arnOutput, error) {
	arn, err := h.m.Import(ctx, c.Principal, certmgr.ImportInput{
		ARN: in.CertificateArn, Certificate: in.Certificate, PrivateKey: in.PrivateKey, Chain: in.CertificateChain,
		Tags: toTags(in.Tags),
	})
	clear(in.PrivateKey)
	if err != nil {
		return nil, err
	}
	return &arnOutput{CertificateArn: arn}, nil
}

func (h handlers) renew(ctx context.Context, c *awsjson.Call, in *arnInput) (*empty, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	return &empty{}, h.m.Renew(ctx, c.Principal, in.CertificateArn)
}

func (h handlers) delete(ctx context.Context, c *awsjson.Call, in *arnInput) (*empty, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	return &empty{}, h.m.Delete(ctx, c.Principal, in.CertificateArn)
}

type tagsInput struct {
	CertificateArn string `json:"CertificateArn"`
	Tags           []tag  `json:"Tags"`
}

func (h handlers) addTags(ctx context.Context, c *awsjson.Call, in *tagsInput) (*empty, error) {
	if in.CertificateArn == "" {
		return nil, awsjson.Required("certificateArn")
	}
	if in.Tags == nil {
		return nil, awsjson.Required("tags")
	}
	return &empty{}, h.m.AddTags(ctx, c.Principal, in.CertificateArn, toTags(in.Tags))
}

func (h handlers) removeTags(ctx context.Context, c *awsjson.Call, in *tagsInput) (*empty, error) {
	if in.CertificateArn == "" {
		return nil, awsjson.Required("certificateArn")
	}
	if in.Tags == nil {
		return nil, awsjson.Required("tags")
	}
	return &empty{}, h.m.RemoveTags(ctx, c.Principal, in.CertificateArn, toTags(in.Tags))
}

type listTagsOutput struct {
	Tags []tag `json:"Tags"`
}

func (h handlers) listTags(ctx context.Context, c *awsjson.Call, in *arnInput) (*listTagsOutput, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	ts, err := h.m.ListTags(ctx, c.Principal, in.CertificateArn)
	if err != nil {
		return nil, err
	}
	out := &listTagsOutput{Tags: []tag{}}
	for _, t := range ts {
		v := t.Value
		out.Tags = append(out.Tags, tag{Key: t.Key, Value: &v})
	}
	return out, nil
}

type expiryEvents struct {
	DaysBeforeExpiry *int `json:"DaysBeforeExpiry,omitempty"`
}

type accountConfig struct {
	ExpiryEvents *expiryEvents `json:"ExpiryEvents,omitempty"`
}

func (h handlers) getAccountConfig(ctx context.Context, c *awsjson.Call, _ *empty) (*accountConfig, error) {
	cfg, err := h.m.GetAccountConfiguration(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	d := cfg.DaysBeforeExpiry
	return &accountConfig{ExpiryEvents: &expiryEvents{DaysBeforeExpiry: &d}}, nil
}

type putAccountConfigInput struct {
	ExpiryEvents     *expiryEvents `json:"ExpiryEvents"`
	IdempotencyToken string        `json:"IdempotencyToken"`
}

func (h handlers) putAccountConfig(ctx context.Context, c *awsjson.Call, in *putAccountConfigInput) (*empty, error) {
	var days *int
	if in.ExpiryEvents != nil {
		days = in.ExpiryEvents.DaysBeforeExpiry
	}
	return &empty{}, h.m.PutAccountConfiguration(ctx, c.Principal, in.IdempotencyToken, days)
}
