package integration

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	pcatypes "github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	_ "modernc.org/sqlite" // the SQLite driver, to tamper with the database directly

	"github.com/sigilhq/sigil/internal/sigiltest"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

// auditCall is an API call the test made and expects in the audit trail.
type auditCall struct {
	requestID, name, source string
	readOnly                bool
	errorCode               string
	resource                string // an ARN the record must name, or ""
	accessKey               string
}

type auditRun struct {
	t     *testing.T
	env   *sigiltest.Env
	calls []auditCall
}

// requestID returns the x-amzn-RequestId of an SDK answer or error.
func requestID(t *testing.T, meta middleware.Metadata, err error) string {
	t.Helper()
	if err != nil {
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.ServiceRequestID() == "" {
			t.Fatalf("no request ID in error %v", err)
		}
		return re.ServiceRequestID()
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(meta)
	if !ok || id == "" {
		t.Fatal("no request ID in the answer")
	}
	return id
}

// track records a call the SDK made: its answer's metadata (or error).
func (r *auditRun) track(meta middleware.Metadata, err error, c auditCall) {
	r.t.Helper()
	if (err != nil) != (c.errorCode != "") {
		r.t.Fatalf("%s: error %v, want code %q", c.name, err, c.errorCode)
	}
	if err != nil {
		wantCode(r.t, err, c.errorCode)
	}
	c.requestID = requestID(r.t, meta, err)
	if c.accessKey == "" {
		c.accessKey = "test"
	}
	r.calls = append(r.calls, c)
}

// auditDB opens the server's database directly, and returns a function
// that writes a query's placeholders for its engine.
func auditDB(t *testing.T, env *sigiltest.Env) (*sql.DB, func(string) string) {
	t.Helper()
	driver, dsn := "pgx", env.Store
	rebind := func(q string) string {
		n := 0
		return regexp.MustCompile(`\?`).ReplaceAllStringFunc(q, func(string) string { n++; return fmt.Sprintf("$%d", n) })
	}
	if !sqlstore.IsPostgres(env.Store) {
		path, _, err := sqlstore.SQLitePath(env.Store)
		if err != nil {
			t.Fatal(err)
		}
		driver, dsn = "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)"
		rebind = func(q string) string { return q }
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, rebind
}

// find returns the first tracked call of an operation.
func (r *auditRun) find(name string) auditCall {
	for _, c := range r.calls {
		if c.name == name {
			return c
		}
	}
	r.t.Fatalf("no %s call", name)
	return auditCall{}
}

// auditRows dumps every row of the audit tables as text.
func auditRows(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"audit_events", "audit_event_resources", "audit_pending", "audit_chain"} {
		rows, err := db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch x := v.(type) {
				case []byte:
					b.Write(x)
				default:
					fmt.Fprint(&b, x)
				}
				b.WriteByte('\t')
			}
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String()
}

// TestAuditTrail makes calls across Private CA, ACM, Secrets Manager, KMS
// and the admin API with the SDK — successes, a denial, failures — and
// checks that each appears exactly once in the audit trail with its
// CloudTrail fields, through LookupEvents (SDK and AWS CLI) and `sigil
// audit`; that no secret is in the audit tables or the log; and that
// `sigil audit verify` passes, then names the row that was tampered with.
func TestAuditTrail(t *testing.T) {
	env := sigiltest.Start(t)
	db, q := auditDB(t, env)
	r := &auditRun{t: t, env: env}
	start := time.Now().Add(-time.Second)
	stamp := fmt.Sprintf("%d", time.Now().UnixNano())
	markers := map[string]string{ // what must never be recorded
		"secret string":     "SecretMarkerCreate-" + stamp,
		"put secret":        "SecretMarkerPut-" + stamp,
		"binary secret":     "BinaryMarker-" + stamp,
		"export passphrase": "PassphraseMarker-" + stamp,
		"kms plaintext":     "PlaintextMarker-" + stamp,
	}
	for name, m := range markers {
		if name != "secret string" && name != "put secret" {
			markers[name+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(m))
		}
	}

	// Private CA.
	pc := env.PCA()
	caARN := createCA(t, pc, pcatypes.CertificateAuthorityTypeRoot, pcatypes.KeyAlgorithmEcPrime256v1, pcatypes.SigningAlgorithmSha256withecdsa, "Audit Root")
	activateRoot(t, pc, caARN, pcatypes.SigningAlgorithmSha256withecdsa, 5)
	desc, err := pc.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &caARN})
	r.track(desc.ResultMetadata, err, auditCall{name: "DescribeCertificateAuthority", source: "acm-pca.amazonaws.com", readOnly: true, resource: caARN})
	iss, err := pc.IssueCertificate(ctx, &acmpca.IssueCertificateInput{CertificateAuthorityArn: &caARN, Csr: quickCSR(t, "audit.example"),
		SigningAlgorithm: pcatypes.SigningAlgorithmSha256withecdsa, Validity: &pcatypes.Validity{Type: pcatypes.ValidityPeriodTypeDays, Value: aws.Int64(3)}})
	r.track(iss.ResultMetadata, err, auditCall{name: "IssueCertificate", source: "acm-pca.amazonaws.com", resource: aws.ToString(iss.CertificateArn)})
	missingCA := strings.Replace(caARN, caARN[len(caARN)-12:], "000000000000", 1)
	_, err = pc.DescribeCertificateAuthority(ctx, &acmpca.DescribeCertificateAuthorityInput{CertificateAuthorityArn: &missingCA})
	r.track(middleware.Metadata{}, err, auditCall{name: "DescribeCertificateAuthority", source: "acm-pca.amazonaws.com", readOnly: true,
		errorCode: "ResourceNotFoundException", resource: missingCA})

	// ACM: request and export (the key, under a passphrase).
	ac := env.ACM()
	req, err := ac.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("audit.internal"),
		CertificateAuthorityArn: &caARN, KeyAlgorithm: acmtypes.KeyAlgorithmEcPrime256v1})
	r.track(req.ResultMetadata, err, auditCall{name: "RequestCertificate", source: "acm.amazonaws.com", resource: aws.ToString(req.CertificateArn)})
	ex, err := ac.ExportCertificate(ctx, &acm.ExportCertificateInput{CertificateArn: req.CertificateArn, Passphrase: []byte(markers["export passphrase"])})
	r.track(ex.ResultMetadata, err, auditCall{name: "ExportCertificate", source: "acm.amazonaws.com", resource: aws.ToString(req.CertificateArn)})
	keyPEM := aws.ToString(ex.PrivateKey)
	if !strings.Contains(keyPEM, "PRIVATE KEY") {
		t.Fatalf("export returned no key: %.60s", keyPEM)
	}
	markers["exported key"] = strings.Split(strings.TrimSpace(keyPEM), "\n")[1] // a line of its base64

	// Secrets Manager.
	sm := env.SecretsManager()
	cs, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("audit/db"), SecretString: aws.String(markers["secret string"])})
	r.track(cs.ResultMetadata, err, auditCall{name: "CreateSecret", source: "secretsmanager.amazonaws.com", resource: aws.ToString(cs.ARN)})
	// The change's record is in the store as soon as the call returns.
	var n int
	created := r.find("CreateSecret").requestID
	if err := db.QueryRow(q(`SELECT (SELECT COUNT(*) FROM audit_pending WHERE body LIKE ?) + (SELECT COUNT(*) FROM audit_events WHERE request_id = ?)`),
		"%"+created+"%", created).Scan(&n); err != nil || n != 1 {
		t.Fatalf("CreateSecret's record right after the call: %d rows (%v)", n, err)
	}
	gv, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("audit/db")})
	r.track(gv.ResultMetadata, err, auditCall{name: "GetSecretValue", source: "secretsmanager.amazonaws.com", readOnly: true, resource: aws.ToString(cs.ARN)})
	pv, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: cs.ARN, SecretString: aws.String(markers["put secret"])})
	r.track(pv.ResultMetadata, err, auditCall{name: "PutSecretValue", source: "secretsmanager.amazonaws.com", resource: aws.ToString(cs.ARN)})
	cb, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("audit/bin"), SecretBinary: []byte(markers["binary secret"])})
	r.track(cb.ResultMetadata, err, auditCall{name: "CreateSecret", source: "secretsmanager.amazonaws.com", resource: aws.ToString(cb.ARN)})
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("audit/missing")})
	r.track(middleware.Metadata{}, err, auditCall{name: "GetSecretValue", source: "secretsmanager.amazonaws.com", readOnly: true, errorCode: "ResourceNotFoundException"})
	rp, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(40)})
	r.track(rp.ResultMetadata, err, auditCall{name: "GetRandomPassword", source: "secretsmanager.amazonaws.com", readOnly: true})
	markers["random password"] = aws.ToString(rp.RandomPassword)

	// KMS.
	km := env.KMS()
	ck, err := km.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("audit key")})
	r.track(ck.ResultMetadata, err, auditCall{name: "CreateKey", source: "kms.amazonaws.com", resource: aws.ToString(ck.KeyMetadata.Arn)})
	keyARN := aws.ToString(ck.KeyMetadata.Arn)
	enc, err := km.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte(markers["kms plaintext"])})
	r.track(enc.ResultMetadata, err, auditCall{name: "Encrypt", source: "kms.amazonaws.com", readOnly: true, resource: keyARN})
	dec, err := km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	r.track(dec.ResultMetadata, err, auditCall{name: "Decrypt", source: "kms.amazonaws.com", readOnly: true, resource: keyARN})
	dk, err := km.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &keyARN, KeySpec: kmstypes.DataKeySpecAes256})
	r.track(dk.ResultMetadata, err, auditCall{name: "GenerateDataKey", source: "kms.amazonaws.com", readOnly: true, resource: keyARN})
	markers["data key"] = base64.StdEncoding.EncodeToString(dk.Plaintext)
	_, err = km.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: "NOT_A_SPEC"})
	r.track(middleware.Metadata{}, err, auditCall{name: "CreateKey", source: "kms.amazonaws.com", errorCode: "ValidationException"})

	// A user without policies is denied; its access key's secret (from
	// the admin API) is never recorded.
	w := &iamWorld{t: t, env: env, admin: newCaller(env, "000000000000", "arn:aws:iam::000000000000:root", "test", "test", "")}
	user := w.user("auditee", nil)
	markers["access key secret"] = user.secret
	_, err = user.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	r.track(middleware.Metadata{}, err, auditCall{name: "ListSecrets", source: "secretsmanager.amazonaws.com", readOnly: true,
		errorCode: "AccessDeniedException", accessKey: user.key})

	// STS: who am I, and a role's temporary credentials (whose secret and
	// session token are never recorded), then a call with them.
	gci, err := w.admin.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	r.track(gci.ResultMetadata, err, auditCall{name: "GetCallerIdentity", source: "sts.amazonaws.com", readOnly: true})
	roleARN := w.role("audited-role", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}`, nil,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`)
	ar, err := w.admin.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: &roleARN, RoleSessionName: aws.String("audit-session")})
	r.track(ar.ResultMetadata, err, auditCall{name: "AssumeRole", source: "sts.amazonaws.com", resource: roleARN})
	markers["session secret"] = aws.ToString(ar.Credentials.SecretAccessKey)
	markers["session token"] = aws.ToString(ar.Credentials.SessionToken)
	session := newCaller(env, "000000000000", aws.ToString(ar.AssumedRoleUser.Arn), aws.ToString(ar.Credentials.AccessKeyId),
		aws.ToString(ar.Credentials.SecretAccessKey), aws.ToString(ar.Credentials.SessionToken))
	sgci, err := session.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	r.track(sgci.ResultMetadata, err, auditCall{name: "GetCallerIdentity", source: "sts.amazonaws.com", readOnly: true, accessKey: session.key})
	_, err = w.admin.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/missing"), RoleSessionName: aws.String("xy")})
	r.track(middleware.Metadata{}, err, auditCall{name: "AssumeRole", source: "sts.amazonaws.com", errorCode: "AccessDenied",
		resource: "arn:aws:iam::000000000000:role/missing"})

	// A call that fails authentication is recorded too (with no account).
	bad := sigiltest.SecretsManagerClient(env.URL, sigiltest.AWSConfig("test", "wrong", "us-east-1", nil))
	_, err = bad.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	badID := requestID(t, middleware.Metadata{}, err)

	// LookupEvents through the SDK, paging 7 at a time.
	ct := cloudtrail.NewFromConfig(sigiltest.AWSConfig("test", "test", "us-east-1", nil), func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(env.URL) })
	byRequest := map[string][]map[string]any{}
	records := map[string]cttypes.Event{}
	in := &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(7), StartTime: aws.Time(start)}
	pages := 0
	for {
		out, err := ct.LookupEvents(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.Events) > 7 {
			t.Fatalf("a page of %d events", len(out.Events))
		}
		for _, e := range out.Events {
			var rec map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
				t.Fatal(err)
			}
			id, _ := rec["requestID"].(string)
			byRequest[id] = append(byRequest[id], rec)
			records[id] = e
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if pages < 3 {
		t.Fatalf("%d pages", pages)
	}
	for _, c := range r.calls {
		recs := byRequest[c.requestID]
		if len(recs) != 1 {
			t.Errorf("%s (%s): %d records", c.name, c.requestID, len(recs))
			continue
		}
		rec, ev := recs[0], records[c.requestID]
		ident, _ := rec["userIdentity"].(map[string]any)
		errorCode, _ := rec["errorCode"].(string)
		if rec["eventName"] != c.name || rec["eventSource"] != c.source || rec["readOnly"] != c.readOnly || errorCode != c.errorCode ||
			rec["recipientAccountId"] != "000000000000" || ident["accountId"] != "000000000000" || ident["accessKeyId"] != c.accessKey ||
			rec["eventType"] != "AwsApiCall" || rec["awsRegion"] != "us-east-1" || rec["sourceIPAddress"] != "127.0.0.1" ||
			rec["eventVersion"] == "" || rec["eventID"] != aws.ToString(ev.EventId) || aws.ToString(ev.EventName) != c.name ||
			aws.ToString(ev.ReadOnly) != fmt.Sprint(c.readOnly) || aws.ToString(ev.AccessKeyId) != c.accessKey ||
			!strings.Contains(fmt.Sprint(rec["userAgent"]), "aws-sdk-go-v2") {
			t.Errorf("%s: record %v", c.name, rec)
		}
		if c.accessKey == "test" && (ident["type"] != "Root" || aws.ToString(ev.Username) != "root") {
			t.Errorf("%s: identity %v, username %s", c.name, ident, aws.ToString(ev.Username))
		}
		if c.accessKey == session.key && (ident["type"] != "AssumedRole" || ident["arn"] != aws.ToString(ar.AssumedRoleUser.Arn)) {
			t.Errorf("%s: identity %v", c.name, ident)
		}
		if c.accessKey == user.key && (ident["type"] != "IAMUser" || ident["userName"] != "auditee" || aws.ToString(ev.Username) != "auditee") {
			t.Errorf("%s: identity %v", c.name, ident)
		}
		if c.resource != "" {
			found := false
			for _, res := range ev.Resources {
				found = found || aws.ToString(res.ResourceName) == c.resource
			}
			if !found {
				t.Errorf("%s: resources %v lack %s", c.name, rec["resources"], c.resource)
			}
		}
		if !c.readOnly && c.errorCode == "" && rec["responseElements"] == nil {
			t.Errorf("%s: no responseElements", c.name)
		}
	}
	if len(byRequest[badID]) != 0 {
		t.Fatal("a call that failed authentication is visible to the account")
	}
	if err := db.QueryRow(q(`SELECT COUNT(*) FROM audit_events WHERE request_id = ? AND account_id = '' AND error_code = 'InvalidSignatureException'`),
		badID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the failed authentication's record: %d (%v)", n, err)
	}

	// Filters and errors, through the SDK.
	one, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("PutSecretValue")}}})
	if err != nil || len(one.Events) != 1 || aws.ToString(one.Events[0].EventName) != "PutSecretValue" {
		t.Fatalf("EventName filter: %v %v", one, err)
	}
	byKey, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: &keyARN}}})
	if err != nil || len(byKey.Events) != 4 { // CreateKey, Encrypt, Decrypt, GenerateDataKey
		t.Fatalf("ResourceName filter: %d events %v", len(byKey.Events), err)
	}
	future, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now().Add(time.Hour))})
	if err != nil || len(future.Events) != 0 {
		t.Fatalf("future time range: %v %v", future, err)
	}
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("a")},
		{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("b")}}})
	wantCode(t, err, "InvalidLookupAttributesException")
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)})
	wantCode(t, err, "InvalidMaxResultsException")
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(start)})
	wantCode(t, err, "InvalidTimeRangeException")
	_, err = user.sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}) // denied again
	wantCode(t, err, "AccessDeniedException")
	userCT := cloudtrail.NewFromConfig(sigiltest.AWSConfig(user.key, user.secret, "us-east-1", nil), func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(env.URL) })
	_, err = userCT.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	wantCode(t, err, "AccessDeniedException")

	// The AWS CLI: an attribute, a time range, pages of one.
	cli := sigiltest.AWSCLIv2(t)
	cmd := exec.Command(cli, "cloudtrail", "lookup-events", "--endpoint-url", env.URL, "--region", "us-east-1", "--output", "json",
		"--lookup-attributes", "AttributeKey=EventName,AttributeValue=GetSecretValue",
		"--start-time", start.UTC().Format(time.RFC3339), "--end-time", time.Now().Add(time.Minute).UTC().Format(time.RFC3339), "--page-size", "1")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws cloudtrail lookup-events: %v\n%s", err, out)
	}
	var cliEvents struct {
		Events []map[string]any
	}
	if err := json.Unmarshal(out, &cliEvents); err != nil || len(cliEvents.Events) != 2 {
		t.Fatalf("CLI GetSecretValue events (2 expected):\n%s", out)
	}
	for _, e := range cliEvents.Events {
		var rec map[string]any
		json.Unmarshal([]byte(e["CloudTrailEvent"].(string)), &rec)
		if e["EventName"] != "GetSecretValue" || len(byRequest[rec["requestID"].(string)]) != 1 {
			t.Fatalf("CLI event %v", e)
		}
	}
	cmd = exec.Command(cli, "cloudtrail", "lookup-events", "--endpoint-url", env.URL, "--region", "us-east-1", "--output", "json", "--max-items", "2")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"NextToken"`) {
		t.Fatalf("CLI --max-items 2 gave no NextToken: %v\n%s", err, out)
	}

	// `sigil audit`, built on the SDK.
	sigilAudit := func(args ...string) (string, error) {
		cmd := exec.Command(sigiltest.Binary(t), append([]string{"audit"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+env.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	s, err := sigilAudit("--event-name", "CreateSecret", "--start", "1h", "--json")
	var recs []map[string]any
	if err != nil || json.Unmarshal([]byte(s), &recs) != nil || len(recs) != 2 || recs[0]["eventName"] != "CreateSecret" {
		t.Fatalf("sigil audit --json: %v\n%s", err, s)
	}
	// auditee made three calls, all denied: ListSecrets twice, then
	// LookupEvents; newest first.
	s, err = sigilAudit("--username", "auditee", "--max", "2")
	if lines := strings.Split(strings.TrimSpace(s), "\n"); err != nil || len(lines) != 3 || !strings.Contains(lines[1], "LookupEvents") ||
		!strings.Contains(lines[2], "ListSecrets") || strings.Count(s, "AccessDeniedException") != 2 {
		t.Fatalf("sigil audit --username: %v\n%s", err, s)
	}
	if s, err := sigilAudit("--event-name", "a", "--username", "b"); err == nil || !strings.Contains(s, "InvalidLookupAttributesException") {
		t.Fatalf("two attributes: %v\n%s", err, s)
	}

	// No secret anywhere in the audit tables or the log.
	if err := env.Server.Audit().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dump, logs := auditRows(t, db), env.LogText()
	if !strings.Contains(dump, "HIDDEN_DUE_TO_SECURITY_REASONS") || !strings.Contains(dump, "audit/db") {
		t.Fatal("the audit dump does not look like the audit trail")
	}
	for name, m := range markers {
		if len(m) < 8 {
			t.Fatalf("marker %s is too short", name)
		}
		if strings.Contains(dump, m) {
			t.Errorf("the %s is in the audit tables", name)
		}
		if strings.Contains(logs, m) {
			t.Errorf("the %s is in the server log", name)
		}
	}

	// sigil audit verify, against the same data directory and store.
	verify := func() (string, error) {
		return sigiltest.RunProcess(t, "audit", "verify", "--data-dir", env.DataDir, "--store", env.Store)
	}
	if s, err := verify(); err != nil || !strings.Contains(s, "OK:") {
		t.Fatalf("verify before tampering: %v\n%s", err, s)
	}
	// An edited body: CreateSecret's record now "says" another secret.
	var pos int64
	var eventID, body string
	if err := db.QueryRow(q(`SELECT position, event_id, body FROM audit_events WHERE request_id = ?`), r.find("CreateSecret").requestID).Scan(&pos, &eventID, &body); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(q(`UPDATE audit_events SET body = ? WHERE position = ?`), strings.Replace(body, "audit/db", "audit/xx", 1), pos); err != nil {
		t.Fatal(err)
	}
	s, err = verify()
	if err == nil || !strings.Contains(s, fmt.Sprintf("position %d (eventID %s)", pos, eventID)) {
		t.Fatalf("verify after editing a body: %v\n%s", err, s)
	}
	if _, err := db.Exec(q(`UPDATE audit_events SET body = ? WHERE position = ?`), body, pos); err != nil {
		t.Fatal(err)
	}
	if s, err := verify(); err != nil {
		t.Fatalf("verify after undoing the edit: %v\n%s", err, s)
	}
	// An inserted row: a copy of a genuine record (with its MAC) appended
	// past the head, as if to forge one more CreateSecret.
	var last int64
	if err := db.QueryRow(`SELECT MAX(position) FROM audit_events`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	forged := fmt.Sprintf("%08x-0000-4000-8000-000000000000", last)
	if _, err := db.Exec(q(`INSERT INTO audit_events (position, event_id, account_id, event_time, event_name, event_source, read_only,
		username, access_key_id, request_id, error_code, body, mac)
		SELECT ?, ?, account_id, event_time, event_name, event_source, read_only, username, access_key_id, request_id, error_code,
		REPLACE(body, event_id, ?), mac FROM audit_events WHERE position = ?`), last+1, forged, forged, pos); err != nil {
		t.Fatal(err)
	}
	s, err = verify()
	if err == nil || !strings.Contains(s, fmt.Sprintf("position %d", last+1)) {
		t.Fatalf("verify after inserting a row: %v\n%s", err, s)
	}
	if _, err := db.Exec(q(`DELETE FROM audit_events WHERE position = ?`), last+1); err != nil {
		t.Fatal(err)
	}
	if s, err := verify(); err != nil {
		t.Fatalf("verify after removing the inserted row: %v\n%s", err, s)
	}
	// A deleted row.
	if _, err := db.Exec(q(`DELETE FROM audit_events WHERE position = ?`), pos); err != nil {
		t.Fatal(err)
	}
	s, err = verify()
	if err == nil || !strings.Contains(s, fmt.Sprintf("position %d: the record at this position is missing", pos)) {
		t.Fatalf("verify after deleting a row: %v\n%s", err, s)
	}
}
