package acmpca

import (
	"context"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/ca"
)

// Resource policies and permissions.

type policyInput struct {
	ResourceArn string `json:"ResourceArn"`
	Policy      string `json:"Policy"`
}

type policyOutput struct {
	Policy string `json:"Policy"`
}

func (h handlers) putPolicy(ctx context.Context, c *awsjson.Call, in *policyInput) (*empty, error) {
	if in.ResourceArn == "" {
		return nil, awsjson.Required("resourceArn")
	}
	return nil, h.ca.PutPolicy(ctx, c.Principal, in.ResourceArn, in.Policy)
}

func (h handlers) getPolicy(ctx context.Context, c *awsjson.Call, in *policyInput) (*policyOutput, error) {
	if in.ResourceArn == "" {
		return nil, awsjson.Required("resourceArn")
	}
	doc, err := h.ca.GetPolicy(ctx, c.Principal, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &policyOutput{Policy: doc}, nil
}

func (h handlers) deletePolicy(ctx context.Context, c *awsjson.Call, in *policyInput) (*empty, error) {
	if in.ResourceArn == "" {
		return nil, awsjson.Required("resourceArn")
	}
	return nil, h.ca.DeletePolicy(ctx, c.Principal, in.ResourceArn)
}

type permissionInput struct {
	CertificateAuthorityArn string   `json:"CertificateAuthorityArn"`
	Principal               string   `json:"Principal"`
	SourceAccount           string   `json:"SourceAccount"`
	Actions                 []string `json:"Actions"`
}

func (h handlers) createPermission(ctx context.Context, c *awsjson.Call, in *permissionInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	return nil, h.ca.CreatePermission(ctx, c.Principal, ca.CreatePermissionInput{CAARN: in.CertificateAuthorityArn,
		Principal: in.Principal, SourceAccount: in.SourceAccount, Actions: in.Actions})
}

func (h handlers) deletePermission(ctx context.Context, c *awsjson.Call, in *permissionInput) (*empty, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	return nil, h.ca.DeletePermission(ctx, c.Principal, in.CertificateAuthorityArn, in.Principal, in.SourceAccount)
}

type listPermissionsInput struct {
	CertificateAuthorityArn string `json:"CertificateAuthorityArn"`
	MaxResults              int    `json:"MaxResults"`
	NextToken               string `json:"NextToken"`
}

type permission struct {
	CertificateAuthorityArn string        `json:"CertificateAuthorityArn"`
	CreatedAt               *awsjson.Time `json:"CreatedAt"`
	Principal               string        `json:"Principal"`
	SourceAccount           string        `json:"SourceAccount,omitempty"`
	Actions                 []string      `json:"Actions"`
	Policy                  string        `json:"Policy"`
}

type listPermissionsOutput struct {
	Permissions []permission `json:"Permissions"`
	NextToken   string       `json:"NextToken,omitempty"`
}

func (h handlers) listPermissions(ctx context.Context, c *awsjson.Call, in *listPermissionsInput) (*listPermissionsOutput, error) {
	if in.CertificateAuthorityArn == "" {
		return nil, awsjson.Required("certificateAuthorityArn")
	}
	perms, next, err := h.ca.ListPermissions(ctx, c.Principal, in.CertificateAuthorityArn, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listPermissionsOutput{Permissions: []permission{}, NextToken: next}
	for _, p := range perms {
		out.Permissions = append(out.Permissions, permission{CertificateAuthorityArn: p.CAARN, CreatedAt: awsjson.TimePtr(p.CreatedAt),
			Principal: p.Principal, SourceAccount: p.SourceAccount, Actions: p.Actions, Policy: p.Policy})
	}
	return out, nil
}
