package integration

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/sigilhq/sigil/internal/api/functions"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

const builtinRotation = "arn:aws:lambda:us-east-1:000000000000:function:sigil-certificate-rotation"

// waitRotated waits until AWSCURRENT of a secret is on another version
// than before and no rotation is pending; it returns the new version.
func waitRotated(t *testing.T, sm *secretsmanager.Client, id, before string) string {
	t.Helper()
	var now string
	waitFor(t, 30*time.Second, "rotation of "+id, func() bool {
		st := stagesOf(t, sm, id)
		now = versionWith(st, "AWSCURRENT")
		return now != "" && now != before && versionWith(st, "AWSPENDING") == ""
	})
	return now
}

type certSecret struct {
	CertificatePEM string `json:"CERTIFICATE_PEM"`
	PrivateKeyPEM  string `json:"PRIVATE_KEY_PEM"`
	ChainPEM       string `json:"CERTIFICATE_CHAIN_PEM"`
	CertificateARN string `json:"CERTIFICATE_ARN"`
	CommonName     string `json:"COMMON_NAME"`
}

// checkCertSecret verifies a rotated certificate secret: the certificate
// is lint-clean, verifies with openssl against the root, and matches the
// key beside it.
func checkCertSecret(t *testing.T, env *sigiltest.Env, sm *secretsmanager.Client, id, stage string, rootPEM []byte) (*certSecret, *x509.Certificate) {
	t.Helper()
	v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stage)})
	var cs certSecret
	if err := json.Unmarshal([]byte(*v.SecretString), &cs); err != nil {
		t.Fatal(err)
	}
	leaf := parse(t, []byte(cs.CertificatePEM))
	sigiltest.LintClean(t, leaf.Raw)
	sigiltest.OpenSSLVerifyAt(t, devNow(t, env.URL), rootPEM, []byte(cs.ChainPEM), []byte(cs.CertificatePEM))
	key, err := pki.ParsePrivateKeyPEM([]byte(cs.PrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	if !pki.PublicKeysEqual(key.Public(), leaf.PublicKey) {
		t.Fatal("the private key does not match the certificate")
	}
	if b, _ := pem.Decode([]byte(cs.PrivateKeyPEM)); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatal("the key is not unencrypted PKCS#8 PEM")
	}
	return &cs, leaf
}

func TestRotationBuiltinCertificateFromPrivateCA(t *testing.T) {
	a := newACMEnv(t)
	sm := a.env.SecretsManager()
	cfg := `{"CA_ARN":"` + a.caARN + `","COMMON_NAME":"web.internal.example","SUBJECT_ALTERNATIVE_NAMES":["www.internal.example"],` +
		`"KEY_ALGORITHM":"TYPE_EC","KEY_SIZE":256,"SIGNING_HASH":"sha256","VALIDITY_DAYS":30}`
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tls/web"), SecretString: aws.String(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("tls/web"), RotationLambdaARN: aws.String(builtinRotation),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(20)}})
	if err != nil {
		t.Fatal(err)
	}
	v1 := waitRotated(t, sm, "tls/web", *created.VersionId)
	if v1 != *out.VersionId {
		t.Fatalf("current %s, rotation said %s", v1, *out.VersionId)
	}
	cs1, leaf1 := checkCertSecret(t, a.env, sm, "tls/web", "AWSCURRENT", a.rootPEM)
	if cs1.CommonName != "web.internal.example" || leaf1.Subject.CommonName != "web.internal.example" || len(leaf1.DNSNames) != 2 ||
		!strings.Contains(cs1.CertificateARN, a.caARN+"/certificate/") {
		t.Fatalf("first certificate %+v", leaf1.DNSNames)
	}
	if d := leaf1.NotAfter.Sub(leaf1.NotBefore); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("validity %s", d)
	}
	prev := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("tls/web"), VersionStage: aws.String("AWSPREVIOUS")})
	if *prev.SecretString != cfg {
		t.Fatal("AWSPREVIOUS must hold the configuration-only version")
	}
	d, _ := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("tls/web")})
	if !*d.RotationEnabled || d.LastRotatedDate == nil || d.NextRotationDate == nil || *d.RotationRules.AutomaticallyAfterDays != 20 {
		t.Fatalf("describe %+v", d)
	}
	if got := d.NextRotationDate.Sub(*d.LastRotatedDate); got < 20*24*time.Hour-time.Minute || got > 20*24*time.Hour+time.Minute {
		t.Fatalf("next rotation in %s", got)
	}

	// The schedule comes round: a second rotation with no one acting.
	advanceTo(t, a.env.URL, d.NextRotationDate.Add(time.Minute))
	v2 := waitRotated(t, sm, "tls/web", v1)
	_, leaf2 := checkCertSecret(t, a.env, sm, "tls/web", "AWSCURRENT", a.rootPEM)
	_, prevLeaf := checkCertSecret(t, a.env, sm, "tls/web", "AWSPREVIOUS", a.rootPEM)
	if leaf2.SerialNumber.Cmp(leaf1.SerialNumber) == 0 || prevLeaf.SerialNumber.Cmp(leaf1.SerialNumber) != 0 {
		t.Fatal("AWSCURRENT must hold a new certificate and AWSPREVIOUS the old one")
	}
	if pki.PublicKeysEqual(leaf1.PublicKey, leaf2.PublicKey) {
		t.Fatal("each rotation must generate a new key")
	}
	st := stagesOf(t, sm, "tls/web")
	if versionWith(st, "AWSPREVIOUS") != v1 || versionWith(st, "AWSCURRENT") != v2 {
		t.Fatalf("stages %v", st)
	}
	ev := 0
	for _, e := range sigiltest.Events(t, a.env.URL, "000000000000") {
		if det, _ := e["detail"].(map[string]any); e["source"] == "aws.secretsmanager" && det["eventName"] == "RotationSucceeded" {
			ev++
		}
	}
	if ev != 2 {
		t.Fatalf("%d RotationSucceeded events, want 2", ev)
	}

	// A secret whose JSON cannot be served fails rotation and keeps
	// AWSCURRENT.
	bad, _ := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tls/bad"), SecretString: aws.String(`{"CA_ARN":"` + a.caARN + `"}`)})
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("tls/bad"), RotationLambdaARN: aws.String(builtinRotation)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a failure event", func() bool {
		for _, e := range sigiltest.Events(t, a.env.URL, "000000000000") {
			if det, _ := e["detail"].(map[string]any); det["eventName"] == "RotationFailed" && strings.Contains(det["errorMessage"].(string), "COMMON_NAME") {
				return true
			}
		}
		return false
	})
	if cur := versionWith(stagesOf(t, sm, "tls/bad"), "AWSCURRENT"); cur != *bad.VersionId {
		t.Fatal("a failed rotation must leave AWSCURRENT alone")
	}
	_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("tls/bad")})
	wantCode(t, err, "InvalidRequestException")
	_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("tls/web"), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:000000000000:function:nope")})
	wantCode(t, err, "InvalidRequestException")
	_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("tls/web"), RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("cron(5 0 * * ? *)")}})
	wantCode(t, err, "InvalidParameterException")
	if _, err := sm.CancelRotateSecret(ctx, &secretsmanager.CancelRotateSecretInput{SecretId: aws.String("tls/web")}); err != nil {
		t.Fatal(err)
	}
	if d, _ := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("tls/web")}); *d.RotationEnabled || d.NextRotationDate != nil {
		t.Fatal("cancel must turn rotation off")
	}
}

func TestRotationBuiltinCertificateFromACM(t *testing.T) {
	a := newACMEnv(t)
	sm := a.env.SecretsManager()
	cfg := `{"CERTIFICATE_TYPE":"ACM_ISSUED","CA_ARN":"` + a.caARN + `","COMMON_NAME":"api.internal.example","KEY_ALGORITHM":"EC_prime256v1"}`
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tls/api"), SecretString: aws.String(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("tls/api"), RotationLambdaARN: aws.String(builtinRotation),
		RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)")}}); err != nil {
		t.Fatal(err)
	}
	v1 := waitRotated(t, sm, "tls/api", *created.VersionId)
	cs1, leaf1 := checkCertSecret(t, a.env, sm, "tls/api", "AWSCURRENT", a.rootPEM)
	if !strings.HasPrefix(cs1.CertificateARN, "arn:aws:acm:us-east-1:000000000000:certificate/") {
		t.Fatalf("ACM ARN %s", cs1.CertificateARN)
	}
	// Rotating again renews the same ACM certificate and exports the renewal.
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("tls/api")}); err != nil {
		t.Fatal(err)
	}
	waitRotated(t, sm, "tls/api", v1)
	cs2, leaf2 := checkCertSecret(t, a.env, sm, "tls/api", "AWSCURRENT", a.rootPEM)
	if cs2.CertificateARN != cs1.CertificateARN || leaf2.SerialNumber.Cmp(leaf1.SerialNumber) == 0 {
		t.Fatal("the second rotation must renew the same ACM certificate")
	}
	desc := a.describe(t, cs1.CertificateARN)
	if desc.RenewalSummary == nil || string(desc.RenewalSummary.RenewalStatus) != "SUCCESS" {
		t.Fatalf("ACM renewal summary %+v", desc.RenewalSummary)
	}
}

// rotator is a webhook rotation function served by the test: it rotates a
// password secret through the Secrets Manager API, like a Lambda would.
type rotator struct {
	t        *testing.T
	sm       *secretsmanager.Client
	secret   atomic.Value // []byte, the signing secret
	failTest atomic.Bool
	mu       sync.Mutex
	steps    []string
	rejected atomic.Int64
}

func (r *rotator) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	secret, _ := r.secret.Load().([]byte)
	if err := functions.Verify(secret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.rejected.Add(1)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var call struct{ Step, SecretId, ClientRequestToken string }
	if err := json.Unmarshal(body, &call); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.steps = append(r.steps, call.Step)
	r.mu.Unlock()
	ctx := req.Context()
	id, token := aws.String(call.SecretId), aws.String(call.ClientRequestToken)
	d, err := r.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id})
	if err != nil || !*d.RotationEnabled {
		http.Error(w, "rotation is not enabled", http.StatusBadRequest)
		return
	}
	fail := func(err error) { http.Error(w, err.Error(), http.StatusInternalServerError) }
	switch call.Step {
	case "createSecret":
		if _, err := r.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionId: token, VersionStage: aws.String("AWSPENDING")}); err == nil {
			return
		}
		pw, err := r.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(24), ExcludePunctuation: aws.Bool(true)})
		if err != nil {
			fail(err)
			return
		}
		if _, err := r.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: id, ClientRequestToken: token,
			SecretString: aws.String(`{"password":"` + *pw.RandomPassword + `"}`), VersionStages: []string{"AWSPENDING"}}); err != nil {
			fail(err)
		}
	case "setSecret":
	case "testSecret":
		if r.failTest.Load() {
			http.Error(w, "the database refused the new password", http.StatusInternalServerError)
		}
	case "finishSecret":
		cur := versionWith(d.VersionIdsToStages, "AWSCURRENT")
		if cur == *token {
			return
		}
		if _, err := r.sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: id,
			VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: token, RemoveFromVersionId: aws.String(cur)}); err != nil {
			fail(err)
		}
	}
}

func TestRotationWebhookFunction(t *testing.T) {
	env, sm := newSecretsEnv(t)
	r := &rotator{t: t, sm: sm}
	ts := httptest.NewTLSServer(r)
	defer ts.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})

	var fn functions.Function
	err := sigiltest.CallNative(ctx, env.URL, "test", "test", "us-east-1", "SigilFunctions.CreateRotationFunction",
		functions.CreateInput{Name: "db-password", URL: ts.URL, CABundle: string(caPEM)}, &fn)
	if err != nil {
		t.Fatal(err)
	}
	if fn.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:db-password" || len(fn.SigningSecret) != 64 {
		t.Fatalf("function %+v", fn)
	}
	r.secret.Store([]byte(fn.SigningSecret))
	var listed functions.ListOutput
	if err := sigiltest.CallNative(ctx, env.URL, "test", "test", "us-east-1", "SigilFunctions.ListRotationFunctions", struct{}{}, &listed); err != nil ||
		len(listed.Functions) != 1 || listed.Functions[0].SigningSecret != "" {
		t.Fatalf("list %+v %v", listed, err)
	}
	if err := sigiltest.CallNative(ctx, env.URL, "test", "test", "us-east-1", "SigilFunctions.CreateRotationFunction",
		functions.CreateInput{Name: "db-password", URL: ts.URL}, nil); err == nil || !strings.Contains(err.Error(), "ResourceExists") {
		t.Fatalf("duplicate function: %v", err)
	}

	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db/app"), SecretString: aws.String(`{"password":"initial"}`)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db/app"), RotationLambdaARN: aws.String(fn.FunctionArn),
		RotationRules: &smtypes.RotationRulesType{ScheduleExpression: aws.String("cron(0 4 ? * MON *)"), Duration: aws.String("2h")}})
	if err != nil {
		t.Fatal(err)
	}
	v1 := waitRotated(t, sm, "db/app", *created.VersionId)
	if v1 != *out.VersionId {
		t.Fatal("the rotated version is not the one RotateSecret announced")
	}
	cur := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db/app")})
	if !strings.HasPrefix(*cur.SecretString, `{"password":"`) || strings.Contains(*cur.SecretString, "initial") {
		t.Fatalf("rotated value %s", *cur.SecretString)
	}
	r.mu.Lock()
	steps := strings.Join(r.steps, ",")
	r.mu.Unlock()
	if steps != "createSecret,setSecret,testSecret,finishSecret" {
		t.Fatalf("steps %s", steps)
	}
	d, _ := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("db/app")})
	if d.NextRotationDate == nil || d.NextRotationDate.UTC().Weekday() != time.Monday || d.NextRotationDate.UTC().Hour() != 4 {
		t.Fatalf("next rotation %v", d.NextRotationDate)
	}

	// testSecret fails: AWSCURRENT stays; the retry resumes the same
	// rotation at testSecret once the target accepts the password.
	r.failTest.Store(true)
	r.mu.Lock()
	r.steps = nil
	r.mu.Unlock()
	out2, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db/app")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the failed testSecret", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return strings.Contains(strings.Join(r.steps, ","), "testSecret")
	})
	time.Sleep(300 * time.Millisecond)
	if now := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db/app")}); *now.SecretString != *cur.SecretString {
		t.Fatal("a failed testSecret must leave AWSCURRENT unchanged")
	}
	st := stagesOf(t, sm, "db/app")
	if versionWith(st, "AWSPENDING") != *out2.VersionId || versionWith(st, "AWSCURRENT") != v1 {
		t.Fatalf("stages after failure %v", st)
	}
	_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("db/app")})
	wantCode(t, err, "InvalidRequestException")
	r.failTest.Store(false)
	r.mu.Lock()
	r.steps = nil
	r.mu.Unlock()
	advance(t, env.URL, "2m") // past the first retry's backoff
	v2 := waitRotated(t, sm, "db/app", v1)
	r.mu.Lock()
	steps = strings.Join(r.steps, ",")
	r.mu.Unlock()
	if v2 != *out2.VersionId || steps != "testSecret,finishSecret" {
		t.Fatalf("resumed rotation: version %s (want %s), steps %s", v2, *out2.VersionId, steps)
	}
	if prev := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db/app"), VersionStage: aws.String("AWSPREVIOUS")}); *prev.SecretString != *cur.SecretString {
		t.Fatal("AWSPREVIOUS must hold the password before the rotation")
	}
	if r.rejected.Load() != 0 {
		t.Fatalf("%d calls carried a bad signature", r.rejected.Load())
	}
	failed := 0
	for _, e := range sigiltest.Events(t, env.URL, "000000000000") {
		if det, _ := e["detail"].(map[string]any); det["eventName"] == "RotationFailed" {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d RotationFailed events, want 1", failed)
	}
}
