// Package kms is the AWS KMS API subset (TrentService, 2014-11-01) over the
// kms domain service: one thin handler per operation that decodes the AWS
// wire shape, calls the domain, and encodes the answer.
package kms

import (
	"context"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/kms"
	"github.com/sigilhq/sigil/internal/tagging"
)

// Errors maps domain errors to KMS's wire errors.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		kms.CodeNotFound:          "NotFoundException",
		kms.CodeDisabled:          "DisabledException",
		kms.CodeInvalidState:      "KMSInvalidStateException",
		kms.CodeInvalidCiphertext: "InvalidCiphertextException",
		kms.CodeIncorrectKey:      "IncorrectKeyException",
		kms.CodeAlreadyExists:     "AlreadyExistsException",
		kms.CodeInvalidAliasName:  "InvalidAliasNameException",
		kms.CodeInvalidMarker:     "InvalidMarkerException",
		kms.CodeMalformedPolicy:   "MalformedPolicyDocumentException",
		kms.CodeInvalidArn:        "InvalidArnException",
		kms.CodeUnsupported:       "UnsupportedOperationException",
		kms.CodeTag:               "TagException",
		kms.CodeLimit:             "LimitExceededException",
		"InvalidKeyUsage":         "InvalidKeyUsageException",
	},
	ByKind: map[errs.Kind]string{
		errs.NotFound: "NotFoundException",
		errs.State:    "KMSInvalidStateException",
		errs.Conflict: "KMSInvalidStateException",
		errs.Internal: "KMSInternalException",
	},
}

// Service returns the kms operation table.
func Service(s *kms.Service) *awsjson.Service {
	h := handlers{s}
	return &awsjson.Service{
		TargetPrefix: "TrentService",
		SigningName:  "kms",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"CreateKey":                       awsjson.Op(h.createKey),
			"DescribeKey":                     awsjson.Op(h.describeKey),
			"ListKeys":                        awsjson.Op(h.listKeys),
			"CreateAlias":                     awsjson.Op(h.createAlias),
			"UpdateAlias":                     awsjson.Op(h.updateAlias),
			"DeleteAlias":                     awsjson.Op(h.deleteAlias),
			"ListAliases":                     awsjson.Op(h.listAliases),
			"Encrypt":                         awsjson.Op(h.encrypt),
			"Decrypt":                         awsjson.Op(h.decrypt),
			"GenerateDataKey":                 awsjson.Op(h.generateDataKey),
			"GenerateDataKeyWithoutPlaintext": awsjson.Op(h.generateDataKeyWithoutPlaintext),
			"ReEncrypt":                       awsjson.Op(h.reEncrypt),
			"GenerateRandom":                  awsjson.Op(h.generateRandom),
			"EnableKey":                       awsjson.Op(h.enableKey),
			"DisableKey":                      awsjson.Op(h.disableKey),
			"ScheduleKeyDeletion":             awsjson.Op(h.scheduleDeletion),
			"CancelKeyDeletion":               awsjson.Op(h.cancelDeletion),
			"GetKeyPolicy":                    awsjson.Op(h.getKeyPolicy),
			"PutKeyPolicy":                    awsjson.Op(h.putKeyPolicy),
			"EnableKeyRotation":               awsjson.Op(h.enableRotation),
			"DisableKeyRotation":              awsjson.Op(h.disableRotation),
			"GetKeyRotationStatus":            awsjson.Op(h.rotationStatus),
			"RotateKeyOnDemand":               awsjson.Op(h.rotateOnDemand),
			"TagResource":                     awsjson.Op(h.tagResource),
			"UntagResource":                   awsjson.Op(h.untagResource),
			"ListResourceTags":                awsjson.Op(h.listResourceTags),
		},
	}
}

type handlers struct{ s *kms.Service }

type tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

type keyMetadata struct {
	AWSAccountID          string        `json:"AWSAccountId"`
	KeyID                 string        `json:"KeyId"`
	Arn                   string        `json:"Arn"`
	CreationDate          *awsjson.Time `json:"CreationDate,omitempty"`
	Enabled               bool          `json:"Enabled"`
	Description           string        `json:"Description"`
	KeyUsage              string        `json:"KeyUsage"`
	KeyState              string        `json:"KeyState"`
	DeletionDate          *awsjson.Time `json:"DeletionDate,omitempty"`
	Origin                string        `json:"Origin"`
	KeyManager            string        `json:"KeyManager"`
	CustomerMasterKeySpec string        `json:"CustomerMasterKeySpec"`
	KeySpec               string        `json:"KeySpec"`
	EncryptionAlgorithms  []string      `json:"EncryptionAlgorithms"`
	MultiRegion           bool          `json:"MultiRegion"`
}

func toMetadata(k *kms.Key) *keyMetadata {
	return &keyMetadata{AWSAccountID: k.Account, KeyID: k.ID, Arn: k.ARN, CreationDate: awsjson.TimePtr(k.CreatedAt),
		Enabled: k.State == kms.StateEnabled, Description: k.Description, KeyUsage: k.KeyUsage, KeyState: k.State,
		DeletionDate: awsjson.TimePtr(k.DeletionAt), Origin: k.Origin, KeyManager: k.KeyManager,
		CustomerMasterKeySpec: k.KeySpec, KeySpec: k.KeySpec, EncryptionAlgorithms: []string{kms.AlgorithmSymmetric}}
}

type keyMetadataOutput struct {
	KeyMetadata *keyMetadata `json:"KeyMetadata"`
}

type createKeyInput struct {
	Description                    string `json:"Description"`
	KeyUsage                       string `json:"KeyUsage"`
	KeySpec                        string `json:"KeySpec"`
	CustomerMasterKeySpec          string `json:"CustomerMasterKeySpec"`
	Origin                         string `json:"Origin"`
	Policy                         string `json:"Policy"`
	MultiRegion                    bool   `json:"MultiRegion"`
	Tags                           []tag  `json:"Tags"`
	BypassPolicyLockoutSafetyCheck bool   `json:"BypassPolicyLockoutSafetyCheck"`
}

func toTags(ts []tag) []tagging.Tag {
	out := make([]tagging.Tag, len(ts))
	for i, t := range ts {
		v := t.TagValue
		out[i] = tagging.Tag{Key: t.TagKey, Value: &v}
	}
	return out
}

func (h handlers) createKey(ctx context.Context, c *awsjson.Call, in *createKeyInput) (*keyMetadataOutput, error) {
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	}
	k, err := h.s.CreateKey(ctx, c.Principal, kms.CreateKeyInput{Description: in.Description, KeyUsage: in.KeyUsage,
		KeySpec: spec, Origin: in.Origin, Policy: in.Policy, MultiRegion: in.MultiRegion, Tags: toTags(in.Tags)})
	if err != nil {
		return nil, err
	}
	return &keyMetadataOutput{toMetadata(k)}, nil
}

type keyIDInput struct {
	KeyID string `json:"KeyId"`
}

func (h handlers) describeKey(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*keyMetadataOutput, error) {
	k, err := h.s.DescribeKey(ctx, c.Principal, in.KeyID)
	if err != nil {
		return nil, err
	}
	return &keyMetadataOutput{toMetadata(k)}, nil
}

type pageInput struct {
	KeyID  string `json:"KeyId"`
	Limit  int    `json:"Limit"`
	Marker string `json:"Marker"`
}

type keyEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyEntry `json:"Keys"`
	NextMarker string     `json:"NextMarker,omitempty"`
	Truncated  bool       `json:"Truncated"`
}

func (h handlers) listKeys(ctx context.Context, c *awsjson.Call, in *pageInput) (*listKeysOutput, error) {
	page, err := h.s.ListKeys(ctx, c.Principal, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := &listKeysOutput{Keys: []keyEntry{}, NextMarker: page.NextMarker, Truncated: page.NextMarker != ""}
	for _, k := range page.Keys {
		out.Keys = append(out.Keys, keyEntry{KeyID: k.ID, KeyArn: k.ARN})
	}
	return out, nil
}

type aliasInput struct {
	AliasName   string `json:"AliasName"`
	TargetKeyID string `json:"TargetKeyId"`
}

func (h handlers) createAlias(ctx context.Context, c *awsjson.Call, in *aliasInput) (*struct{}, error) {
	if in.TargetKeyID == "" {
		return nil, awsjson.Required("targetKeyId")
	}
	return nil, h.s.CreateAlias(ctx, c.Principal, in.AliasName, in.TargetKeyID)
}

func (h handlers) updateAlias(ctx context.Context, c *awsjson.Call, in *aliasInput) (*struct{}, error) {
	if in.TargetKeyID == "" {
		return nil, awsjson.Required("targetKeyId")
	}
	return nil, h.s.UpdateAlias(ctx, c.Principal, in.AliasName, in.TargetKeyID)
}

func (h handlers) deleteAlias(ctx context.Context, c *awsjson.Call, in *aliasInput) (*struct{}, error) {
	return nil, h.s.DeleteAlias(ctx, c.Principal, in.AliasName)
}

type aliasEntry struct {
	AliasName       string        `json:"AliasName"`
	AliasArn        string        `json:"AliasArn"`
	TargetKeyID     string        `json:"TargetKeyId,omitempty"`
	CreationDate    *awsjson.Time `json:"CreationDate,omitempty"`
	LastUpdatedDate *awsjson.Time `json:"LastUpdatedDate,omitempty"`
}

type listAliasesOutput struct {
	Aliases    []aliasEntry `json:"Aliases"`
	NextMarker string       `json:"NextMarker,omitempty"`
	Truncated  bool         `json:"Truncated"`
}

func (h handlers) listAliases(ctx context.Context, c *awsjson.Call, in *pageInput) (*listAliasesOutput, error) {
	page, err := h.s.ListAliases(ctx, c.Principal, in.KeyID, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := &listAliasesOutput{Aliases: []aliasEntry{}, NextMarker: page.NextMarker, Truncated: page.NextMarker != ""}
	for _, a := range page.Aliases {
		out.Aliases = append(out.Aliases, aliasEntry{AliasName: a.Name, AliasArn: a.ARN, TargetKeyID: a.TargetKeyID,
			CreationDate: awsjson.TimePtr(a.CreatedAt), LastUpdatedDate: awsjson.TimePtr(a.UpdatedAt)})
	}
	return out, nil
}

func checkAlgorithm(alg string) error {
	if alg != "" && alg != kms.AlgorithmSymmetric {
		return errs.Coded(errs.Invalid, "InvalidKeyUsage", "The encryption algorithm %s is not valid for a symmetric key; use SYMMETRIC_DEFAULT.", alg)
	}
	return nil
}

type encryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	GrantTokens         []string          `json:"GrantTokens"`
	DryRun              bool              `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (h handlers) encrypt(ctx context.Context, c *awsjson.Call, in *encryptInput) (*encryptOutput, error) {
	if in.Plaintext == nil {
		return nil, awsjson.Required("plaintext")
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	blob, arn, err := h.s.Encrypt(ctx, c.Principal, in.KeyID, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &encryptOutput{CiphertextBlob: blob, KeyID: arn, EncryptionAlgorithm: kms.AlgorithmSymmetric}, nil
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	KeyID               string            `json:"KeyId"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	GrantTokens         []string          `json:"GrantTokens"`
}

type decryptOutput struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (h handlers) decrypt(ctx context.Context, c *awsjson.Call, in *decryptInput) (*decryptOutput, error) {
	if in.CiphertextBlob == nil {
		return nil, awsjson.Required("ciphertextBlob")
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	pt, arn, err := h.s.Decrypt(ctx, c.Principal, in.CiphertextBlob, in.EncryptionContext, in.KeyID)
	if err != nil {
		return nil, err
	}
	return &decryptOutput{KeyID: arn, Plaintext: pt, EncryptionAlgorithm: kms.AlgorithmSymmetric}, nil
}

type dataKeyInput struct {
	KeyID             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     int               `json:"NumberOfBytes"`
	KeySpec           string            `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
}

type dataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext,omitempty"`
	KeyID          string `json:"KeyId"`
}

func (h handlers) dataKey(ctx context.Context, c *awsjson.Call, in *dataKeyInput, action string) (*dataKeyOutput, error) {
	if in.KeyID == "" {
		return nil, awsjson.Required("keyId")
	}
	size, err := kms.DataKeySize(in.KeySpec, in.NumberOfBytes)
	if err != nil {
		return nil, err
	}
	pt, blob, arn, err := h.s.GenerateDataKey(ctx, c.Principal, in.KeyID, in.EncryptionContext, size, action)
	if err != nil {
		return nil, err
	}
	out := &dataKeyOutput{CiphertextBlob: blob, KeyID: arn}
	if action == "kms:GenerateDataKey" {
		out.Plaintext = pt
	} else {
		clear(pt)
	}
	return out, nil
}

func (h handlers) generateDataKey(ctx context.Context, c *awsjson.Call, in *dataKeyInput) (*dataKeyOutput, error) {
	return h.dataKey(ctx, c, in, "kms:GenerateDataKey")
}

func (h handlers) generateDataKeyWithoutPlaintext(ctx context.Context, c *awsjson.Call, in *dataKeyInput) (*dataKeyOutput, error) {
	return h.dataKey(ctx, c, in, "kms:GenerateDataKeyWithoutPlaintext")
}

type reEncryptInput struct {
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
	SourceKeyID                    string            `json:"SourceKeyId"`
	DestinationKeyID               string            `json:"DestinationKeyId"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
	SourceEncryptionAlgorithm      string            `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string            `json:"DestinationEncryptionAlgorithm"`
}

type reEncryptOutput struct {
	CiphertextBlob                 []byte `json:"CiphertextBlob"`
	SourceKeyID                    string `json:"SourceKeyId"`
	KeyID                          string `json:"KeyId"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm"`
}

func (h handlers) reEncrypt(ctx context.Context, c *awsjson.Call, in *reEncryptInput) (*reEncryptOutput, error) {
	if in.CiphertextBlob == nil {
		return nil, awsjson.Required("ciphertextBlob")
	}
	for _, a := range []string{in.SourceEncryptionAlgorithm, in.DestinationEncryptionAlgorithm} {
		if err := checkAlgorithm(a); err != nil {
			return nil, err
		}
	}
	blob, src, dst, err := h.s.ReEncrypt(ctx, c.Principal, in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyID,
		in.DestinationKeyID, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return &reEncryptOutput{CiphertextBlob: blob, SourceKeyID: src, KeyID: dst,
		SourceEncryptionAlgorithm: kms.AlgorithmSymmetric, DestinationEncryptionAlgorithm: kms.AlgorithmSymmetric}, nil
}

type randomInput struct {
	NumberOfBytes int `json:"NumberOfBytes"`
}

type randomOutput struct {
	Plaintext []byte `json:"Plaintext"`
}

func (h handlers) generateRandom(ctx context.Context, c *awsjson.Call, in *randomInput) (*randomOutput, error) {
	b, err := h.s.GenerateRandom(ctx, c.Principal, in.NumberOfBytes)
	if err != nil {
		return nil, err
	}
	return &randomOutput{Plaintext: b}, nil
}

func (h handlers) enableKey(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*struct{}, error) {
	return nil, h.s.EnableKey(ctx, c.Principal, in.KeyID)
}

func (h handlers) disableKey(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*struct{}, error) {
	return nil, h.s.DisableKey(ctx, c.Principal, in.KeyID)
}

type scheduleInput struct {
	KeyID               string `json:"KeyId"`
	PendingWindowInDays int    `json:"PendingWindowInDays"`
}

type scheduleOutput struct {
	KeyID               string        `json:"KeyId"`
	DeletionDate        *awsjson.Time `json:"DeletionDate,omitempty"`
	KeyState            string        `json:"KeyState"`
	PendingWindowInDays int           `json:"PendingWindowInDays"`
}

func (h handlers) scheduleDeletion(ctx context.Context, c *awsjson.Call, in *scheduleInput) (*scheduleOutput, error) {
	k, err := h.s.ScheduleKeyDeletion(ctx, c.Principal, in.KeyID, in.PendingWindowInDays)
	if err != nil {
		return nil, err
	}
	days := in.PendingWindowInDays
	if days == 0 {
		days = 30
	}
	return &scheduleOutput{KeyID: k.ARN, DeletionDate: awsjson.TimePtr(k.DeletionAt), KeyState: k.State, PendingWindowInDays: days}, nil
}

type keyIDOutput struct {
	KeyID string `json:"KeyId"`
}

func (h handlers) cancelDeletion(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*keyIDOutput, error) {
	k, err := h.s.CancelKeyDeletion(ctx, c.Principal, in.KeyID)
	if err != nil {
		return nil, err
	}
	return &keyIDOutput{KeyID: k.ARN}, nil
}

type policyInput struct {
	KeyID      string `json:"KeyId"`
	PolicyName string `json:"PolicyName"`
	Policy     string `json:"Policy"`
}

type policyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

func (h handlers) getKeyPolicy(ctx context.Context, c *awsjson.Call, in *policyInput) (*policyOutput, error) {
	p, err := h.s.GetKeyPolicy(ctx, c.Principal, in.KeyID, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &policyOutput{Policy: p, PolicyName: "default"}, nil
}

func (h handlers) putKeyPolicy(ctx context.Context, c *awsjson.Call, in *policyInput) (*struct{}, error) {
	return nil, h.s.PutKeyPolicy(ctx, c.Principal, in.KeyID, in.PolicyName, in.Policy)
}

type rotationInput struct {
	KeyID                string `json:"KeyId"`
	RotationPeriodInDays int    `json:"RotationPeriodInDays"`
}

func (h handlers) enableRotation(ctx context.Context, c *awsjson.Call, in *rotationInput) (*struct{}, error) {
	return nil, h.s.EnableKeyRotation(ctx, c.Principal, in.KeyID, in.RotationPeriodInDays)
}

func (h handlers) disableRotation(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*struct{}, error) {
	return nil, h.s.DisableKeyRotation(ctx, c.Principal, in.KeyID)
}

type rotationStatusOutput struct {
	KeyID                string        `json:"KeyId"`
	KeyRotationEnabled   bool          `json:"KeyRotationEnabled"`
	RotationPeriodInDays int           `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate     *awsjson.Time `json:"NextRotationDate,omitempty"`
}

func (h handlers) rotationStatus(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*rotationStatusOutput, error) {
	st, err := h.s.GetKeyRotationStatus(ctx, c.Principal, in.KeyID)
	if err != nil {
		return nil, err
	}
	return &rotationStatusOutput{KeyID: st.KeyID, KeyRotationEnabled: st.Enabled, RotationPeriodInDays: st.PeriodDays,
		NextRotationDate: awsjson.TimePtr(st.NextRotationAt)}, nil
}

func (h handlers) rotateOnDemand(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*keyIDOutput, error) {
	arn, err := h.s.RotateKeyOnDemand(ctx, c.Principal, in.KeyID)
	if err != nil {
		return nil, err
	}
	return &keyIDOutput{KeyID: arn}, nil
}

type tagInput struct {
	KeyID   string   `json:"KeyId"`
	Tags    []tag    `json:"Tags"`
	TagKeys []string `json:"TagKeys"`
}

func (h handlers) tagResource(ctx context.Context, c *awsjson.Call, in *tagInput) (*struct{}, error) {
	if in.Tags == nil {
		return nil, awsjson.Required("tags")
	}
	return nil, h.s.TagResource(ctx, c.Principal, in.KeyID, toTags(in.Tags))
}

func (h handlers) untagResource(ctx context.Context, c *awsjson.Call, in *tagInput) (*struct{}, error) {
	if in.TagKeys == nil {
		return nil, awsjson.Required("tagKeys")
	}
	return nil, h.s.UntagResource(ctx, c.Principal, in.KeyID, in.TagKeys)
}

type listTagsOutput struct {
	Tags      []tag `json:"Tags"`
	Truncated bool  `json:"Truncated"`
}

func (h handlers) listResourceTags(ctx context.Context, c *awsjson.Call, in *keyIDInput) (*listTagsOutput, error) {
	ts, err := h.s.ListResourceTags(ctx, c.Principal, in.KeyID)
	if err != nil {
		return nil, err
	}
	out := &listTagsOutput{Tags: []tag{}}
	for _, t := range ts {
		out.Tags = append(out.Tags, tag{TagKey: t.Key, TagValue: t.Value})
	}
	return out, nil
}
