// Package admin is Sigil's native identity administration API (X-Amz-Target
// "SigilAdmin.*", SigV4 signing name "sigil", AWS JSON 1.1): accounts,
// users, roles, managed policies, attachments and access keys. `sigil
// admin` is its command-line client. Names and shapes follow the IAM API
// where IAM has the operation.
package admin

import (
	"context"
	"maps"
	"slices"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// TargetPrefix is the X-Amz-Target prefix of the admin API.
const TargetPrefix = "SigilAdmin"

// Errors is the admin API's error table: IAM's codes.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		iam.CodeNoSuchEntity: iam.CodeNoSuchEntity, iam.CodeEntityExists: iam.CodeEntityExists,
		iam.CodeMalformedPolicy: iam.CodeMalformedPolicy, iam.CodeDeleteConflict: iam.CodeDeleteConflict,
		iam.CodeLimitExceeded: iam.CodeLimitExceeded, iam.CodeValidation: iam.CodeValidation,
	},
	ByKind: map[errs.Kind]string{
		errs.NotFound: iam.CodeNoSuchEntity, errs.Conflict: iam.CodeEntityExists, errs.Invalid: iam.CodeValidation,
		errs.Limit: iam.CodeLimitExceeded, errs.Denied: "AccessDeniedException",
	},
}

// Service returns the admin API's operation table.
func Service(id *iam.Service) *awsjson.Service {
	h := handlers{id}
	return &awsjson.Service{
		TargetPrefix: TargetPrefix,
		SigningName:  "sigil",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"CreateAccount":          awsjson.Op(h.createAccount),
			"ListAccounts":           awsjson.Op(h.listAccounts),
			"CreateUser":             awsjson.Op(h.createUser),
			"GetUser":                awsjson.Op(h.getUser),
			"ListUsers":              awsjson.Op(h.listUsers),
			"DeleteUser":             awsjson.Op(h.deleteUser),
			"TagUser":                awsjson.Op(h.tagUser),
			"UntagUser":              awsjson.Op(h.untagUser),
			"CreateRole":             awsjson.Op(h.createRole),
			"GetRole":                awsjson.Op(h.getRole),
			"ListRoles":              awsjson.Op(h.listRoles),
			"DeleteRole":             awsjson.Op(h.deleteRole),
			"TagRole":                awsjson.Op(h.tagRole),
			"UntagRole":              awsjson.Op(h.untagRole),
			"UpdateAssumeRolePolicy": awsjson.Op(h.updateTrust),
			"CreatePolicy":           awsjson.Op(h.createPolicy),
			"GetPolicy":              awsjson.Op(h.getPolicy),
			"ListPolicies":           awsjson.Op(h.listPolicies),
			"UpdatePolicy":           awsjson.Op(h.updatePolicy),
			"DeletePolicy":           awsjson.Op(h.deletePolicy),
			"AttachUserPolicy":       awsjson.Op(h.attachUser),
			"DetachUserPolicy":       awsjson.Op(h.detachUser),
			"AttachRolePolicy":       awsjson.Op(h.attachRole),
			"DetachRolePolicy":       awsjson.Op(h.detachRole),
			"CreateAccessKey":        awsjson.Op(h.createKey),
			"ListAccessKeys":         awsjson.Op(h.listKeys),
			"UpdateAccessKey":        awsjson.Op(h.updateKey),
			"DeleteAccessKey":        awsjson.Op(h.deleteKey),
		},
	}
}

type handlers struct{ id *iam.Service }

// Empty is an answer with no fields.
type Empty struct{}

// Tag is a key/value pair.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagMap(tags []Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func tagList(m map[string]string) []Tag {
	out := []Tag{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Tag{k, m[k]})
	}
	return out
}

// ---- accounts ----

// CreateAccountInput names a new account.
type CreateAccountInput struct {
	Name string `json:"Name"`
}

// CreateAccountOutput is the new account and its administrator's access
// key; the secret is shown only here.
type CreateAccountOutput struct {
	AccountID       string `json:"AccountId"`
	UserArn         string `json:"UserArn"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

func (h handlers) createAccount(ctx context.Context, c *awsjson.Call, in *CreateAccountInput) (*CreateAccountOutput, error) {
	res, err := h.id.CreateAccount(ctx, c.Principal, in.Name)
	if err != nil {
		return nil, err
	}
	return &CreateAccountOutput{AccountID: res.Account, UserArn: res.PrincipalARN, AccessKeyID: res.AccessKeyID, SecretAccessKey: res.SecretKey}, nil
}

// Account is one account.
type Account struct {
	AccountID   string        `json:"AccountId"`
	Name        string        `json:"Name"`
	CreatedDate *awsjson.Time `json:"CreatedDate"`
}

// ListAccountsOutput lists accounts.
type ListAccountsOutput struct {
	Accounts []Account `json:"Accounts"`
}

func (h handlers) listAccounts(ctx context.Context, c *awsjson.Call, _ *Empty) (*ListAccountsOutput, error) {
	list, err := h.id.ListAccounts(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &ListAccountsOutput{Accounts: []Account{}}
	for _, a := range list {
		out.Accounts = append(out.Accounts, Account{AccountID: a.ID, Name: a.Name, CreatedDate: awsjson.TimePtr(a.CreatedAt)})
	}
	return out, nil
}

// ---- users and roles ----

// Principal is a user or role as the API shows it.
type Principal struct {
	Arn                      string        `json:"Arn"`
	Name                     string        `json:"Name"`
	Path                     string        `json:"Path"`
	ID                       string        `json:"Id"`
	CreateDate               *awsjson.Time `json:"CreateDate"`
	Tags                     []Tag         `json:"Tags"`
	AttachedPolicies         []string      `json:"AttachedPolicies"`
	AssumeRolePolicyDocument string        `json:"AssumeRolePolicyDocument,omitempty"`
	MaxSessionDuration       int           `json:"MaxSessionDuration,omitempty"`
	Description              string        `json:"Description,omitempty"`
}

func principalOut(e *iam.Entity) *Principal {
	p := &Principal{Arn: e.ARN, Name: e.Name, Path: e.Path, ID: e.UniqueID, CreateDate: awsjson.TimePtr(e.CreatedAt),
		Tags: tagList(e.Tags), AttachedPolicies: e.Policies, Description: e.Description}
	if p.AttachedPolicies == nil {
		p.AttachedPolicies = []string{}
	}
	if e.Kind == iam.KindRole {
		p.AssumeRolePolicyDocument, p.MaxSessionDuration = e.TrustPolicy, e.MaxSessionSeconds
	}
	return p
}

// CreateUserInput creates a user.
type CreateUserInput struct {
	UserName string `json:"UserName"`
	Path     string `json:"Path,omitempty"`
	Tags     []Tag  `json:"Tags,omitempty"`
}

// UserOutput wraps one user.
type UserOutput struct {
	User *Principal `json:"User"`
}

// RoleOutput wraps one role.
type RoleOutput struct {
	Role *Principal `json:"Role"`
}

// UserNameInput names a user.
type UserNameInput struct {
	UserName string `json:"UserName"`
}

// RoleNameInput names a role.
type RoleNameInput struct {
	RoleName string `json:"RoleName"`
}

// ListUsersOutput lists users.
type ListUsersOutput struct {
	Users []*Principal `json:"Users"`
}

// ListRolesOutput lists roles.
type ListRolesOutput struct {
	Roles []*Principal `json:"Roles"`
}

// TagInput tags a user (UserName) or role (RoleName).
type TagInput struct {
	UserName string `json:"UserName,omitempty"`
	RoleName string `json:"RoleName,omitempty"`
	Tags     []Tag  `json:"Tags"`
}

// UntagInput removes tags from a user or role.
type UntagInput struct {
	UserName string   `json:"UserName,omitempty"`
	RoleName string   `json:"RoleName,omitempty"`
	TagKeys  []string `json:"TagKeys"`
}

func (h handlers) createUser(ctx context.Context, c *awsjson.Call, in *CreateUserInput) (*UserOutput, error) {
	e, err := h.id.CreatePrincipal(ctx, c.Principal, iam.PrincipalInput{Kind: iam.KindUser, Name: in.UserName, Path: in.Path, Tags: tagMap(in.Tags)})
	if err != nil {
		return nil, err
	}
	return &UserOutput{User: principalOut(e)}, nil
}

func (h handlers) getUser(ctx context.Context, c *awsjson.Call, in *UserNameInput) (*UserOutput, error) {
	e, err := h.id.GetPrincipal(ctx, c.Principal, iam.KindUser, in.UserName)
	if err != nil {
		return nil, err
	}
	return &UserOutput{User: principalOut(e)}, nil
}

func (h handlers) listUsers(ctx context.Context, c *awsjson.Call, _ *Empty) (*ListUsersOutput, error) {
	list, err := h.id.ListPrincipals(ctx, c.Principal, iam.KindUser)
	if err != nil {
		return nil, err
	}
	out := &ListUsersOutput{Users: []*Principal{}}
	for _, e := range list {
		out.Users = append(out.Users, principalOut(e))
	}
	return out, nil
}

func (h handlers) deleteUser(ctx context.Context, c *awsjson.Call, in *UserNameInput) (*Empty, error) {
	return &Empty{}, h.id.DeletePrincipal(ctx, c.Principal, iam.KindUser, in.UserName)
}

func (h handlers) tagUser(ctx context.Context, c *awsjson.Call, in *TagInput) (*Empty, error) {
	if len(in.Tags) == 0 {
		return nil, errs.Coded(errs.Invalid, iam.CodeValidation, "Tags must list at least one tag.")
	}
	return &Empty{}, h.id.TagPrincipal(ctx, c.Principal, iam.KindUser, in.UserName, tagMap(in.Tags), nil)
}

func (h handlers) untagUser(ctx context.Context, c *awsjson.Call, in *UntagInput) (*Empty, error) {
	return &Empty{}, h.id.TagPrincipal(ctx, c.Principal, iam.KindUser, in.UserName, nil, in.TagKeys)
}

// CreateRoleInput creates a role.
type CreateRoleInput struct {
	RoleName                 string `json:"RoleName"`
	Path                     string `json:"Path,omitempty"`
	AssumeRolePolicyDocument string `json:"AssumeRolePolicyDocument"`
	MaxSessionDuration       int    `json:"MaxSessionDuration,omitempty"`
	Description              string `json:"Description,omitempty"`
	Tags                     []Tag  `json:"Tags,omitempty"`
}

func (h handlers) createRole(ctx context.Context, c *awsjson.Call, in *CreateRoleInput) (*RoleOutput, error) {
	e, err := h.id.CreatePrincipal(ctx, c.Principal, iam.PrincipalInput{Kind: iam.KindRole, Name: in.RoleName, Path: in.Path,
		TrustPolicy: in.AssumeRolePolicyDocument, MaxSessionSeconds: in.MaxSessionDuration, Description: in.Description, Tags: tagMap(in.Tags)})
	if err != nil {
		return nil, err
	}
	return &RoleOutput{Role: principalOut(e)}, nil
}

func (h handlers) getRole(ctx context.Context, c *awsjson.Call, in *RoleNameInput) (*RoleOutput, error) {
	e, err := h.id.GetPrincipal(ctx, c.Principal, iam.KindRole, in.RoleName)
	if err != nil {
		return nil, err
	}
	return &RoleOutput{Role: principalOut(e)}, nil
}

func (h handlers) listRoles(ctx context.Context, c *awsjson.Call, _ *Empty) (*ListRolesOutput, error) {
	list, err := h.id.ListPrincipals(ctx, c.Principal, iam.KindRole)
	if err != nil {
		return nil, err
	}
	out := &ListRolesOutput{Roles: []*Principal{}}
	for _, e := range list {
		out.Roles = append(out.Roles, principalOut(e))
	}
	return out, nil
}

func (h handlers) deleteRole(ctx context.Context, c *awsjson.Call, in *RoleNameInput) (*Empty, error) {
	return &Empty{}, h.id.DeletePrincipal(ctx, c.Principal, iam.KindRole, in.RoleName)
}

func (h handlers) tagRole(ctx context.Context, c *awsjson.Call, in *TagInput) (*Empty, error) {
	if len(in.Tags) == 0 {
		return nil, errs.Coded(errs.Invalid, iam.CodeValidation, "Tags must list at least one tag.")
	}
	return &Empty{}, h.id.TagPrincipal(ctx, c.Principal, iam.KindRole, in.RoleName, tagMap(in.Tags), nil)
}

func (h handlers) untagRole(ctx context.Context, c *awsjson.Call, in *UntagInput) (*Empty, error) {
	return &Empty{}, h.id.TagPrincipal(ctx, c.Principal, iam.KindRole, in.RoleName, nil, in.TagKeys)
}

// UpdateTrustInput replaces a role's trust policy.
type UpdateTrustInput struct {
	RoleName       string `json:"RoleName"`
	PolicyDocument string `json:"PolicyDocument"`
}

func (h handlers) updateTrust(ctx context.Context, c *awsjson.Call, in *UpdateTrustInput) (*Empty, error) {
	return &Empty{}, h.id.UpdateTrustPolicy(ctx, c.Principal, in.RoleName, in.PolicyDocument)
}

// ---- policies ----

// Policy is a managed policy.
type Policy struct {
	Arn            string        `json:"Arn"`
	PolicyName     string        `json:"PolicyName"`
	Path           string        `json:"Path"`
	PolicyID       string        `json:"PolicyId,omitempty"`
	Description    string        `json:"Description,omitempty"`
	PolicyDocument string        `json:"PolicyDocument,omitempty"`
	AWSManaged     bool          `json:"AwsManaged"`
	CreateDate     *awsjson.Time `json:"CreateDate,omitempty"`
	UpdateDate     *awsjson.Time `json:"UpdateDate,omitempty"`
}

func policyOut(p *store.IAMPolicy, withDoc bool) *Policy {
	out := &Policy{Arn: p.ARN, PolicyName: p.Name, Path: p.Path, PolicyID: p.PolicyID, Description: p.Description, AWSManaged: p.Account == "aws"}
	if !p.CreatedAt.IsZero() {
		out.CreateDate, out.UpdateDate = awsjson.TimePtr(p.CreatedAt), awsjson.TimePtr(p.UpdatedAt)
	}
	if withDoc {
		out.PolicyDocument = p.Document
	}
	return out
}

// CreatePolicyInput creates a customer managed policy.
type CreatePolicyInput struct {
	PolicyName     string `json:"PolicyName"`
	Path           string `json:"Path,omitempty"`
	PolicyDocument string `json:"PolicyDocument"`
	Description    string `json:"Description,omitempty"`
}

// PolicyOutput wraps one policy.
type PolicyOutput struct {
	Policy *Policy `json:"Policy"`
}

// PolicyArnInput names a policy.
type PolicyArnInput struct {
	PolicyArn string `json:"PolicyArn"`
}

// UpdatePolicyInput replaces a policy's document.
type UpdatePolicyInput struct {
	PolicyArn      string `json:"PolicyArn"`
	PolicyDocument string `json:"PolicyDocument"`
}

// ListPoliciesOutput lists policies.
type ListPoliciesOutput struct {
	Policies []*Policy `json:"Policies"`
}

func (h handlers) createPolicy(ctx context.Context, c *awsjson.Call, in *CreatePolicyInput) (*PolicyOutput, error) {
	p, err := h.id.CreatePolicy(ctx, c.Principal, in.PolicyName, in.Path, in.PolicyDocument, in.Description)
	if err != nil {
		return nil, err
	}
	return &PolicyOutput{Policy: policyOut(p, false)}, nil
}

func (h handlers) getPolicy(ctx context.Context, c *awsjson.Call, in *PolicyArnInput) (*PolicyOutput, error) {
	p, err := h.id.GetPolicy(ctx, c.Principal, in.PolicyArn)
	if err != nil {
		return nil, err
	}
	return &PolicyOutput{Policy: policyOut(p, true)}, nil
}

func (h handlers) listPolicies(ctx context.Context, c *awsjson.Call, _ *Empty) (*ListPoliciesOutput, error) {
	list, err := h.id.ListPolicies(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &ListPoliciesOutput{Policies: []*Policy{}}
	for _, p := range list {
		out.Policies = append(out.Policies, policyOut(p, false))
	}
	return out, nil
}

func (h handlers) updatePolicy(ctx context.Context, c *awsjson.Call, in *UpdatePolicyInput) (*Empty, error) {
	return &Empty{}, h.id.UpdatePolicy(ctx, c.Principal, in.PolicyArn, in.PolicyDocument)
}

func (h handlers) deletePolicy(ctx context.Context, c *awsjson.Call, in *PolicyArnInput) (*Empty, error) {
	return &Empty{}, h.id.DeletePolicy(ctx, c.Principal, in.PolicyArn)
}

// AttachInput attaches a policy to a user (UserName) or role (RoleName).
type AttachInput struct {
	UserName  string `json:"UserName,omitempty"`
	RoleName  string `json:"RoleName,omitempty"`
	PolicyArn string `json:"PolicyArn"`
}

func (h handlers) attachUser(ctx context.Context, c *awsjson.Call, in *AttachInput) (*Empty, error) {
	return &Empty{}, h.id.AttachPolicy(ctx, c.Principal, iam.KindUser, in.UserName, in.PolicyArn)
}

func (h handlers) detachUser(ctx context.Context, c *awsjson.Call, in *AttachInput) (*Empty, error) {
	return &Empty{}, h.id.DetachPolicy(ctx, c.Principal, iam.KindUser, in.UserName, in.PolicyArn)
}

func (h handlers) attachRole(ctx context.Context, c *awsjson.Call, in *AttachInput) (*Empty, error) {
	return &Empty{}, h.id.AttachPolicy(ctx, c.Principal, iam.KindRole, in.RoleName, in.PolicyArn)
}

func (h handlers) detachRole(ctx context.Context, c *awsjson.Call, in *AttachInput) (*Empty, error) {
	return &Empty{}, h.id.DetachPolicy(ctx, c.Principal, iam.KindRole, in.RoleName, in.PolicyArn)
}

// ---- access keys ----

// AccessKey is an access key; SecretAccessKey only in CreateAccessKey's
// answer.
type AccessKey struct {
	AccessKeyID     string        `json:"AccessKeyId"`
	SecretAccessKey string        `json:"SecretAccessKey,omitempty"`
	UserName        string        `json:"UserName"`
	Status          string        `json:"Status"`
	CreateDate      *awsjson.Time `json:"CreateDate"`
}

// CreateAccessKeyOutput holds the new key.
type CreateAccessKeyOutput struct {
	AccessKey AccessKey `json:"AccessKey"`
}

// ListAccessKeysOutput lists a user's keys.
type ListAccessKeysOutput struct {
	AccessKeyMetadata []AccessKey `json:"AccessKeyMetadata"`
}

// AccessKeyInput names a user's access key, with a new status for
// UpdateAccessKey.
type AccessKeyInput struct {
	UserName    string `json:"UserName"`
	AccessKeyID string `json:"AccessKeyId"`
	Status      string `json:"Status,omitempty"`
}

func (h handlers) createKey(ctx context.Context, c *awsjson.Call, in *UserNameInput) (*CreateAccessKeyOutput, error) {
	info, secret, err := h.id.CreateAccessKey(ctx, c.Principal, in.UserName)
	if err != nil {
		return nil, err
	}
	return &CreateAccessKeyOutput{AccessKey: AccessKey{AccessKeyID: info.ID, SecretAccessKey: secret, UserName: info.UserName,
		Status: info.Status, CreateDate: awsjson.TimePtr(info.CreatedAt)}}, nil
}

func (h handlers) listKeys(ctx context.Context, c *awsjson.Call, in *UserNameInput) (*ListAccessKeysOutput, error) {
	list, err := h.id.ListAccessKeys(ctx, c.Principal, in.UserName)
	if err != nil {
		return nil, err
	}
	out := &ListAccessKeysOutput{AccessKeyMetadata: []AccessKey{}}
	for _, k := range list {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, AccessKey{AccessKeyID: k.ID, UserName: k.UserName, Status: k.Status,
			CreateDate: awsjson.TimePtr(k.CreatedAt)})
	}
	return out, nil
}

func (h handlers) updateKey(ctx context.Context, c *awsjson.Call, in *AccessKeyInput) (*Empty, error) {
	if in.Status == "" {
		return nil, errs.Coded(errs.Invalid, iam.CodeValidation, "Status is required (Active or Inactive).")
	}
	return &Empty{}, h.id.SetAccessKeyStatus(ctx, c.Principal, in.UserName, in.AccessKeyID, in.Status)
}

func (h handlers) deleteKey(ctx context.Context, c *awsjson.Call, in *AccessKeyInput) (*Empty, error) {
	return &Empty{}, h.id.SetAccessKeyStatus(ctx, c.Principal, in.UserName, in.AccessKeyID, "")
}
