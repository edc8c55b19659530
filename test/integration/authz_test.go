package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	pcatypes "github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/sigilhq/sigil/internal/api/admin"
	"github.com/sigilhq/sigil/internal/api/functions"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// caller is a set of credentials with a client per service.
type caller struct {
	account, arn     string
	key, secret, tok string
	sm               *secretsmanager.Client
	pca              *acmpca.Client
	acm              *acm.Client
	kms              *kms.Client
	sts              *sts.Client
}

func newCaller(env *sigiltest.Env, account, arn, key, secret, token string) *caller {
	cfg := sigiltest.AWSConfig(key, secret, "us-east-1", nil)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
	return &caller{account: account, arn: arn, key: key, secret: secret, tok: token,
		sm:  sigiltest.SecretsManagerClient(env.URL, cfg),
		pca: sigiltest.PCAClient(env.URL, cfg),
		acm: sigiltest.ACMClient(env.URL, cfg),
		kms: sigiltest.KMSClient(env.URL, cfg),
		sts: sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(env.URL) }),
	}
}

// adminCall sends one SigilAdmin operation as c.
func (c *caller) adminCall(t testing.TB, env *sigiltest.Env, op string, in, out any) error {
	t.Helper()
	return sigiltest.CallNativeSession(context.Background(), env.URL, c.key, c.secret, c.tok, "us-east-1", admin.TargetPrefix+"."+op, in, out)
}

// iamWorld creates principals on demand in an account.
type iamWorld struct {
	t     *testing.T
	env   *sigiltest.Env
	admin *caller
	mu    sync.Mutex
	n     int
}

// user creates a user with the given identity policies and tags, and
// returns its caller.
func (w *iamWorld) user(name string, tags map[string]string, policies ...string) *caller {
	w.t.Helper()
	var tagList []admin.Tag
	for k, v := range tags {
		tagList = append(tagList, admin.Tag{Key: k, Value: v})
	}
	var u admin.UserOutput
	if err := w.admin.adminCall(w.t, w.env, "CreateUser", admin.CreateUserInput{UserName: name, Tags: tagList}, &u); err != nil {
		w.t.Fatalf("create user %s: %v", name, err)
	}
	w.attach("User", name, policies)
	var k admin.CreateAccessKeyOutput
	if err := w.admin.adminCall(w.t, w.env, "CreateAccessKey", admin.UserNameInput{UserName: name}, &k); err != nil {
		w.t.Fatal(err)
	}
	return newCaller(w.env, w.admin.account, u.User.Arn, k.AccessKey.AccessKeyID, k.AccessKey.SecretAccessKey, "")
}

func (w *iamWorld) attach(kind, name string, policies []string) {
	w.t.Helper()
	for _, doc := range policies {
		arn := doc
		if !strings.HasPrefix(doc, "arn:") {
			w.mu.Lock()
			w.n++
			pname := fmt.Sprintf("p%d", w.n)
			w.mu.Unlock()
			var p admin.PolicyOutput
			if err := w.admin.adminCall(w.t, w.env, "CreatePolicy", admin.CreatePolicyInput{PolicyName: pname, PolicyDocument: doc}, &p); err != nil {
				w.t.Fatalf("create policy %s: %v", doc, err)
			}
			arn = p.Policy.Arn
		}
		in := admin.AttachInput{PolicyArn: arn}
		if kind == "User" {
			in.UserName = name
		} else {
			in.RoleName = name
		}
		if err := w.admin.adminCall(w.t, w.env, "Attach"+kind+"Policy", in, nil); err != nil {
			w.t.Fatalf("attach: %v", err)
		}
	}
}

// role creates a role with a trust policy, tags and identity policies.
func (w *iamWorld) role(name, trust string, tags map[string]string, policies ...string) string {
	w.t.Helper()
	var tagList []admin.Tag
	for k, v := range tags {
		tagList = append(tagList, admin.Tag{Key: k, Value: v})
	}
	var r admin.RoleOutput
	if err := w.admin.adminCall(w.t, w.env, "CreateRole", admin.CreateRoleInput{RoleName: name, AssumeRolePolicyDocument: trust, Tags: tagList}, &r); err != nil {
		w.t.Fatalf("create role %s: %v", name, err)
	}
	w.attach("Role", name, policies)
	return r.Role.Arn
}

// assume assumes a role as c and returns the session's caller.
func assume(t testing.TB, env *sigiltest.Env, c *caller, roleARN, session string, tags map[string]string) (*caller, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String(session)}
	for k, v := range tags {
		in.Tags = append(in.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := c.sts.AssumeRole(context.Background(), in)
	if err != nil {
		return nil, err
	}
	return newCaller(env, iam.AccountOf(roleARN), *out.AssumedRoleUser.Arn, *out.Credentials.AccessKeyId,
		*out.Credentials.SecretAccessKey, *out.Credentials.SessionToken), nil
}

func allowDoc(action, resource string, cond ...string) string {
	c := ""
	if len(cond) > 0 {
		c = `,"Condition":` + cond[0]
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"` + c + `}]}`
}

// errorCode returns the AWS error code of err, "" for nil.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var ne *functions.APIError
	if errors.As(err, &ne) {
		return ne.Code
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

const denied = "AccessDeniedException"

// TestAuthorization drives the policy engine through the real API with
// callers holding different credentials: identity and resource policies,
// cross-account access, explicit denies, NotAction/NotResource, each
// condition operator family, policy variables, ABAC on tags, separation of
// duties on a CA, template restrictions, ACM name restrictions, KMS key
// policies, role trust, and the seeds' cross-account secret flow.
func TestAuthorization(t *testing.T) {
	env := sigiltest.Start(t)
	ctx := context.Background()
	dev := newCaller(env, iam.DevAccount, "arn:aws:iam::000000000000:root", "test", "test", "")
	a := &iamWorld{t: t, env: env, admin: dev}

	// Account B, with its own administrator.
	var acct admin.CreateAccountOutput
	if err := dev.adminCall(t, env, "CreateAccount", admin.CreateAccountInput{Name: "b"}, &acct); err != nil {
		t.Fatal(err)
	}
	bAdmin := newCaller(env, acct.AccountID, acct.UserArn, acct.AccessKeyID, acct.SecretAccessKey, "")
	b := &iamWorld{t: t, env: env, admin: bAdmin}

	// Account A's resources.
	mkSecret := func(name string, tags map[string]string, kmsKey string) string {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("value-of-" + name)}
		for k, v := range tags {
			in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if kmsKey != "" {
			in.KmsKeyId = aws.String(kmsKey)
		}
		out, err := dev.sm.CreateSecret(ctx, in)
		if err != nil {
			t.Fatalf("create secret %s: %v", name, err)
		}
		return *out.ARN
	}
	key, err := dev.kms.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := *key.KeyMetadata.Arn
	devSecret := mkSecret("app/dev-db", map[string]string{"env": "dev"}, "")
	prodSecret := mkSecret("app/prod-db", map[string]string{"env": "prod", "owner": "ops"}, "")
	plainSecret := mkSecret("plain", nil, "")
	shared := mkSecret("shared/db", nil, keyARN)
	sharedManaged := mkSecret("shared/managed-key", nil, "")

	caARN := createCA(t, dev.pca, pcatypes.CertificateAuthorityTypeRoot, pcatypes.KeyAlgorithmEcPrime256v1,
		pcatypes.SigningAlgorithmSha256withecdsa, "Authz Root")
	activateRoot(t, dev.pca, caARN, pcatypes.SigningAlgorithmSha256withecdsa, 5)

	get := func(c *caller, id string) error {
		_, err := c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		return err
	}
	describe := func(c *caller, id string) error {
		_, err := c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
		return err
	}
	create := func(c *caller, name string, tags map[string]string) error {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("x")}
		for k, v := range tags {
			in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		_, err := c.sm.CreateSecret(ctx, in)
		return err
	}
	issueWith := func(c *caller, template string) error {
		in := &acmpca.IssueCertificateInput{CertificateAuthorityArn: aws.String(caARN), Csr: quickCSR(t, "authz.example"),
			SigningAlgorithm: pcatypes.SigningAlgorithmSha256withecdsa, Validity: &pcatypes.Validity{Type: pcatypes.ValidityPeriodTypeDays, Value: aws.Int64(5)}}
		if template != "" {
			in.TemplateArn = aws.String(template)
		}
		_, err := c.pca.IssueCertificate(ctx, in)
		return err
	}
	setCAStatus := func(c *caller, status pcatypes.CertificateAuthorityStatus) error {
		_, err := c.pca.UpdateCertificateAuthority(ctx, &acmpca.UpdateCertificateAuthorityInput{CertificateAuthorityArn: aws.String(caARN), Status: status})
		return err
	}
	requestCert := func(c *caller, names ...string) error {
		in := &acm.RequestCertificateInput{DomainName: aws.String(names[0]), CertificateAuthorityArn: aws.String(caARN)}
		if len(names) > 1 {
			in.SubjectAlternativeNames = names[1:]
		}
		_, err := c.acm.RequestCertificate(ctx, in)
		return err
	}
	encrypt := func(c *caller, ec map[string]string) error {
		_, err := c.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("p"), EncryptionContext: ec})
		return err
	}

	type tc struct {
		name string
		call func() error
		want string // "" allowed, else the error code
	}
	var cases []tc
	add := func(name, want string, call func() error) { cases = append(cases, tc{name, call, want}) }

	// --- identity policies, one account ---
	nobody := a.user("nobody", nil)
	add("no policy: GetSecretValue denied", denied, func() error { return get(nobody, devSecret) })
	add("no policy: ListSecrets denied", denied, func() error {
		_, err := nobody.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
		return err
	})
	reader := a.user("reader", nil, allowDoc("secretsmanager:GetSecretValue", "*"))
	add("identity allow *: read", "", func() error { return get(reader, devSecret) })
	add("identity allow only GetSecretValue: describe denied", denied, func() error { return describe(reader, devSecret) })
	one := a.user("one-secret", nil, allowDoc("secretsmanager:GetSecretValue", devSecret))
	add("resource ARN: the named secret", "", func() error { return get(one, devSecret) })
	add("resource ARN: another secret denied", denied, func() error { return get(one, prodSecret) })
	wild := a.user("wild", nil, allowDoc("secretsmanager:Get*", "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/*"))
	add("action and ARN wildcards: match", "", func() error { return get(wild, prodSecret) })
	add("ARN wildcard: outside the prefix denied", denied, func() error { return get(wild, plainSecret) })
	add("action wildcard: Describe not matched by Get*", denied, func() error { return describe(wild, devSecret) })
	denier := a.user("denier", nil, allowDoc("secretsmanager:*", "*"),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"`+prodSecret+`"}]}`)
	add("explicit deny beats allow", denied, func() error { return get(denier, prodSecret) })
	add("explicit deny is scoped to its resource", "", func() error { return get(denier, devSecret) })
	add("explicit deny is scoped to its action", "", func() error { return describe(denier, prodSecret) })
	notAction := a.user("not-action", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
	add("NotAction: other actions allowed", "", func() error { return describe(notAction, devSecret) })
	add("NotAction: the excluded action denied", denied, func() error { return get(notAction, devSecret) })
	notRes := a.user("not-resource", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","NotResource":"`+prodSecret+`"}]}`)
	add("NotResource: other resources allowed", "", func() error { return get(notRes, devSecret) })
	add("NotResource: the excluded resource denied", denied, func() error { return get(notRes, prodSecret) })

	// --- resource policies, one account ---
	rpUser := a.user("rp-user", nil)
	rpOther := a.user("rp-other", nil)
	if _, err := dev.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(plainSecret),
		ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + rpUser.arn + `"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},` +
			`{"Effect":"Deny","Principal":{"AWS":"` + reader.arn + `"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	add("resource policy alone grants the named user", "", func() error { return get(rpUser, plainSecret) })
	add("resource policy: a user it does not name is denied", denied, func() error { return get(rpOther, plainSecret) })
	add("resource policy explicit deny beats an identity allow", denied, func() error { return get(reader, plainSecret) })

	// --- condition operators ---
	cond := func(name, c string) *caller {
		return a.user(name, nil, allowDoc("secretsmanager:GetSecretValue", "*", c))
	}
	tagEq := cond("tag-eq", `{"StringEquals":{"aws:ResourceTag/env":"dev"}}`)
	add("StringEquals on resource tag: match", "", func() error { return get(tagEq, devSecret) })
	add("StringEquals on resource tag: mismatch denied", denied, func() error { return get(tagEq, prodSecret) })
	tagNe := cond("tag-ne", `{"StringNotEquals":{"secretsmanager:ResourceTag/env":"prod"}}`)
	add("StringNotEquals: other value allowed", "", func() error { return get(tagNe, devSecret) })
	add("StringNotEquals: the value denied", denied, func() error { return get(tagNe, prodSecret) })
	like := cond("like", `{"StringLike":{"secretsmanager:SecretId":"*:secret:app/dev-*"}}`)
	add("StringLike on secretsmanager:SecretId: match", "", func() error { return get(like, devSecret) })
	add("StringLike: no match denied", denied, func() error { return get(like, prodSecret) })
	ignoreCase := cond("ignore-case", `{"StringEqualsIgnoreCase":{"aws:ResourceTag/env":"DEV"}}`)
	add("StringEqualsIgnoreCase", "", func() error { return get(ignoreCase, devSecret) })
	numOK := cond("num-ok", `{"NumericGreaterThan":{"aws:EpochTime":"1000"}}`)
	add("NumericGreaterThan on aws:EpochTime: true", "", func() error { return get(numOK, devSecret) })
	numNo := cond("num-no", `{"NumericLessThan":{"aws:EpochTime":"1000"}}`)
	add("NumericLessThan on aws:EpochTime: false denied", denied, func() error { return get(numNo, devSecret) })
	dateOK := cond("date-ok", `{"DateLessThan":{"aws:CurrentTime":"2999-01-01T00:00:00Z"}}`)
	add("DateLessThan on aws:CurrentTime: true", "", func() error { return get(dateOK, devSecret) })
	dateNo := cond("date-no", `{"DateGreaterThan":{"aws:CurrentTime":"2999-01-01T00:00:00Z"}}`)
	add("DateGreaterThan on aws:CurrentTime: false denied", denied, func() error { return get(dateNo, devSecret) })
	tls := cond("tls-only", `{"Bool":{"aws:SecureTransport":"true"}}`)
	add("Bool aws:SecureTransport=true over plain HTTP denied", denied, func() error { return get(tls, devSecret) })
	plain := cond("plain-ok", `{"Bool":{"aws:SecureTransport":"false"}}`)
	add("Bool aws:SecureTransport=false over plain HTTP", "", func() error { return get(plain, devSecret) })
	ipOK := cond("ip-ok", `{"IpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}`)
	add("IpAddress: loopback allowed", "", func() error { return get(ipOK, devSecret) })
	ipNo := cond("ip-no", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`)
	add("IpAddress: other network denied", denied, func() error { return get(ipNo, devSecret) })
	notIP := cond("not-ip", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`)
	add("NotIpAddress: outside the range allowed", "", func() error { return get(notIP, devSecret) })
	arnLike := a.user("ops-alice", nil, allowDoc("secretsmanager:GetSecretValue", "*", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/ops-*"}}`))
	add("ArnLike on aws:PrincipalArn: match", "", func() error { return get(arnLike, devSecret) })
	arnNo := a.user("dev-bob", nil, allowDoc("secretsmanager:GetSecretValue", "*", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/ops-*"}}`))
	add("ArnLike on aws:PrincipalArn: no match denied", denied, func() error { return get(arnNo, devSecret) })
	null := cond("null", `{"Null":{"aws:ResourceTag/owner":"true"}}`)
	add("Null=true: resource without the tag allowed", "", func() error { return get(null, devSecret) })
	add("Null=true: resource with the tag denied", denied, func() error { return get(null, prodSecret) })
	ifExists := cond("if-exists", `{"StringEqualsIfExists":{"aws:ResourceTag/env":"dev"}}`)
	add("IfExists: absent key passes", "", func() error { return get(ifExists, plainSecret) })
	add("IfExists: present key still tested", denied, func() error { return get(ifExists, prodSecret) })
	anyTag := a.user("any-tag", nil, allowDoc("secretsmanager:CreateSecret", "*", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}}`))
	add("ForAnyValue on aws:TagKeys: one matching tag", "", func() error { return create(anyTag, "any-1", map[string]string{"team": "x", "cost": "y"}) })
	add("ForAnyValue: no matching tag denied", denied, func() error { return create(anyTag, "any-2", map[string]string{"cost": "y"}) })
	allTag := a.user("all-tag", nil, allowDoc("secretsmanager:CreateSecret", "*", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`))
	add("ForAllValues: every tag key listed", "", func() error { return create(allTag, "all-1", map[string]string{"env": "dev"}) })
	add("ForAllValues: an unlisted tag key denied", denied, func() error { return create(allTag, "all-2", map[string]string{"env": "dev", "cost": "1"}) })
	reqTag := a.user("req-tag", nil, allowDoc("secretsmanager:CreateSecret", "*", `{"StringEquals":{"aws:RequestTag/env":"dev"}}`))
	add("aws:RequestTag: required tag given", "", func() error { return create(reqTag, "req-1", map[string]string{"env": "dev"}) })
	add("aws:RequestTag: required tag missing denied", denied, func() error { return create(reqTag, "req-2", nil) })

	// --- policy variables ---
	vars := a.user("app", nil, allowDoc("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:000000000000:secret:${aws:username}/*"))
	add("${aws:username} in Resource: own prefix", "", func() error { return get(vars, devSecret) })
	add("${aws:username} in Resource: another prefix denied", denied, func() error { return get(vars, plainSecret) })
	teamVar := a.user("team-dev", map[string]string{"env": "dev"},
		allowDoc("secretsmanager:GetSecretValue", "*", `{"StringEquals":{"aws:ResourceTag/env":"${aws:PrincipalTag/env}"}}`))
	add("${aws:PrincipalTag/env} = resource tag: match", "", func() error { return get(teamVar, devSecret) })
	add("${aws:PrincipalTag/env}: mismatch denied", denied, func() error { return get(teamVar, prodSecret) })

	// --- roles, trust and ABAC on sessions ---
	abacPolicy := allowDoc("secretsmanager:GetSecretValue", "*", `{"StringEquals":{"aws:ResourceTag/env":"${aws:PrincipalTag/env}"}}`)
	assumer := a.user("assumer", nil, allowDoc("sts:AssumeRole", "*"))
	stranger := a.user("stranger", nil, allowDoc("sts:AssumeRole", "*"))
	devRole := a.role("dev-server", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+assumer.arn+`"},"Action":"sts:AssumeRole"}]}`,
		map[string]string{"env": "dev"}, abacPolicy)
	session, err := assume(t, env, assumer, devRole, "web-1", nil)
	if err != nil {
		t.Fatalf("assume role: %v", err)
	}
	add("ABAC: role tagged env=dev reads env=dev", "", func() error { return get(session, devSecret) })
	add("ABAC: role tagged env=dev cannot read env=prod", denied, func() error { return get(session, prodSecret) })
	add("ABAC: untagged secret denied to the role", denied, func() error { return get(session, plainSecret) })
	add("trust policy: a principal it does not name cannot assume", "AccessDenied", func() error {
		_, err := assume(t, env, stranger, devRole, "x-1", nil)
		return err
	})
	add("GetCallerIdentity of a session names the assumed role", "", func() error {
		out, err := session.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return err
		}
		if *out.Arn != "arn:aws:sts::000000000000:assumed-role/dev-server/web-1" || *out.Account != iam.DevAccount {
			return fmt.Errorf("caller identity %s %s", *out.Arn, *out.Account)
		}
		return nil
	})
	add("GetCallerIdentity of a user", "", func() error {
		out, err := nobody.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return err
		}
		if *out.Arn != nobody.arn || !strings.HasPrefix(*out.UserId, "AIDA") {
			return fmt.Errorf("caller identity %s %s", *out.Arn, *out.UserId)
		}
		return nil
	})
	add("a session token that is not the session's is refused", "UnrecognizedClientException", func() error {
		forged := newCaller(env, session.account, session.arn, session.key, session.secret, session.tok[:len(session.tok)-4]+"AAAA")
		return get(forged, devSecret)
	})
	// Session tags override the role's tags for aws:PrincipalTag.
	tagRole := a.role("tagged-sessions", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+assumer.arn+`"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`,
		map[string]string{"env": "dev"}, abacPolicy)
	prodSession, err := assume(t, env, assumer, tagRole, "batch", map[string]string{"env": "prod"})
	if err != nil {
		t.Fatalf("assume with tags: %v", err)
	}
	add("session tag env=prod reads env=prod", "", func() error { return get(prodSession, prodSecret) })
	add("session tag overrides the role's env=dev", denied, func() error { return get(prodSession, devSecret) })

	// --- separation of duties on a CA, and template restrictions ---
	caAdminRole := a.role("ca-admin", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+assumer.arn+`"},"Action":"sts:AssumeRole"}]}`, nil,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["acm-pca:UpdateCertificateAuthority","acm-pca:Describe*","acm-pca:List*"],"Resource":"*"},`+
			`{"Effect":"Deny","Action":"acm-pca:IssueCertificate","Resource":"*"}]}`)
	issuerRole := a.role("issuer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+assumer.arn+`"},"Action":"sts:AssumeRole"}]}`, nil,
		allowDoc("acm-pca:IssueCertificate", caARN, `{"StringEquals":{"acm-pca:TemplateArn":"arn:aws:acm-pca:::template/EndEntityCertificate/V1"}}`),
		allowDoc("acm-pca:GetCertificate", caARN))
	caAdmin, err := assume(t, env, assumer, caAdminRole, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := assume(t, env, assumer, issuerRole, "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	add("issuer role issues with the allowed template", "", func() error { return issueWith(issuer, "") })
	add("issuer role cannot use another template (acm-pca:TemplateArn)", denied, func() error {
		return issueWith(issuer, "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1")
	})
	add("issuer role cannot disable the CA", denied, func() error { return setCAStatus(issuer, pcatypes.CertificateAuthorityStatusDisabled) })
	add("CA-admin role cannot issue", denied, func() error { return issueWith(caAdmin, "") })
	add("CA-admin role can disable the CA", "", func() error { return setCAStatus(caAdmin, pcatypes.CertificateAuthorityStatusDisabled) })
	add("CA-admin role can enable the CA again", "", func() error { return setCAStatus(caAdmin, pcatypes.CertificateAuthorityStatusActive) })

	// --- ACM: names and key algorithms ---
	teamA := a.user("team-a", nil, `{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":"acm:RequestCertificate","Resource":"*","Condition":{"ForAllValues:StringLike":{"acm:DomainNames":["*.a.example"]}}},`+
		`{"Effect":"Deny","Action":"acm:RequestCertificate","Resource":"*","Condition":{"ForAnyValue:StringLike":{"acm:DomainNames":["${*}.*"]}}},`+
		`{"Effect":"Deny","Action":"acm:RequestCertificate","Resource":"*","Condition":{"StringNotEquals":{"acm:KeyAlgorithm":"EC_prime256v1"}}},`+
		`{"Effect":"Allow","Action":["acm-pca:IssueCertificate","acm-pca:GetCertificate","acm-pca:DescribeCertificateAuthority"],"Resource":"*"}]}`)
	requestEC := func(c *caller, names ...string) error {
		in := &acm.RequestCertificateInput{DomainName: aws.String(names[0]), CertificateAuthorityArn: aws.String(caARN), KeyAlgorithm: acmtypes.KeyAlgorithmEcPrime256v1}
		if len(names) > 1 {
			in.SubjectAlternativeNames = names[1:]
		}
		_, err := c.acm.RequestCertificate(ctx, in)
		return err
	}
	add("ACM: team A may request *.a.example names", "", func() error { return requestEC(teamA, "web.a.example", "api.a.example") })
	add("ACM: team A may not request another team's name", denied, func() error { return requestEC(teamA, "web.a.example", "web.b.example") })
	add("ACM: team A may not request a wildcard", denied, func() error { return requestEC(teamA, "*.a.example") })
	add("ACM: team A may not use RSA keys", denied, func() error { return requestCert(teamA, "rsa.a.example") })

	// --- KMS key policies ---
	encrypter := a.user("encrypter", nil, allowDoc("kms:Encrypt", "*"))
	add("KMS default key policy delegates to IAM: identity allow suffices", "", func() error { return encrypt(encrypter, nil) })
	add("KMS: no identity allow under the default key policy", denied, func() error { return encrypt(nobody, nil) })
	ecUser := a.user("ec-user", nil, allowDoc("kms:Encrypt", "*", `{"StringEquals":{"kms:EncryptionContext:app":"billing"}}`))
	add("kms:EncryptionContext condition: match", "", func() error { return encrypt(ecUser, map[string]string{"app": "billing"}) })
	add("kms:EncryptionContext condition: other context denied", denied, func() error { return encrypt(ecUser, map[string]string{"app": "web"}) })
	// A key whose policy names one user and not the account: IAM policies
	// do not count, and that user needs none.
	soloKey, err := dev.kms.CreateKey(ctx, &kms.CreateKeyInput{BypassPolicyLockoutSafetyCheck: true, Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + rpUser.arn + `"},"Action":"kms:Encrypt","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	add("key policy naming a user grants it without identity policy", "", func() error {
		_, err := rpUser.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: soloKey.KeyMetadata.KeyId, Plaintext: []byte("p")})
		return err
	})
	add("key policy not naming the account: identity allow does not count", denied, func() error {
		_, err := encrypter.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: soloKey.KeyMetadata.KeyId, Plaintext: []byte("p")})
		return err
	})

	// --- cross-account: the seeds' flow ---
	bReader := b.user("reader", nil, allowDoc("secretsmanager:GetSecretValue", "*"), allowDoc("kms:Decrypt", "*"))
	bNoPolicy := b.user("no-policy", nil)
	add("cross-account: no resource policy, identity allow is not enough", denied, func() error { return get(bReader, shared) })
	add("cross-account: B's administrator is no better", denied, func() error { return get(bAdmin, shared) })
	add("cross-account: ListSecrets shows only the caller's account", "", func() error {
		out, err := bAdmin.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
		if err != nil {
			return err
		}
		if len(out.SecretList) != 0 {
			return fmt.Errorf("account B sees %d of A's secrets", len(out.SecretList))
		}
		return nil
	})

	// Run the first batch, then open the secret to account B step by step.
	run := func(cases []tc) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := errorCode(c.call()); got != c.want {
					t.Fatalf("got %q, want %q", got, c.want)
				}
			})
		}
	}
	run(cases)
	total := len(cases)
	cases = nil

	grantB := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct.AccountID + `:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	for _, id := range []string{shared, sharedManaged} {
		if _, err := dev.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(id), ResourcePolicy: aws.String(grantB)}); err != nil {
			t.Fatal(err)
		}
	}
	add("seeds: the secret's policy grants B but the key policy does not", denied, func() error { return get(bReader, shared) })
	add("cross-account: a secret under the AWS managed key stays unreadable", denied, func() error { return get(bReader, sharedManaged) })
	run(cases)
	total += len(cases)
	cases = nil

	keyPolicy := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct.AccountID + `:root"},"Action":"kms:Decrypt","Resource":"*",` +
		`"Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}}]}`
	if _, err := dev.kms.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(keyARN), Policy: aws.String(keyPolicy), PolicyName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	add("seeds: secret policy and key policy both grant B: B reads", "", func() error { return get(bReader, shared) })
	add("cross-account: B needs its own identity allow too", denied, func() error { return get(bNoPolicy, shared) })
	add("cross-account: B still cannot read A's other secrets", denied, func() error { return get(bReader, devSecret) })
	add("kms:ViaService: B cannot use the key directly", denied, func() error {
		blob, err := dev.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("p")})
		if err != nil {
			return err
		}
		_, err = bReader.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
		return err
	})

	// Cross-account role: A trusts B's account; B's identity policy decides.
	crossRole := a.role("from-b", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+acct.AccountID+`"},"Action":"sts:AssumeRole"}]}`,
		nil, allowDoc("secretsmanager:DescribeSecret", "*"))
	bAssumer := b.user("assumer", nil, allowDoc("sts:AssumeRole", crossRole))
	add("cross-account AssumeRole: trusted account and identity allow", "", func() error {
		s, err := assume(t, env, bAssumer, crossRole, "from-b", nil)
		if err != nil {
			return err
		}
		return describe(s, devSecret) // now acting in account A
	})
	add("cross-account AssumeRole: without B's identity allow", "AccessDenied", func() error {
		_, err := assume(t, env, bNoPolicy, crossRole, "nope", nil)
		return err
	})

	// --- administration is authorized too ---
	add("a user without IAM permissions cannot create users", denied, func() error {
		return reader.adminCall(t, env, "CreateUser", admin.CreateUserInput{UserName: "x"}, nil)
	})
	add("only the management account lists accounts", denied, func() error {
		return bAdmin.adminCall(t, env, "ListAccounts", struct{}{}, nil)
	})
	add("a malformed identity policy is refused", "MalformedPolicyDocument", func() error {
		return dev.adminCall(t, env, "CreatePolicy", admin.CreatePolicyInput{PolicyName: "bad", PolicyDocument: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"nodelimiter","Resource":"*"}]}`}, nil)
	})
	add("a malformed secret resource policy is refused", "MalformedPolicyDocumentException", func() error {
		_, err := dev.sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(devSecret),
			ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"NoSuchOperator":{"a":"b"}}}]}`)})
		return err
	})
	add("a deactivated access key stops working", "UnrecognizedClientException", func() error {
		var keys admin.ListAccessKeysOutput
		if err := dev.adminCall(t, env, "ListAccessKeys", admin.UserNameInput{UserName: "reader"}, &keys); err != nil {
			return err
		}
		if err := dev.adminCall(t, env, "UpdateAccessKey", admin.AccessKeyInput{UserName: "reader", AccessKeyID: keys.AccessKeyMetadata[0].AccessKeyID, Status: "Inactive"}, nil); err != nil {
			return err
		}
		return get(reader, devSecret)
	})
	run(cases)
	total += len(cases)

	// A session expires with its credentials.
	advance(t, env.URL, "2h")
	if code := errorCode(get(session, devSecret)); code != "ExpiredTokenException" {
		t.Fatalf("expired session: %q", code)
	}
	total++
	if total < 60 {
		t.Fatalf("only %d authorization cases", total)
	}
	t.Logf("%d authorization cases", total)
}
