package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	pcatypes "github.com/aws/aws-sdk-go-v2/service/acmpca/types"

	"github.com/sigilhq/sigil/internal/api/admin"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// TestPCAResourcePolicy shares a CA of account A with account B through
// the CA's resource policy and checks, through the SDK, everything that
// follows: B cannot use the CA before, sees it in OTHER_ACCOUNTS after,
// issues only what both its identity policy and the CA's policy allow
// (template restricted), requests and renews ACM certificates from it
// (renewal acting as B's ACM service-linked role), and loses it all when
// the policy goes. Malformed policies and permissions get Private CA's
// errors.
func TestPCAResourcePolicy(t *testing.T) {
	env := sigiltest.Start(t)
	ctx := context.Background()
	dev := newCaller(env, iam.DevAccount, "arn:aws:iam::000000000000:root", "test", "test", "")
	var acct admin.CreateAccountOutput
	if err := dev.adminCall(t, env, "CreateAccount", admin.CreateAccountInput{Name: "b"}, &acct); err != nil {
		t.Fatal(err)
	}
	bAdmin := newCaller(env, acct.AccountID, acct.UserArn, acct.AccessKeyID, acct.SecretAccessKey, "")
	b := &iamWorld{t: t, env: env, admin: bAdmin}
	issuer := b.user("issuer", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["acm-pca:IssueCertificate",
		"acm-pca:GetCertificate","acm-pca:DescribeCertificateAuthority","acm-pca:UpdateCertificateAuthority","acm-pca:ListCertificateAuthorities",
		"acm:RequestCertificate","acm:DescribeCertificate","acm:ExportCertificate","acm:RenewCertificate"],"Resource":"*"}]}`)
	nobody := b.user("nobody", nil)

	caARN := createCA(t, dev.pca, pcatypes.CertificateAuthorityTypeRoot, pcatypes.KeyAlgorithmEcPrime256v1,
		pcatypes.SigningAlgorithmSha256withecdsa, "Shared Root")
	activateRoot(t, dev.pca, caARN, pcatypes.SigningAlgorithmSha256withecdsa, 5)
	const endEntity = "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
	issue := func(c *caller, template string) (string, error) {
		out, err := c.pca.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &caARN, Csr: quickCSR(t, "b.example"),
			SigningAlgorithm: pcatypes.SigningAlgorithmSha256withecdsa, TemplateArn: aws.String(template),
			Validity: &pcatypes.Validity{Type: pcatypes.ValidityPeriodTypeDays, Value: aws.Int64(3)}})
		if err != nil {
			return "", err
		}
		return *out.CertificateArn, nil
	}
	shared := func(c *caller) []string {
		out, err := c.pca.ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{ResourceOwner: pcatypes.ResourceOwnerOtherAccounts})
		if err != nil {
			t.Fatal(err)
		}
		var arns []string
		for _, a := range out.CertificateAuthorities {
			arns = append(arns, *a.Arn)
		}
		return arns
	}

	// Before any policy: B is refused, sees nothing shared, and A's CA
	// has no policy.
	_, err := issue(issuer, endEntity)
	wantCode(t, err, "AccessDeniedException")
	if got := shared(issuer); len(got) != 0 {
		t.Fatalf("shared before the policy: %v", got)
	}
	_, err = dev.pca.GetPolicy(ctx, &acmpca.GetPolicyInput{ResourceArn: &caARN})
	wantCode(t, err, "ResourceNotFoundException")

	// Malformed policies.
	put := func(c *caller, doc string) error {
		_, err := c.pca.PutPolicy(ctx, &acmpca.PutPolicyInput{ResourceArn: &caARN, Policy: aws.String(doc)})
		return err
	}
	stmt := func(principal, actions, cond string) string {
		s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":` + actions + `,"Resource":"` + caARN + `"`
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return s + `}]}`
	}
	for name, doc := range map[string]string{
		"not JSON":         `{"Version":`,
		"no principal":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"acm-pca:GetCertificate","Resource":"*"}]}`,
		"everyone":         stmt(`"*"`, `"acm-pca:GetCertificate"`, ""),
		"another service":  stmt(`{"AWS":"`+acct.AccountID+`"}`, `["acm-pca:GetCertificate","s3:GetObject"]`, ""),
		"unknown operator": stmt(`{"AWS":"`+acct.AccountID+`"}`, `"acm-pca:GetCertificate"`, `{"StringEqualz":{"aws:x":"y"}}`),
	} {
		if err := put(dev, doc); err == nil || !strings.Contains(err.Error(), "InvalidPolicyException") {
			t.Errorf("%s: %v, want InvalidPolicyException", name, err)
		}
	}
	_, err = dev.pca.PutPolicy(ctx, &acmpca.PutPolicyInput{ResourceArn: aws.String("arn:aws:acm:us-east-1:000000000000:certificate/x"), Policy: aws.String("{}")})
	wantCode(t, err, "InvalidArnException")

	// Only A manages A's CA's policy.
	policy := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"read","Effect":"Allow","Principal":{"AWS":"` + acct.AccountID + `"},"Action":["acm-pca:DescribeCertificateAuthority",` +
		`"acm-pca:GetCertificate","acm-pca:GetCertificateAuthorityCertificate"],"Resource":"` + caARN + `"},` +
		`{"Sid":"issue","Effect":"Allow","Principal":{"AWS":"` + acct.AccountID + `"},"Action":"acm-pca:IssueCertificate","Resource":"` + caARN + `",` +
		`"Condition":{"StringEquals":{"acm-pca:TemplateArn":"` + endEntity + `"}}}]}`
	wantCode(t, put(bAdmin, policy), "AccessDeniedException")
	if err := put(dev, policy); err != nil {
		t.Fatal(err)
	}
	got, err := dev.pca.GetPolicy(ctx, &acmpca.GetPolicyInput{ResourceArn: &caARN})
	if err != nil || *got.Policy != policy {
		t.Fatalf("GetPolicy: %v %v", got, err)
	}
	_, err = bAdmin.pca.GetPolicy(ctx, &acmpca.GetPolicyInput{ResourceArn: &caARN})
	wantCode(t, err, "AccessDeniedException")

	// B sees the CA as shared; A does not see it as shared with itself.
	if got := shared(issuer); len(got) != 1 || got[0] != caARN {
		t.Fatalf("B's OTHER_ACCOUNTS: %v", got)
	}
	if got := shared(dev); len(got) != 0 {
		t.Fatalf("A's OTHER_ACCOUNTS: %v", got)
	}
	if own, err := issuer.pca.ListCertificateAuthorities(ctx, &acmpca.ListCertificateAuthoritiesInput{}); err != nil || len(own.CertificateAuthorities) != 0 {
		t.Fatalf("B's own CAs: %v %v", own, err)
	}
	if d, err := issuer.pca.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &caARN}); err != nil ||
		d.CertificateAuthority.Status != pcatypes.CertificateAuthorityStatusActive {
		t.Fatalf("B describes A's CA: %v", err)
	}

	// Issuance across accounts: both sides must allow, and the policy's
	// template condition holds.
	certARN, err := issue(issuer, endEntity)
	if err != nil {
		t.Fatalf("B issues from A's CA: %v", err)
	}
	if _, err := issuer.pca.GetCertificate(ctx, &acmpca.GetCertificateInput{CertificateAuthorityArn: &caARN, CertificateArn: &certARN}); err != nil {
		t.Fatalf("B gets its certificate: %v", err)
	}
	_, err = issue(issuer, "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1")
	wantCode(t, err, "AccessDeniedException")
	_, err = issue(nobody, endEntity) // the CA allows B, but B's identity policy does not
	wantCode(t, err, "AccessDeniedException")
	_, err = issuer.pca.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{CertificateAuthorityArn: &caARN,
		Status: pcatypes.CertificateAuthorityStatusDisabled}) // not in the CA's policy
	wantCode(t, err, "AccessDeniedException")
	_, err = issuer.pca.RevokeCertificate(ctx, &acmpca.RevokeCertificateInput{CertificateAuthorityArn: &caARN,
		CertificateSerial: aws.String("01"), RevocationReason: pcatypes.RevocationReasonKeyCompromise})
	wantCode(t, err, "AccessDeniedException")

	// ACM in account B on A's CA: request, export, renew. Renewal acts as
	// B's ACM service-linked role, which the policy admits through B's
	// account.
	req, err := issuer.acm.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("svc.b.internal"),
		CertificateAuthorityArn: &caARN, KeyAlgorithm: acmtypes.KeyAlgorithmEcPrime256v1})
	if err != nil {
		t.Fatal(err)
	}
	desc := func() *acmtypes.CertificateDetail {
		d, err := issuer.acm.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: req.CertificateArn})
		if err != nil {
			t.Fatal(err)
		}
		return d.Certificate
	}
	if d := desc(); d.Status != acmtypes.CertificateStatusIssued || !strings.HasPrefix(*d.CertificateArn, "arn:aws:acm:us-east-1:"+acct.AccountID+":") {
		t.Fatalf("B's ACM certificate from A's CA: %s %s %v", d.Status, *d.CertificateArn, d.FailureReason)
	}
	if _, err := issuer.acm.ExportCertificate(ctx, &acm.ExportCertificateInput{CertificateArn: req.CertificateArn, Passphrase: []byte("Pass-b-1234")}); err != nil {
		t.Fatal(err)
	}
	serial := *desc().Serial
	if _, err := issuer.acm.RenewCertificate(ctx, &acm.RenewCertificateInput{CertificateArn: req.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if d := desc(); d.RenewalSummary == nil || d.RenewalSummary.RenewalStatus != acmtypes.RenewalStatusSuccess || *d.Serial == serial {
		t.Fatalf("cross-account renewal: %+v", d.RenewalSummary)
	}

	// The policy goes: B loses the CA at once.
	if _, err := dev.pca.DeletePolicy(ctx, &acmpca.DeletePolicyInput{ResourceArn: &caARN}); err != nil {
		t.Fatal(err)
	}
	_, err = issue(issuer, endEntity)
	wantCode(t, err, "AccessDeniedException")
	if got := shared(issuer); len(got) != 0 {
		t.Fatalf("shared after DeletePolicy: %v", got)
	}
	_, err = dev.pca.DeletePolicy(ctx, &acmpca.DeletePolicyInput{ResourceArn: &caARN})
	wantCode(t, err, "ResourceNotFoundException")
	// (A renewed certificate must be exported again to be eligible.)
	if _, err := issuer.acm.ExportCertificate(ctx, &acm.ExportCertificateInput{CertificateArn: req.CertificateArn, Passphrase: []byte("Pass-b-1234")}); err != nil {
		t.Fatal(err)
	}
	serial = *desc().Serial
	if _, err := issuer.acm.RenewCertificate(ctx, &acm.RenewCertificateInput{CertificateArn: req.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if d := desc(); d.RenewalSummary.RenewalStatus != acmtypes.RenewalStatusFailed ||
		d.RenewalSummary.RenewalStatusReason != acmtypes.FailureReasonPcaAccessDenied || *d.Serial != serial {
		t.Fatalf("renewal after DeletePolicy: %+v", d.RenewalSummary)
	}
}

// TestPCAPermissions checks CreatePermission, ListPermissions and
// DeletePermission for the ACM service principal, and their errors.
func TestPCAPermissions(t *testing.T) {
	env := sigiltest.Start(t)
	ctx := context.Background()
	pc := env.PCA()
	caARN := createCA(t, pc, pcatypes.CertificateAuthorityTypeRoot, pcatypes.KeyAlgorithmEcPrime256v1,
		pcatypes.SigningAlgorithmSha256withecdsa, "Permission Root")
	activateRoot(t, pc, caARN, pcatypes.SigningAlgorithmSha256withecdsa, 5)
	create := func(principal string, actions ...pcatypes.ActionType) error {
		_, err := pc.CreatePermission(ctx, &acmpca.CreatePermissionInput{CertificateAuthorityArn: &caARN,
			Principal: aws.String(principal), Actions: actions})
		return err
	}
	wantCode(t, create("ec2.amazonaws.com", pcatypes.ActionTypeIssueCertificate), "InvalidRequestException")
	wantCode(t, create("acm.amazonaws.com", "RevokeCertificate"), "ValidationException")
	_, err := pc.CreatePermission(ctx, &acmpca.CreatePermissionInput{CertificateAuthorityArn: &caARN, Principal: aws.String("acm.amazonaws.com"),
		Actions: []pcatypes.ActionType{pcatypes.ActionTypeIssueCertificate}, SourceAccount: aws.String("111122223333")})
	wantCode(t, err, "InvalidRequestException")
	if err := create("acm.amazonaws.com", pcatypes.ActionTypeIssueCertificate, pcatypes.ActionTypeGetCertificate, pcatypes.ActionTypeIssueCertificate); err != nil {
		t.Fatal(err)
	}
	wantCode(t, create("acm.amazonaws.com", pcatypes.ActionTypeListPermissions), "PermissionAlreadyExistsException")

	list, err := pc.ListPermissions(ctx, &acmpca.ListPermissionsInput{CertificateAuthorityArn: &caARN})
	if err != nil || len(list.Permissions) != 1 {
		t.Fatalf("ListPermissions: %v %v", list, err)
	}
	p := list.Permissions[0]
	if *p.Principal != "acm.amazonaws.com" || len(p.Actions) != 2 || p.CreatedAt == nil || *p.CertificateAuthorityArn != caARN {
		t.Fatalf("permission %+v", p)
	}
	var doc struct {
		Statement []struct {
			Principal map[string]string
			Action    []string
			Resource  string
		}
	}
	if err := json.Unmarshal([]byte(*p.Policy), &doc); err != nil || len(doc.Statement) != 1 || doc.Statement[0].Principal["Service"] != "acm.amazonaws.com" ||
		doc.Statement[0].Resource != caARN || strings.Join(doc.Statement[0].Action, ",") != "acm-pca:IssueCertificate,acm-pca:GetCertificate" {
		t.Fatalf("permission policy %s (%v)", *p.Policy, err)
	}

	del := func(principal string) error {
		_, err := pc.DeletePermission(ctx, &acmpca.DeletePermissionInput{CertificateAuthorityArn: &caARN, Principal: aws.String(principal)})
		return err
	}
	wantCode(t, del("ec2.amazonaws.com"), "ResourceNotFoundException")
	if err := del("acm.amazonaws.com"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, del("acm.amazonaws.com"), "ResourceNotFoundException")
	if list, err := pc.ListPermissions(ctx, &acmpca.ListPermissionsInput{CertificateAuthorityArn: &caARN}); err != nil || len(list.Permissions) != 0 {
		t.Fatalf("after delete: %v %v", list, err)
	}
	missing := strings.Replace(caARN, caARN[len(caARN)-12:], "000000000000", 1)
	_, err = pc.ListPermissions(ctx, &acmpca.ListPermissionsInput{CertificateAuthorityArn: &missing})
	wantCode(t, err, "ResourceNotFoundException")
}

// TestPCAResourceTagConditions: a user tagged team=a may issue only from
// CAs tagged team=a (aws:ResourceTag against aws:PrincipalTag), and a
// re-tag takes effect at once on this node.
func TestPCAResourceTagConditions(t *testing.T) {
	env := sigiltest.Start(t)
	ctx := context.Background()
	dev := newCaller(env, iam.DevAccount, "arn:aws:iam::000000000000:root", "test", "test", "")
	w := &iamWorld{t: t, env: env, admin: dev}
	user := w.user("team-a-issuer", map[string]string{"team": "a"}, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":"acm-pca:IssueCertificate","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}`)
	mk := func(cn, team string) string {
		arn := createCA(t, dev.pca, pcatypes.CertificateAuthorityTypeRoot, pcatypes.KeyAlgorithmEcPrime256v1, pcatypes.SigningAlgorithmSha256withecdsa, cn)
		activateRoot(t, dev.pca, arn, pcatypes.SigningAlgorithmSha256withecdsa, 5)
		if _, err := dev.pca.TagCertificateAuthority(ctx, &acmpca.TagCertificateAuthorityInput{CertificateAuthorityArn: &arn,
			Tags: []pcatypes.Tag{{Key: aws.String("team"), Value: aws.String(team)}}}); err != nil {
			t.Fatal(err)
		}
		return arn
	}
	caA, caB := mk("Team A Root", "a"), mk("Team B Root", "b")
	issue := func(ca string) error {
		_, err := user.pca.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &ca, Csr: quickCSR(t, "t.example"),
			SigningAlgorithm: pcatypes.SigningAlgorithmSha256withecdsa, Validity: &pcatypes.Validity{Type: pcatypes.ValidityPeriodTypeDays, Value: aws.Int64(1)}})
		return err
	}
	if err := issue(caA); err != nil {
		t.Fatalf("team a's CA: %v", err)
	}
	wantCode(t, issue(caB), "AccessDeniedException")
	if _, err := dev.pca.TagCertificateAuthority(ctx, &acmpca.TagCertificateAuthorityInput{CertificateAuthorityArn: &caB,
		Tags: []pcatypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}); err != nil {
		t.Fatal(err)
	}
	if err := issue(caB); err != nil {
		t.Fatalf("after re-tagging: %v", err)
	}
}
