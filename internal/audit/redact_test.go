package audit

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sigilhq/sigil/internal/iam"
)

const pemKey = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the redacted JSON
	}{
		{"empty", ``, `null`},
		{"empty object", `{}`, `null`},
		{"not JSON", `{"a":`, `null`},
		{"top-level secret fields and lowerCamelCase",
			`{"SecretId":"s","SecretString":"v1","SecretBinary":"AAE=","ClientRequestToken":"t"}`,
			`{"clientRequestToken":"t","secretBinary":"HIDDEN_DUE_TO_SECURITY_REASONS","secretId":"s","secretString":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"nested objects and arrays",
			`{"SecretValues":[{"Name":"a","SecretString":"x"},{"Name":"b","SecretBinary":"eA=="}],"AccessKey":{"AccessKeyId":"AKIA","SecretAccessKey":"sk"},"Credentials":{"SessionToken":"st","Expiration":1}}`,
			`{"accessKey":{"accessKeyId":"AKIA","secretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS"},"credentials":{"expiration":1,"sessionToken":"HIDDEN_DUE_TO_SECURITY_REASONS"},"secretValues":[{"name":"a","secretString":"HIDDEN_DUE_TO_SECURITY_REASONS"},{"name":"b","secretBinary":"HIDDEN_DUE_TO_SECURITY_REASONS"}]}`},
		{"suffixes, any case",
			`{"RandomPassword":"p","dbpassword":"q","EncryptedPrivateKey":"k","Passphrase":"cGFzcw==","Plaintext":"cA==","SigningSecret":"s","PasswordLength":32}`,
			`{"dbpassword":"HIDDEN_DUE_TO_SECURITY_REASONS","encryptedPrivateKey":"HIDDEN_DUE_TO_SECURITY_REASONS","passphrase":"HIDDEN_DUE_TO_SECURITY_REASONS","passwordLength":32,"plaintext":"HIDDEN_DUE_TO_SECURITY_REASONS","randomPassword":"HIDDEN_DUE_TO_SECURITY_REASONS","signingSecret":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"PEM private key under any name",
			`{"Certificate":"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n","Blob":` + quote(pemKey) + `,"List":[` + quote("x"+pemKey) + `]}`,
			`{"blob":"HIDDEN_DUE_TO_SECURITY_REASONS","certificate":"-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n","list":["HIDDEN_DUE_TO_SECURITY_REASONS"]}`},
		{"base64 PEM private key under any name",
			`{"Key":"` + base64.StdEncoding.EncodeToString([]byte(pemKey)) + `"}`,
			`{"key":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"encryption context keys kept",
			`{"KeyId":"k","EncryptionContext":{"Purpose":"x","SecretString":"context is not secret"},"Plaintext":"eA=="}`,
			`{"encryptionContext":{"Purpose":"x","SecretString":"HIDDEN_DUE_TO_SECURITY_REASONS"},"keyId":"k","plaintext":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"null secret stays null", `{"SecretString":null}`, `{"secretString":null}`},
		{"numbers exact", `{"N":12345678901234567890}`, `{"n":12345678901234567890}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(Redact([]byte(tc.in)))
			if got == "" {
				got = "null"
			}
			if got != tc.want {
				t.Errorf("Redact(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactLongString(t *testing.T) {
	long := strings.Repeat("A", maxString+1)
	got := string(Redact([]byte(`{"CertificateChain":"` + long + `"}`)))
	if strings.Contains(got, long[:100]) || !strings.Contains(got, "sha256:") || !strings.Contains(got, "16385 bytes") {
		t.Fatalf("a long string was not summarized: %.200s", got)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		p        iam.Principal
		typ      string
		username string
		issuer   string
	}{
		{iam.Principal{Account: "000000000000", ARN: "arn:aws:iam::000000000000:root", AccessKeyID: "test"}, "Root", "root", ""},
		{iam.Principal{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/ops/alice", AccessKeyID: "AKIA1", ID: "AIDA1"}, "IAMUser", "alice", ""},
		{iam.Principal{Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/deployer/build-42", AccessKeyID: "ASIA1", ID: "AROA1:build-42"},
			"AssumedRole", "build-42", "arn:aws:iam::111122223333:role/deployer"},
		{iam.Principal{}, "Unknown", "", ""},
	}
	for _, tc := range tests {
		id := Identity(tc.p)
		if id.Type != tc.typ || Username(id) != tc.username || id.AccountID != tc.p.Account || id.AccessKeyID != tc.p.AccessKeyID || id.ARN != tc.p.ARN {
			t.Errorf("Identity(%+v) = %+v (username %q), want type %s, username %s", tc.p, id, Username(id), tc.typ, tc.username)
		}
		switch {
		case tc.issuer == "" && id.SessionContext != nil:
			t.Errorf("%s: unexpected session context", tc.p.ARN)
		case tc.issuer != "" && (id.SessionContext == nil || id.SessionContext.SessionIssuer.ARN != tc.issuer ||
			id.SessionContext.SessionIssuer.PrincipalID != "AROA1" || id.SessionContext.SessionIssuer.UserName != "deployer"):
			t.Errorf("%s: session context %+v, want issuer %s", tc.p.ARN, id.SessionContext, tc.issuer)
		}
	}
}

func TestReadOnly(t *testing.T) {
	for op, want := range map[string]bool{
		"GetSecretValue": true, "DescribeKey": true, "ListSecrets": true, "LookupEvents": true, "Decrypt": true,
		"Encrypt": true, "ReEncrypt": true, "GenerateDataKeyWithoutPlaintext": true, "GenerateRandom": true,
		"GetRandomPassword": true, "BatchGetSecretValue": true, "ValidateResourcePolicy": true,
		"CreateSecret": false, "PutSecretValue": false, "IssueCertificate": false, "ExportCertificate": false,
		"DeleteSecret": false, "ScheduleKeyDeletion": false, "TagResource": false,
	} {
		if ReadOnly(op) != want {
			t.Errorf("ReadOnly(%s) = %v", op, !want)
		}
	}
}

func TestResourceOf(t *testing.T) {
	for arn, typ := range map[string]string{
		"arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf":                                    "AWS::SecretsManager::Secret",
		"arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/11111111-2222-3333-4444-555555555555": "AWS::ACMPCA::CertificateAuthority",
		"arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/1111/certificate/0a1b":                "AWS::ACMPCA::Certificate",
		"arn:aws:acm:us-east-1:111122223333:certificate/1111":                                               "AWS::CertificateManager::Certificate",
		"arn:aws:kms:us-east-1:111122223333:key/1111":                                                       "AWS::KMS::Key",
		"arn:aws:kms:us-east-1:111122223333:alias/app":                                                      "AWS::KMS::Alias",
		"arn:aws:iam::111122223333:user/alice":                                                              "AWS::IAM::User",
		"arn:aws:sigil:us-east-1:111122223333:function:rotate":                                              "AWS::Sigil::Function",
	} {
		r, ok := ResourceOf(arn)
		if !ok || r.Type != typ || r.AccountID != "111122223333" || r.ARN != arn {
			t.Errorf("ResourceOf(%s) = %+v %v, want type %s", arn, r, ok, typ)
		}
	}
	for _, notARN := range []string{"", "db", "arn:aws:acm-pca:::template/EndEntityCertificate/V1", "alias/app"} {
		if r, ok := ResourceOf(notARN); ok {
			t.Errorf("ResourceOf(%q) = %+v, want none", notARN, r)
		}
	}
}
