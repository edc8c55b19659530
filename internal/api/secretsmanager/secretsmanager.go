// Package secretsmanager is the AWS Secrets Manager API (secretsmanager,
// 2017-10-17) over the secrets domain service: one thin handler per
// operation that decodes the AWS wire shape, calls the domain, and encodes
// the answer.
package secretsmanager

import (
	"context"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/secrets"
	"github.com/sigilhq/sigil/internal/store"
	"github.com/sigilhq/sigil/internal/tagging"
)

// Errors maps domain errors to Secrets Manager's wire errors.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		secrets.CodeInvalidParameter:  "InvalidParameterException",
		secrets.CodeInvalidRequest:    "InvalidRequestException",
		secrets.CodeResourceExists:    "ResourceExistsException",
		secrets.CodeEncryptionFailure: "EncryptionFailure",
		secrets.CodeDecryptionFailure: "DecryptionFailure",
		secrets.CodeMalformedPolicy:   "MalformedPolicyDocumentException",
		secrets.CodePublicPolicy:      "PublicPolicyException",
		secrets.CodeInvalidNextToken:  "InvalidNextTokenException",
		secrets.CodeLimit:             "LimitExceededException",
	},
	ByKind: map[errs.Kind]string{
		errs.NotFound: "ResourceNotFoundException",
		errs.State:    "InvalidRequestException",
		errs.Conflict: "InvalidRequestException",
		errs.Limit:    "LimitExceededException",
		errs.Internal: "InternalServiceError",
	},
	MessageField: "Message",
}

// Service returns the secretsmanager operation table.
func Service(s *secrets.Service) *awsjson.Service {
	h := handlers{s}
	return &awsjson.Service{
		TargetPrefix: "secretsmanager",
		SigningName:  "secretsmanager",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"CreateSecret":             awsjson.Op(h.create),
			"GetSecretValue":           awsjson.Op(h.get),
			"BatchGetSecretValue":      awsjson.Op(h.batchGet),
			"PutSecretValue":           awsjson.Op(h.put),
			"UpdateSecret":             awsjson.Op(h.update),
			"UpdateSecretVersionStage": awsjson.Op(h.updateStage),
			"DescribeSecret":           awsjson.Op(h.describe),
			"ListSecrets":              awsjson.Op(h.list),
			"ListSecretVersionIds":     awsjson.Op(h.listVersions),
			"DeleteSecret":             awsjson.Op(h.delete),
			"RestoreSecret":            awsjson.Op(h.restore),
			"RotateSecret":             awsjson.Op(h.rotate),
			"CancelRotateSecret":       awsjson.Op(h.cancel),
			"TagResource":              awsjson.Op(h.tag),
			"UntagResource":            awsjson.Op(h.untag),
			"PutResourcePolicy":        awsjson.Op(h.putPolicy),
			"GetResourcePolicy":        awsjson.Op(h.getPolicy),
			"DeleteResourcePolicy":     awsjson.Op(h.deletePolicy),
			"ValidateResourcePolicy":   awsjson.Op(h.validatePolicy),
			"GetRandomPassword":        awsjson.Op(h.randomPassword),
		},
	}
}

type handlers struct{ s *secrets.Service }

type tag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

func toTags(ts []tag) []tagging.Tag {
	out := make([]tagging.Tag, len(ts))
	for i, t := range ts {
		out[i] = tagging.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func fromTags(ts []store.Tag) []tag {
	if len(ts) == 0 {
		return nil
	}
	out := make([]tag, len(ts))
	for i, t := range ts {
		v := t.Value
		out[i] = tag{Key: t.Key, Value: &v}
	}
	return out
}

func value(str *string, bin []byte) secrets.Value {
	return secrets.Value{String: str, Binary: bin}
}

type replicaRegion struct {
	Region   string `json:"Region"`
	KmsKeyID string `json:"KmsKeyId,omitempty"`
}

type createInput struct {
	Name                        string          `json:"Name"`
	ClientRequestToken          string          `json:"ClientRequestToken"`
	Description                 string          `json:"Description"`
	KmsKeyID                    string          `json:"KmsKeyId"`
	SecretBinary                []byte          `json:"SecretBinary"`
	SecretString                *string         `json:"SecretString"`
	Tags                        []tag           `json:"Tags"`
	AddReplicaRegions           []replicaRegion `json:"AddReplicaRegions"`
	ForceOverwriteReplicaSecret bool            `json:"ForceOverwriteReplicaSecret"`
}

type writeOutput struct {
	ARN           string   `json:"ARN,omitempty"`
	Name          string   `json:"Name,omitempty"`
	VersionID     string   `json:"VersionId,omitempty"`
	VersionStages []string `json:"VersionStages,omitempty"`
}

func toWrite(c *secrets.Created) *writeOutput {
	return &writeOutput{ARN: c.ARN, Name: c.Name, VersionID: c.VersionID, VersionStages: c.Stages}
}

func (h handlers) create(ctx context.Context, c *awsjson.Call, in *createInput) (*writeOutput, error) {
	out, err := h.s.Create(ctx, c.Principal, secrets.CreateInput{Name: in.Name, ClientRequestToken: in.ClientRequestToken,
		Description: in.Description, KMSKeyID: in.KmsKeyID, Value: value(in.SecretString, in.SecretBinary),
		Tags: toTags(in.Tags), AddReplicaRegions: len(in.AddReplicaRegions)})
	if err != nil {
		return nil, err
	}
	w := toWrite(out)
	w.VersionStages = nil
	return w, nil
}

type getInput struct {
	SecretID     string `json:"SecretId"`
	VersionID    string `json:"VersionId"`
	VersionStage string `json:"VersionStage"`
}

type secretValue struct {
	ARN           string        `json:"ARN"`
	Name          string        `json:"Name"`
	VersionID     string        `json:"VersionId"`
	SecretBinary  []byte        `json:"SecretBinary,omitempty"`
	SecretString  *string       `json:"SecretString,omitempty"`
	VersionStages []string      `json:"VersionStages"`
	CreatedDate   *awsjson.Time `json:"CreatedDate,omitempty"`
}

func toValue(v *secrets.SecretValue) *secretValue {
	stages := v.Stages
	if stages == nil {
		stages = []string{}
	}
	return &secretValue{ARN: v.ARN, Name: v.Name, VersionID: v.VersionID, SecretBinary: v.Value.Binary,
		SecretString: v.Value.String, VersionStages: stages, CreatedDate: awsjson.TimePtr(v.CreatedAt)}
}

func (h handlers) get(ctx context.Context, c *awsjson.Call, in *getInput) (*secretValue, error) {
	v, err := h.s.Get(ctx, c.Principal, in.SecretID, in.VersionID, in.VersionStage)
	if err != nil {
		return nil, err
	}
	return toValue(v), nil
}

type filter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

func toFilters(fs []filter) []store.SecretFilter {
	var out []store.SecretFilter
	for _, f := range fs {
		out = append(out, secrets.ParseFilterValues(f.Key, f.Values))
	}
	return out
}

type batchInput struct {
	SecretIDList []string `json:"SecretIdList"`
	Filters      []filter `json:"Filters"`
	MaxResults   int      `json:"MaxResults"`
	NextToken    string   `json:"NextToken"`
}

type batchError struct {
	SecretID  string `json:"SecretId"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

type batchOutput struct {
	SecretValues []*secretValue `json:"SecretValues"`
	Errors       []batchError   `json:"Errors"`
	NextToken    string         `json:"NextToken,omitempty"`
}

func (h handlers) batchGet(ctx context.Context, c *awsjson.Call, in *batchInput) (*batchOutput, error) {
	fs := toFilters(in.Filters)
	if err := secrets.CheckFilters(fs); err != nil {
		return nil, err
	}
	res, err := h.s.BatchGet(ctx, c.Principal, in.SecretIDList, fs, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &batchOutput{SecretValues: []*secretValue{}, Errors: []batchError{}, NextToken: res.NextToken}
	for _, v := range res.Values {
		out.SecretValues = append(out.SecretValues, toValue(v))
	}
	for _, e := range res.Errors {
		code, _ := Errors.Lookup(e.Err)
		out.Errors = append(out.Errors, batchError{SecretID: e.SecretID, ErrorCode: code, Message: errs.Message(e.Err, "")})
	}
	return out, nil
}

type putInput struct {
	SecretID           string   `json:"SecretId"`
	ClientRequestToken string   `json:"ClientRequestToken"`
	SecretBinary       []byte   `json:"SecretBinary"`
	SecretString       *string  `json:"SecretString"`
	VersionStages      []string `json:"VersionStages"`
	RotationToken      string   `json:"RotationToken"`
}

func (h handlers) put(ctx context.Context, c *awsjson.Call, in *putInput) (*writeOutput, error) {
	out, err := h.s.Put(ctx, c.Principal, secrets.PutInput{SecretID: in.SecretID, ClientRequestToken: in.ClientRequestToken,
		Value: value(in.SecretString, in.SecretBinary), Stages: in.VersionStages, RotationToken: in.RotationToken})
	if err != nil {
		return nil, err
	}
	return toWrite(out), nil
}

type updateInput struct {
	SecretID           string  `json:"SecretId"`
	ClientRequestToken string  `json:"ClientRequestToken"`
	Description        *string `json:"Description"`
	KmsKeyID           *string `json:"KmsKeyId"`
	SecretBinary       []byte  `json:"SecretBinary"`
	SecretString       *string `json:"SecretString"`
}

func (h handlers) update(ctx context.Context, c *awsjson.Call, in *updateInput) (*writeOutput, error) {
	out, err := h.s.Update(ctx, c.Principal, secrets.UpdateInput{SecretID: in.SecretID, ClientRequestToken: in.ClientRequestToken,
		Description: in.Description, KMSKeyID: in.KmsKeyID, Value: value(in.SecretString, in.SecretBinary)})
	if err != nil {
		return nil, err
	}
	w := toWrite(out)
	w.VersionStages = nil
	return w, nil
}

type updateStageInput struct {
	SecretID            string `json:"SecretId"`
	VersionStage        string `json:"VersionStage"`
	RemoveFromVersionID string `json:"RemoveFromVersionId"`
	MoveToVersionID     string `json:"MoveToVersionId"`
}

func (h handlers) updateStage(ctx context.Context, c *awsjson.Call, in *updateStageInput) (*writeOutput, error) {
	out, err := h.s.UpdateStage(ctx, c.Principal, in.SecretID, in.VersionStage, in.RemoveFromVersionID, in.MoveToVersionID)
	if err != nil {
		return nil, err
	}
	return &writeOutput{ARN: out.ARN, Name: out.Name}, nil
}

type secretIDInput struct {
	SecretID string `json:"SecretId"`
}

type rotationRules struct {
	AutomaticallyAfterDays int64  `json:"AutomaticallyAfterDays,omitempty"`
	Duration               string `json:"Duration,omitempty"`
	ScheduleExpression     string `json:"ScheduleExpression,omitempty"`
}

type secretEntry struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	Description            string              `json:"Description,omitempty"`
	KmsKeyID               string              `json:"KmsKeyId,omitempty"`
	RotationEnabled        bool                `json:"RotationEnabled"`
	RotationLambdaARN      string              `json:"RotationLambdaARN,omitempty"`
	RotationRules          *rotationRules      `json:"RotationRules,omitempty"`
	LastRotatedDate        *awsjson.Time       `json:"LastRotatedDate,omitempty"`
	LastChangedDate        *awsjson.Time       `json:"LastChangedDate,omitempty"`
	LastAccessedDate       *awsjson.Time       `json:"LastAccessedDate,omitempty"`
	DeletedDate            *awsjson.Time       `json:"DeletedDate,omitempty"`
	NextRotationDate       *awsjson.Time       `json:"NextRotationDate,omitempty"`
	CreatedDate            *awsjson.Time       `json:"CreatedDate,omitempty"`
	Tags                   []tag               `json:"Tags,omitempty"`
	VersionIdsToStages     map[string][]string `json:"VersionIdsToStages,omitempty"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
}

func toEntry(d *secrets.Description, listing bool) *secretEntry {
	e := &secretEntry{ARN: d.ARN, Name: d.Name, Description: d.Description, KmsKeyID: d.KMSKeyID,
		RotationEnabled: d.RotationEnabled, RotationLambdaARN: d.RotationLambdaARN,
		LastRotatedDate: awsjson.TimePtr(d.LastRotatedDate), LastChangedDate: awsjson.TimePtr(d.LastChangedDate),
		LastAccessedDate: awsjson.TimePtr(d.LastAccessedDate), DeletedDate: awsjson.TimePtr(d.DeletedDate),
		NextRotationDate: awsjson.TimePtr(d.NextRotationDate), CreatedDate: awsjson.TimePtr(d.CreatedDate),
		Tags: fromTags(d.Tags)}
	if r := d.RotationRules; r != nil {
		e.RotationRules = &rotationRules{AutomaticallyAfterDays: r.AutomaticallyAfterDays, Duration: r.Duration, ScheduleExpression: r.ScheduleExpression}
	}
	if len(d.VersionsToStages) > 0 {
		if listing {
			e.SecretVersionsToStages = d.VersionsToStages
		} else {
			e.VersionIdsToStages = d.VersionsToStages
		}
	}
	return e
}

func (h handlers) describe(ctx context.Context, c *awsjson.Call, in *secretIDInput) (*secretEntry, error) {
	d, err := h.s.Describe(ctx, c.Principal, in.SecretID)
	if err != nil {
		return nil, err
	}
	return toEntry(d, false), nil
}

type listInput struct {
	IncludePlannedDeletion bool     `json:"IncludePlannedDeletion"`
	MaxResults             int      `json:"MaxResults"`
	NextToken              string   `json:"NextToken"`
	Filters                []filter `json:"Filters"`
	SortOrder              string   `json:"SortOrder"`
	SortBy                 string   `json:"SortBy"`
}

type listOutput struct {
	SecretList []*secretEntry `json:"SecretList"`
	NextToken  string         `json:"NextToken,omitempty"`
}

func (h handlers) list(ctx context.Context, c *awsjson.Call, in *listInput) (*listOutput, error) {
	page, err := h.s.List(ctx, c.Principal, secrets.ListInput{IncludePlannedDeletion: in.IncludePlannedDeletion,
		MaxResults: in.MaxResults, NextToken: in.NextToken, Filters: toFilters(in.Filters), SortBy: in.SortBy, SortOrder: in.SortOrder})
	if err != nil {
		return nil, err
	}
	out := &listOutput{SecretList: []*secretEntry{}, NextToken: page.NextToken}
	for _, d := range page.Secrets {
		out.SecretList = append(out.SecretList, toEntry(d, true))
	}
	return out, nil
}

type listVersionsInput struct {
	SecretID          string `json:"SecretId"`
	MaxResults        int    `json:"MaxResults"`
	NextToken         string `json:"NextToken"`
	IncludeDeprecated bool   `json:"IncludeDeprecated"`
}

type versionEntry struct {
	VersionID        string        `json:"VersionId"`
	VersionStages    []string      `json:"VersionStages,omitempty"`
	LastAccessedDate *awsjson.Time `json:"LastAccessedDate,omitempty"`
	CreatedDate      *awsjson.Time `json:"CreatedDate,omitempty"`
	KmsKeyIDs        []string      `json:"KmsKeyIds,omitempty"`
}

type listVersionsOutput struct {
	Versions  []versionEntry `json:"Versions"`
	NextToken string         `json:"NextToken,omitempty"`
	ARN       string         `json:"ARN"`
	Name      string         `json:"Name"`
}

func (h handlers) listVersions(ctx context.Context, c *awsjson.Call, in *listVersionsInput) (*listVersionsOutput, error) {
	page, err := h.s.ListVersions(ctx, c.Principal, in.SecretID, in.MaxResults, in.NextToken, in.IncludeDeprecated)
	if err != nil {
		return nil, err
	}
	out := &listVersionsOutput{Versions: []versionEntry{}, NextToken: page.NextToken, ARN: page.ARN, Name: page.Name}
	for _, v := range page.Versions {
		out.Versions = append(out.Versions, versionEntry{VersionID: v.VersionID, VersionStages: v.Stages,
			LastAccessedDate: awsjson.TimePtr(v.LastAccessedDate), CreatedDate: awsjson.TimePtr(v.CreatedDate), KmsKeyIDs: v.KMSKeyIDs})
	}
	return out, nil
}

type deleteInput struct {
	SecretID                   string `json:"SecretId"`
	RecoveryWindowInDays       int    `json:"RecoveryWindowInDays"`
	ForceDeleteWithoutRecovery bool   `json:"ForceDeleteWithoutRecovery"`
}

type deleteOutput struct {
	ARN          string        `json:"ARN,omitempty"`
	Name         string        `json:"Name,omitempty"`
	DeletionDate *awsjson.Time `json:"DeletionDate,omitempty"`
}

func (h handlers) delete(ctx context.Context, c *awsjson.Call, in *deleteInput) (*deleteOutput, error) {
	d, err := h.s.Delete(ctx, c.Principal, secrets.DeleteInput{SecretID: in.SecretID, RecoveryWindowInDays: in.RecoveryWindowInDays,
		Force: in.ForceDeleteWithoutRecovery})
	if err != nil {
		return nil, err
	}
	return &deleteOutput{ARN: d.ARN, Name: d.Name, DeletionDate: awsjson.TimePtr(d.DeletionDate)}, nil
}

func (h handlers) restore(ctx context.Context, c *awsjson.Call, in *secretIDInput) (*writeOutput, error) {
	out, err := h.s.Restore(ctx, c.Principal, in.SecretID)
	if err != nil {
		return nil, err
	}
	return &writeOutput{ARN: out.ARN, Name: out.Name}, nil
}

type rotateInput struct {
	SecretID           string         `json:"SecretId"`
	ClientRequestToken string         `json:"ClientRequestToken"`
	RotationLambdaARN  string         `json:"RotationLambdaARN"`
	RotationRules      *rotationRules `json:"RotationRules"`
	RotateImmediately  *bool          `json:"RotateImmediately"`
}

func (h handlers) rotate(ctx context.Context, c *awsjson.Call, in *rotateInput) (*writeOutput, error) {
	ri := secrets.RotateInput{SecretID: in.SecretID, ClientRequestToken: in.ClientRequestToken,
		RotationLambdaARN: in.RotationLambdaARN, RotateImmediately: in.RotateImmediately}
	if r := in.RotationRules; r != nil {
		ri.Rules = &secrets.RotationRules{AutomaticallyAfterDays: r.AutomaticallyAfterDays, Duration: r.Duration, ScheduleExpression: r.ScheduleExpression}
	}
	out, err := h.s.Rotate(ctx, c.Principal, ri)
	if err != nil {
		return nil, err
	}
	return &writeOutput{ARN: out.ARN, Name: out.Name, VersionID: out.VersionID}, nil
}

func (h handlers) cancel(ctx context.Context, c *awsjson.Call, in *secretIDInput) (*writeOutput, error) {
	out, err := h.s.Cancel(ctx, c.Principal, in.SecretID)
	if err != nil {
		return nil, err
	}
	return &writeOutput{ARN: out.ARN, Name: out.Name, VersionID: out.VersionID}, nil
}

type tagInput struct {
	SecretID string `json:"SecretId"`
	Tags     []tag  `json:"Tags"`
}

func (h handlers) tag(ctx context.Context, c *awsjson.Call, in *tagInput) (*struct{}, error) {
	return nil, h.s.TagResource(ctx, c.Principal, in.SecretID, toTags(in.Tags))
}

type untagInput struct {
	SecretID string   `json:"SecretId"`
	TagKeys  []string `json:"TagKeys"`
}

func (h handlers) untag(ctx context.Context, c *awsjson.Call, in *untagInput) (*struct{}, error) {
	return nil, h.s.UntagResource(ctx, c.Principal, in.SecretID, in.TagKeys)
}

type putPolicyInput struct {
	SecretID          string `json:"SecretId"`
	ResourcePolicy    string `json:"ResourcePolicy"`
	BlockPublicPolicy bool   `json:"BlockPublicPolicy"`
}

func (h handlers) putPolicy(ctx context.Context, c *awsjson.Call, in *putPolicyInput) (*writeOutput, error) {
	out, err := h.s.PutPolicy(ctx, c.Principal, in.SecretID, in.ResourcePolicy, in.BlockPublicPolicy)
	if err != nil {
		return nil, err
	}
	return &writeOutput{ARN: out.ARN, Name: out.Name}, nil
}

type policyOutput struct {
	ARN            string `json:"ARN"`
	Name           string `json:"Name"`
	ResourcePolicy string `json:"ResourcePolicy,omitempty"`
}

func (h handlers) getPolicy(ctx context.Context, c *awsjson.Call, in *secretIDInput) (*policyOutput, error) {
	p, err := h.s.GetPolicy(ctx, c.Principal, in.SecretID)
	if err != nil {
		return nil, err
	}
	return &policyOutput{ARN: p.ARN, Name: p.Name, ResourcePolicy: p.Policy}, nil
}

func (h handlers) deletePolicy(ctx context.Context, c *awsjson.Call, in *secretIDInput) (*writeOutput, error) {
	out, err := h.s.DeletePolicy(ctx, c.Principal, in.SecretID)
	if err != nil {
		return nil, err
	}
	return &writeOutput{ARN: out.ARN, Name: out.Name}, nil
}

type validateInput struct {
	SecretID       string `json:"SecretId"`
	ResourcePolicy string `json:"ResourcePolicy"`
}

type validationError struct {
	CheckName    string `json:"CheckName"`
	ErrorMessage string `json:"ErrorMessage"`
}

type validateOutput struct {
	PolicyValidationPassed bool              `json:"PolicyValidationPassed"`
	ValidationErrors       []validationError `json:"ValidationErrors"`
}

func (h handlers) validatePolicy(ctx context.Context, c *awsjson.Call, in *validateInput) (*validateOutput, error) {
	probs, err := h.s.ValidatePolicy(ctx, c.Principal, in.SecretID, in.ResourcePolicy)
	if err != nil {
		return nil, err
	}
	out := &validateOutput{PolicyValidationPassed: len(probs) == 0, ValidationErrors: []validationError{}}
	for _, p := range probs {
		out.ValidationErrors = append(out.ValidationErrors, validationError{CheckName: p.Check, ErrorMessage: p.Message})
	}
	return out, nil
}

type passwordInput struct {
	PasswordLength          int    `json:"PasswordLength"`
	ExcludeCharacters       string `json:"ExcludeCharacters"`
	ExcludeNumbers          bool   `json:"ExcludeNumbers"`
	ExcludePunctuation      bool   `json:"ExcludePunctuation"`
	ExcludeUppercase        bool   `json:"ExcludeUppercase"`
	ExcludeLowercase        bool   `json:"ExcludeLowercase"`
	IncludeSpace            bool   `json:"IncludeSpace"`
	RequireEachIncludedType *bool  `json:"RequireEachIncludedType"`
}

type passwordOutput struct {
	RandomPassword string `json:"RandomPassword"`
}

func (h handlers) randomPassword(ctx context.Context, c *awsjson.Call, in *passwordInput) (*passwordOutput, error) {
	pw, err := h.s.GetRandomPassword(ctx, c.Principal, secrets.PasswordInput{Length: in.PasswordLength,
		ExcludeCharacters: in.ExcludeCharacters, ExcludeNumbers: in.ExcludeNumbers, ExcludePunctuation: in.ExcludePunctuation,
		ExcludeUppercase: in.ExcludeUppercase, ExcludeLowercase: in.ExcludeLowercase, IncludeSpace: in.IncludeSpace,
		RequireEachIncludedType: in.RequireEachIncludedType})
	if err != nil {
		return nil, err
	}
	return &passwordOutput{RandomPassword: pw}, nil
}
