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
