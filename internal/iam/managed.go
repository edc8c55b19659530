package iam

import "github.com/sigilhq/sigil/internal/iam/policy"

// AWS managed policies Sigil knows: they live in code, are the same in
// every account, and cannot be changed.
const (
	AdministratorAccess = "arn:aws:iam::aws:policy/AdministratorAccess"
	ReadOnlyAccess      = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	PrivateCAFullAccess = "arn:aws:iam::aws:policy/AWSPrivateCAFullAccess"
	PrivateCAReadOnly   = "arn:aws:iam::aws:policy/AWSPrivateCAReadOnly"
	ACMFullAccess       = "arn:aws:iam::aws:policy/AWSCertificateManagerFullAccess"
	SecretsReadWrite    = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
)

var managedDocs = map[string]string{
	AdministratorAccess: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	ReadOnlyAccess: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["acm-pca:Describe*","acm-pca:Get*","acm-pca:List*",` +
		`"acm:Describe*","acm:Get*","acm:List*","secretsmanager:Describe*","secretsmanager:List*","kms:Describe*","kms:Get*","kms:List*",` +
		`"iam:Get*","iam:List*","cloudtrail:LookupEvents"],"Resource":"*"}]}`,
	PrivateCAFullAccess: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"acm-pca:*","Resource":"*"}]}`,
	PrivateCAReadOnly:   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["acm-pca:Describe*","acm-pca:Get*","acm-pca:List*"],"Resource":"*"}]}`,
	ACMFullAccess:       `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["acm:*","acm-pca:DescribeCertificateAuthority","acm-pca:ListCertificateAuthorities"],"Resource":"*"}]}`,
	SecretsReadWrite:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:*","kms:DescribeKey","kms:ListAliases","kms:ListKeys"],"Resource":"*"}]}`,
}

var managedPolicies = func() map[string]*policy.Policy {
	m := make(map[string]*policy.Policy, len(managedDocs))
	for arn, doc := range managedDocs {
		p, err := policy.Parse(doc, policy.Identity)
		if err != nil {
			panic("managed policy " + arn + ": " + err.Error())
		}
		m[arn] = p
	}
	return m
}()

// managedPolicy returns a compiled AWS managed policy, or nil.
func managedPolicy(arn string) *policy.Policy { return managedPolicies[arn] }

// Service-linked roles: the identities AWS services act as inside an
// account (ACM renewing a private certificate from another account's CA).
// Their permissions policies are AWS's, fixed in code.
const ACMService = "acm.amazonaws.com"

// DeployService is Sigil's deployment service: it reads a deployment's
// certificate or secret to hand it to the deployment's agents, and keeps
// the generated key passphrase in a secret.
const DeployService = "deploy.sigil.internal"

var serviceRoleNames = map[string]string{ACMService: "AWSServiceRoleForCertificateManager", DeployService: "SigilServiceRoleForDeployment"}

var serviceRoleDocs = map[string]string{
	ACMService: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["acm-pca:IssueCertificate","acm-pca:GetCertificate",` +
		`"acm-pca:DescribeCertificateAuthority","acm-pca:GetCertificateAuthorityCertificate"],"Resource":"*"}]}`,
	DeployService: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["acm:DescribeCertificate","acm:ExportCertificate",` +
		`"secretsmanager:GetSecretValue","secretsmanager:DescribeSecret","secretsmanager:CreateSecret","secretsmanager:TagResource",` +
		`"secretsmanager:PutResourcePolicy","secretsmanager:DeleteSecret","kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}]}`,
}

var serviceRolePolicies = func() map[string]*policy.Policy {
	m := make(map[string]*policy.Policy, len(serviceRoleDocs))
	for svc, doc := range serviceRoleDocs {
		p, err := policy.Parse(doc, policy.Identity)
		if err != nil {
			panic("service-linked role policy of " + svc + ": " + err.Error())
		}
		m[svc] = p
	}
	return m
}()

// ServiceLinkedRole returns the principal a service acts as in an account:
// a session of the service's service-linked role, which resource policies
// can name through the account (as on AWS). Only Sigil's own code builds
// it; no credentials map to it.
func ServiceLinkedRole(service, account string) Principal {
	name := serviceRoleNames[service]
	if name == "" {
		name = "AWSServiceRoleFor" + service
	}
	role := "arn:aws:iam::" + account + ":role/aws-service-role/" + service + "/" + name
	return Principal{Account: account, Type: PrincipalAssumedRole, RoleARN: role, SessionName: service,
		ARN: "arn:aws:sts::" + account + ":assumed-role/" + name + "/" + service, ID: "AROASERVICE:" + service, Service: service}
}

// serviceRolePolicy returns the permissions of a service-linked role
// session, or nil when p is not one.
func serviceRolePolicy(p Principal) *policy.Policy {
	if p.Service == "" || p.Type != PrincipalAssumedRole {
		return nil
	}
	pol := serviceRolePolicies[p.Service]
	if pol == nil || p.RoleARN != ServiceLinkedRole(p.Service, p.Account).RoleARN {
		return nil
	}
	return pol
}
