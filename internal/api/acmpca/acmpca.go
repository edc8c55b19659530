// Package acmpca is the AWS Private CA API (acm-pca, 2017-08-22) over the
// ca domain service: one thin handler per operation that decodes the AWS wire
// shape, calls the domain, and encodes the answer. Nothing here decides
// anything about certificates.
package acmpca

import (
	"context"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/ca"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// CA is the domain API this adapter needs (satisfied by *ca.Service).
type CA interface {
	Create(ctx context.Context, p iam.Principal, in ca.CreateInput) (string, error)
	Describe(ctx context.Context, p iam.Principal, arn string) (*ca.Authority, error)
	List(ctx context.Context, p iam.Principal, in ca.ListInput) (*ca.ListOutput, error)
	CSR(ctx context.Context, p iam.Principal, arn string) ([]byte, error)
	ImportCertificate(ctx context.Context, p iam.Principal, arn string, cert, chain []byte) error
	Certificate(ctx context.Context, p iam.Principal, arn string) ([]byte, []byte, error)
	Issue(ctx context.Context, p iam.Principal, in ca.IssueInput) (string, error)
	GetCertificate(ctx context.Context, p iam.Principal, caARN, certARN string) ([]byte, []byte, error)
	Update(ctx context.Context, p iam.Principal, in ca.UpdateInput) error
	Delete(ctx context.Context, p iam.Principal, arn string, days *int) error
	Restore(ctx context.Context, p iam.Principal, arn string) error
	Tag(ctx context.Context, p iam.Principal, arn string, tags []ca.Tag) error
	Untag(ctx context.Context, p iam.Principal, arn string, tags []ca.Tag) error
	ListTags(ctx context.Context, p iam.Principal, arn string, max int, next string) (*ca.TagPage, error)
	Revoke(ctx context.Context, p iam.Principal, caARN, serial, reason string) error
	CreateAuditReport(ctx context.Context, p iam.Principal, caARN, bucket, format string) (string, string, error)
	DescribeAuditReport(ctx context.Context, p iam.Principal, caARN, id string) (*ca.AuditReport, error)
	PutPolicy(ctx context.Context, p iam.Principal, arn, policy string) error
	GetPolicy(ctx context.Context, p iam.Principal, arn string) (string, error)
	DeletePolicy(ctx context.Context, p iam.Principal, arn string) error
	CreatePermission(ctx context.Context, p iam.Principal, in ca.CreatePermissionInput) error
	ListPermissions(ctx context.Context, p iam.Principal, arn string, max int, next string) ([]*ca.Permission, string, error)
	DeletePermission(ctx context.Context, p iam.Principal, arn, principal, sourceAccount string) error
}

var _ CA = (*ca.Service)(nil)

// Errors maps domain errors to acm-pca's wire errors.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		ca.CodeInvalidArgs:          "InvalidArgsException",
		ca.CodeInvalidArn:           "InvalidArnException",
		ca.CodeInvalidRequest:       "InvalidRequestException",
		ca.CodeInvalidTag:           "InvalidTagException",
		ca.CodeTooManyTags:          "TooManyTagsException",
		ca.CodeInvalidNextToken:     "InvalidNextTokenException",
		ca.CodeMalformedCSR:         "MalformedCSRException",
		ca.CodeMalformedCertificate: "MalformedCertificateException",
		ca.CodeCertificateMismatch:  "CertificateMismatchException",
		ca.CodeConcurrentModify:     "ConcurrentModificationException",
		ca.CodeAlreadyProcessed:     "RequestAlreadyProcessedException",
		ca.CodeInProgress:           "RequestInProgressException",
		ca.CodeInvalidPolicy:        "InvalidPolicyException",
		ca.CodePermissionExists:     "PermissionAlreadyExistsException",
	},
	ByKind: map[errs.Kind]string{
		errs.NotFound: "ResourceNotFoundException",
		errs.State:    "InvalidStateException",
		errs.Conflict: "ConcurrentModificationException",
	},
}

// Service returns the acm-pca operation table.
func Service(svc CA) *awsjson.Service {
	h := handlers{svc}
	return &awsjson.Service{
		TargetPrefix: "ACMPrivateCA",
		SigningName:  "acm-pca",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"CreateCertificateAuthority":              awsjson.Op(h.createCA),
			"DescribeCertificateAuthority":            awsjson.Op(h.describeCA),
			"ListCertificateAuthorities":              awsjson.Op(h.listCAs),
			"GetCertificateAuthorityCsr":              awsjson.Op(h.getCSR),
			"ImportCertificateAuthorityCertificate":   awsjson.Op(h.importCACert),
			"GetCertificateAuthorityCertificate":      awsjson.Op(h.getCACert),
			"IssueCertificate":                        awsjson.Op(h.issue),
			"GetCertificate":                          awsjson.Op(h.getCert),
			"UpdateCertificateAuthority":              awsjson.Op(h.updateCA),
			"DeleteCertificateAuthority":              awsjson.Op(h.deleteCA),
			"RestoreCertificateAuthority":             awsjson.Op(h.restoreCA),
			"TagCertificateAuthority":                 awsjson.Op(h.tagCA),
			"UntagCertificateAuthority":               awsjson.Op(h.untagCA),
			"ListTags":                                awsjson.Op(h.listTags),
			"RevokeCertificate":                       awsjson.Op(h.revoke),
			"CreateCertificateAuthorityAuditReport":   awsjson.Op(h.createAuditReport),
			"DescribeCertificateAuthorityAuditReport": awsjson.Op(h.describeAuditReport),
			"PutPolicy":                               awsjson.Op(h.putPolicy),
			"GetPolicy":                               awsjson.Op(h.getPolicy),
			"DeletePolicy":                            awsjson.Op(h.deletePolicy),
			"CreatePermission":                        awsjson.Op(h.createPermission),
			"ListPermissions":                         awsjson.Op(h.listPermissions),
			"DeletePermission":                        awsjson.Op(h.deletePermission),
		},
	}
}

type handlers struct{ ca CA }

type empty struct{}

// ---- wire shapes ----

type tag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

type crlConfiguration struct {
	Enabled                                    *bool   `json:"Enabled,omitempty"`
	ExpirationInDays                           *int    `json:"ExpirationInDays,omitempty"`
	CustomCname                                string  `json:"CustomCname,omitempty"`
	S3BucketName                               string  `json:"S3BucketName,omitempty"`
	S3ObjectAcl                                string  `json:"S3ObjectAcl,omitempty"`
	CrlDistributionPointExtensionConfiguration *cdpExt `json:"CrlDistributionPointExtensionConfiguration,omitempty"`
	CrlType                                    string  `json:"CrlType,omitempty"`
	CustomPath                                 string  `json:"CustomPath,omitempty"`
}

type cdpExt struct {
	OmitExtension *bool `json:"OmitExtension,omitempty"`
}

type ocspConfiguration struct {
	Enabled         *bool  `json:"Enabled,omitempty"`
	OcspCustomCname string `json:"OcspCustomCname,omitempty"`
}

type revocationConfiguration struct {
	CrlConfiguration  *crlConfiguration  `json:"CrlConfiguration,omitempty"`
	OcspConfiguration *ocspConfiguration `json:"OcspConfiguration,omitempty"`
}

type certificateAuthority struct {
	Arn                               string                   `json:"Arn"`
	OwnerAccount                      string                   `json:"OwnerAccount"`
	CreatedAt                         *awsjson.Time            `json:"CreatedAt,omitempty"`
	LastStateChangeAt                 *awsjson.Time            `json:"LastStateChangeAt,omitempty"`
	Type                              string                   `json:"Type"`
	Serial                            string                   `json:"Serial,omitempty"`
	Status                            string                   `json:"Status"`
	NotBefore                         *awsjson.Time            `json:"NotBefore,omitempty"`
	NotAfter                          *awsjson.Time            `json:"NotAfter,omitempty"`
	FailureReason                     string                   `json:"FailureReason,omitempty"`
	CertificateAuthorityConfiguration ca.Config                `json:"CertificateAuthorityConfiguration"`
	RevocationConfiguration           *revocationConfiguration `json:"RevocationConfiguration,omitempty"`
	RestorableUntil                   *awsjson.Time            `json:"RestorableUntil,omitempty"`
	KeyStorageSecurityStandard        string                   `json:"KeyStorageSecurityStandard,omitempty"`
	UsageMode                         string                   `json:"UsageMode,omitempty"`
}

func toRevocation(w *revocationConfiguration) (*ca.RevocationConfig, error) {
	if w == nil {
		return nil, nil
	}
	out := &ca.RevocationConfig{}
	if c := w.CrlConfiguration; c != nil {
		if c.Enabled == nil {
			return nil, awsjson.Required("revocationConfiguration.crlConfiguration.enabled")
		}
		out.CRL = &ca.CRLConfig{Enabled: *c.Enabled, ExpirationInDays: c.ExpirationInDays, CustomCname: c.CustomCname,
			S3BucketName: c.S3BucketName, S3ObjectAcl: c.S3ObjectAcl, CrlType: c.CrlType, CustomPath: c.CustomPath}
		if c.CrlDistributionPointExtensionConfiguration != nil {
			if c.CrlDistributionPointExtensionConfiguration.OmitExtension == nil {
				return nil, awsjson.Required("revocationConfiguration.crlConfiguration.crlDistributionPointExtensionConfiguration.omitExtension")
			}
			out.CRL.OmitExtension = c.CrlDistributionPointExtensionConfiguration.OmitExtension
		}
	}
	if o := w.OcspConfiguration; o != nil {
		if o.Enabled == nil {
			return nil, awsjson.Required("revocationConfiguration.ocspConfiguration.enabled")
		}
		out.OCSP = &ca.OCSPConfig{Enabled: *o.Enabled, OcspCustomCname: o.OcspCustomCname}
	}
	return out, nil
}

func fromRevocation(r *ca.RevocationConfig) *revocationConfiguration {
	if r == nil {
		return nil
	}
	out := &revocationConfiguration{}
	if c := r.CRL; c != nil {
		en := c.Enabled
		out.CrlConfiguration = &crlConfiguration{Enabled: &en, ExpirationInDays: c.ExpirationInDays, CustomCname: c.CustomCname,
			S3BucketName: c.S3BucketName, S3ObjectAcl: c.S3ObjectAcl, CrlType: c.CrlType, CustomPath: c.CustomPath}
		if c.OmitExtension != nil {
			out.CrlConfiguration.CrlDistributionPointExtensionConfiguration = &cdpExt{OmitExtension: c.OmitExtension}
		}
	}
	if o := r.OCSP; o != nil {
		en := o.Enabled
		out.OcspConfiguration = &ocspConfiguration{Enabled: &en, OcspCustomCname: o.OcspCustomCname}
	}
	return out
}

func toWire(a *ca.Authority) certificateAuthority {
	return certificateAuthority{
		Arn: a.ARN, OwnerAccount: a.Account, CreatedAt: awsjson.TimePtr(a.CreatedAt),
		LastStateChangeAt: awsjson.TimePtr(a.LastStateChangeAt), Type: string(a.Type), Serial: a.Serial,
		Status: string(a.Status), NotBefore: awsjson.TimePtr(a.NotBefore), NotAfter: awsjson.TimePtr(a.NotAfter),
		FailureReason: a.FailureReason, CertificateAuthorityConfiguration: a.Config,
		RevocationConfiguration: fromRevocation(a.Revocation), RestorableUntil: awsjson.TimePtr(a.RestorableUntil),
		KeyStorageSecurityStandard: a.KeyStorageSecurityStandard, UsageMode: a.UsageMode,
	}
}

func toTags(ts []tag) []ca.Tag {
	out := make([]ca.Tag, len(ts))
	for i, t := range ts {
		out[i] = ca.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromStoreTags(ts []store.Tag) []tag {
	out := make([]tag, len(ts))
	for i, t := range ts {
		v := t.Value
		out[i] = tag{Key: t.Key, Value: &v}
	}
	return out
}

// ---- operations ----

type createCAInput struct {
	CertificateAuthorityConfiguration *ca.Config               `json:"CertificateAuthorityConfiguration"`
	CertificateAuthorityType          string                   `json:"CertificateAuthorityType"`
	RevocationConfiguration           *revocationConfiguration `json:"RevocationConfiguration"`
	IdempotencyToken                  string                   `json:"IdempotencyToken"`
	KeyStorageSecurityStandard        string                   `json:"KeyStorageSecurityStandard"`
	Tags                              []tag                    `json:"Tags"`
	UsageMode                         string                   `json:"UsageMode"`
}

type createCAOutput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
}

func (h handlers) createCA(ctx context.Context, c *awsjson.Call, in *createCAInput) (*createCAOutput, error) {
	if in.CertificateAuthorityConfiguration == nil {
		return nil, awsjson.Required("certificateAuthorityConfiguration")
	}
	if in.CertificateAuthorityType == "" {
		return nil, awsjson.Required("certificateAuthorityType")
	}
	rev, err := toRevocation(in.RevocationConfiguration)
	if err != nil {
		return nil, err
	}
	arn, err := h.ca.Create(ctx, c.Principal, ca.CreateInput{
		Type: ca.Type(in.CertificateAuthorityType), Config: *in.CertificateAuthorityConfiguration, Revocation: rev,
		UsageMode: in.UsageMode, KeyStorageSecurityStandard: in.KeyStorageSecurityStandard, Tags: toTags(in.Tags),
		IdempotencyToken: in.IdempotencyToken,
	})
	if err != nil {
		return nil, err
	}
	return &createCAOutput{CertificateAuthorityArn: arn}, nil
}

type caARNInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
}

func (in *caARNInput) check() error {
	if in.CertificateAuthorityArn == "" {
		return awsjson.Required("certificateAuthorityArn")
	}
	return nil
}

type describeCAOutput struct {
	CertificateAuthority certificateAuthority `json:"CertificateAuthority"`
}

func (h handlers) describeCA(ctx context.Context, c *awsjson.Call, in *caARNInput) (*describeCAOutput, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	a, err := h.ca.Describe(ctx, c.Principal, in.CertificateAuthorityArn)
	if err != nil {
		return nil, err
	}
	return &describeCAOutput{CertificateAuthority: toWire(a)}, nil
}

type listCAsInput struct {
	MaxResults    int    `json:"MaxResults"`
	NextToken     string `json:"NextToken"`
	ResourceOwner string `json:"ResourceOwner"`
}

type listCAsOutput struct {
	CertificateAuthorities []certificateAuthority `json:"CertificateAuthorities"`
	NextToken              string                 `json:"NextToken,omitempty"`
}

func (h handlers) listCAs(ctx context.Context, c *awsjson.Call, in *listCAsInput) (*listCAsOutput, error) {
	out, err := h.ca.List(ctx, c.Principal, ca.ListInput{MaxResults: in.MaxResults, NextToken: in.NextToken, ResourceOwner: in.ResourceOwner})
	if err != nil {
		return nil, err
	}
	res := &listCAsOutput{CertificateAuthorities: []certificateAuthority{}, NextToken: out.NextToken}
	for _, a := range out.Authorities {
		res.CertificateAuthorities = append(res.CertificateAuthorities, toWire(a))
	}
	return res, nil
}

type getCSROutput struct {
	Csr string `json:"Csr"`
}

func (h handlers) getCSR(ctx context.Context, c *awsjson.Call, in *caARNInput) (*getCSROutput, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	csr, err := h.ca.CSR(ctx, c.Principal, in.CertificateAuthorityArn)
	if err != nil {
		return nil, err
	}
	return &getCSROutput{Csr: string(csr)}, nil
}

type importInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
	Certificate             []byte `json:"Certificate"`
	CertificateChain        []byte `json:"CertificateChain"`
}

func (h handlers) importCACert(ctx context.Context, c *awsjson.Call, in *importInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	if len(in.Certificate) == 0 {
		return nil, awsjson.Required("certificate")
	}
	return nil, h.ca.ImportCertificate(ctx, c.Principal, in.CertificateAuthorityArn, in.Certificate, in.CertificateChain)
}

type certOutput struct {
	Certificate      string `json:"Certificate"`
	CertificateChain string `json:"CertificateChain,omitempty"`
}

func (h handlers) getCACert(ctx context.Context, c *awsjson.Call, in *caARNInput) (*certOutput, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	cert, chain, err := h.ca.Certificate(ctx, c.Principal, in.CertificateAuthorityArn)
	if err != nil {
		return nil, err
	}
	return &certOutput{Certificate: string(cert), CertificateChain: string(chain)}, nil
}

type apiPassthrough struct {
	Extensions *pki.Extensions `json:"Extensions"`
	Subject    *pki.Subject    `json:"Subject"`
}

type issueInput struct {
	CertificateAuthorityArn string          `json:"CertificateAuthorityArn"`
	Csr                     []byte          `json:"Csr"`
	SigningAlgorithm        string          `json:"SigningAlgorithm"`
	Validity                *pki.Validity   `json:"Validity"`
	ValidityNotBefore       *pki.Validity   `json:"ValidityNotBefore"`
	TemplateArn             string          `json:"TemplateArn"`
	ApiPassthrough          *apiPassthrough `json:"ApiPassthrough"`
	IdempotencyToken        string          `json:"IdempotencyToken"`
}

type issueOutput struct {
	CertificateArn string `json:"CertificateArn"`
}

func (h handlers) issue(ctx context.Context, c *awsjson.Call, in *issueInput) (*issueOutput, error) {
	switch {
	case in.CertificateAuthorityArn == "":
		return nil, awsjson.Required("certificateAuthorityArn")
	case len(in.Csr) == 0:
		return nil, awsjson.Required("csr")
	case in.SigningAlgorithm == "":
		return nil, awsjson.Required("signingAlgorithm")
	case in.Validity == nil:
		return nil, awsjson.Required("validity")
	}
	req := ca.IssueInput{
		CAARN: in.CertificateAuthorityArn, CSR: in.Csr, SigningAlgorithm: pki.SigningAlgorithm(in.SigningAlgorithm),
		Validity: *in.Validity, ValidityNotBefore: in.ValidityNotBefore, TemplateARN: in.TemplateArn,
		IdempotencyToken: in.IdempotencyToken,
	}
	if in.ApiPassthrough != nil {
		req.APISubject, req.APIExtensions = in.ApiPassthrough.Subject, in.ApiPassthrough.Extensions
	}
	arn, err := h.ca.Issue(ctx, c.Principal, req)
	if err != nil {
		return nil, err
	}
	return &issueOutput{CertificateArn: arn}, nil
}

type getCertInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
	CertificateArn          string `json:"CertificateArn"`
}

func (h handlers) getCert(ctx context.Context, c *awsjson.Call, in *getCertInput) (*certOutput, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	if in.CertificateArn == "" {
		return nil, awsjson.Required("certificateArn")
	}
	cert, chain, err := h.ca.GetCertificate(ctx, c.Principal, in.CertificateAuthorityArn, in.CertificateArn)
	if err != nil {
		return nil, err
	}
	return &certOutput{Certificate: string(cert), CertificateChain: string(chain)}, nil
}

type updateInput struct {
	CertificateAuthorityArn string                   `json:"CertificateAuthorityArn"`
	RevocationConfiguration *revocationConfiguration `json:"RevocationConfiguration"`
	Status                  string                   `json:"Status"`
}

func (h handlers) updateCA(ctx context.Context, c *awsjson.Call, in *updateInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	rev, err := toRevocation(in.RevocationConfiguration)
	if err != nil {
		return nil, err
	}
	return nil, h.ca.Update(ctx, c.Principal, ca.UpdateInput{ARN: in.CertificateAuthorityArn, Status: ca.Status(in.Status), Revocation: rev})
}

type deleteInput struct {
	CertificateAuthorityArn     string `json:"CertificateAuthorityArn"`
	PermanentDeletionTimeInDays *int   `json:"PermanentDeletionTimeInDays"`
}

func (h handlers) deleteCA(ctx context.Context, c *awsjson.Call, in *deleteInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	return nil, h.ca.Delete(ctx, c.Principal, in.CertificateAuthorityArn, in.PermanentDeletionTimeInDays)
}

func (h handlers) restoreCA(ctx context.Context, c *awsjson.Call, in *caARNInput) (*empty, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	return nil, h.ca.Restore(ctx, c.Principal, in.CertificateAuthorityArn)
}

type tagsInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
	Tags                    []tag  `json:"Tags"`
}

func (h handlers) tagCA(ctx context.Context, c *awsjson.Call, in *tagsInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	return nil, h.ca.Tag(ctx, c.Principal, in.CertificateAuthorityArn, toTags(in.Tags))
}

func (h handlers) untagCA(ctx context.Context, c *awsjson.Call, in *tagsInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	return nil, h.ca.Untag(ctx, c.Principal, in.CertificateAuthorityArn, toTags(in.Tags))
}

type listTagsInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
	MaxResults              int    `json:"MaxResults"`
	NextToken               string `json:"NextToken"`
}

type listTagsOutput struct {
	Tags      []tag  `json:"Tags"`
	NextToken string `json:"NextToken,omitempty"`
}

func (h handlers) listTags(ctx context.Context, c *awsjson.Call, in *listTagsInput) (*listTagsOutput, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	page, err := h.ca.ListTags(ctx, c.Principal, in.CertificateAuthorityArn, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &listTagsOutput{Tags: fromStoreTags(page.Tags), NextToken: page.NextToken}, nil
}

type revokeInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
	CertificateSerial       string `json:"CertificateSerial"`
	RevocationReason        string `json:"RevocationReason"`
}

func (h handlers) revoke(ctx context.Context, c *awsjson.Call, in *revokeInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	return nil, h.ca.Revoke(ctx, c.Principal, in.CertificateAuthorityArn, in.CertificateSerial, in.RevocationReason)
}

type createAuditReportInput struct {
	CertificateAuthorityArn   string `json:"CertificateAuthorityArn"`
	S3BucketName              string `json:"S3BucketName"`
	AuditReportResponseFormat string `json:"AuditReportResponseFormat"`
}

type createAuditReportOutput struct {
	AuditReportId string `json:"AuditReportId"`
	S3Key         string `json:"S3Key"`
}

func (h handlers) createAuditReport(ctx context.Context, c *awsjson.Call, in *createAuditReportInput) (*createAuditReportOutput, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	id, key, err := h.ca.CreateAuditReport(ctx, c.Principal, in.CertificateAuthorityArn, in.S3BucketName, in.AuditReportResponseFormat)
	if err != nil {
		return nil, err
	}
	return &createAuditReportOutput{AuditReportId: id, S3Key: key}, nil
}

type describeAuditReportInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
	AuditReportId           string `json:"AuditReportId"`
}

type describeAuditReportOutput struct {
	AuditReportStatus string        `json:"AuditReportStatus"`
	S3BucketName      string        `json:"S3BucketName"`
	S3Key             string        `json:"S3Key"`
	CreatedAt         *awsjson.Time `json:"CreatedAt,omitempty"`
}

func (h handlers) describeAuditReport(ctx context.Context, c *awsjson.Call, in *describeAuditReportInput) (*describeAuditReportOutput, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	r, err := h.ca.DescribeAuditReport(ctx, c.Principal, in.CertificateAuthorityArn, in.AuditReportId)
	if err != nil {
		return nil, err
	}
	return &describeAuditReportOutput{AuditReportStatus: r.Status, S3BucketName: r.Bucket, S3Key: r.Key,
		CreatedAt: awsjson.TimePtr(r.CreatedAt)}, nil
}
