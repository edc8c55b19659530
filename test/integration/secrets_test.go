package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/sigiltest"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

func newSecretsEnv(t *testing.T) (*sigiltest.Env, *secretsmanager.Client) {
	t.Helper()
	env := sigiltest.Start(t, func(c *config.Config) { c.Scheduler.JobInterval = 100 * time.Millisecond })
	return env, env.SecretsManager()
}

func token(c byte) *string { return aws.String(strings.Repeat(string(c), 36)) }

func getString(t *testing.T, sm *secretsmanager.Client, in *secretsmanager.GetSecretValueInput) *secretsmanager.GetSecretValueOutput {
	t.Helper()
	out, err := sm.GetSecretValue(ctx, in)
	if err != nil {
		t.Fatalf("get %s: %v", aws.ToString(in.SecretId), err)
	}
	return out
}

func stagesOf(t *testing.T, sm *secretsmanager.Client, id string) map[string][]string {
	t.Helper()
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return d.VersionIdsToStages
}

func versionWith(stages map[string][]string, label string) string {
	for v, ls := range stages {
		for _, l := range ls {
			if l == label {
				return v
			}
		}
	}
	return ""
}

func TestSecretsVersionsAndLabels(t *testing.T) {
	_, sm := newSecretsEnv(t)
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db/password"),
		SecretString: aws.String("first"), ClientRequestToken: token('a'), Description: aws.String("the database"),
		Tags: []smtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := *created.ARN
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db/password-") || len(arn) != len("arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db/password-")+6 {
		t.Fatalf("ARN %s", arn)
	}
	if *created.VersionId != *token('a') {
		t.Fatalf("version %s", *created.VersionId)
	}
	// Retrying CreateSecret with the same token and value is a no-op; a
	// different value is refused, as is a second secret of that name.
	again, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db/password"),
		SecretString: aws.String("first"), ClientRequestToken: token('a')})
	if err != nil || *again.ARN != arn {
		t.Fatalf("idempotent create: %v", err)
	}
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db/password"), SecretString: aws.String("x")})
	wantCode(t, err, "ResourceExistsException")

	// Addressed by name, full ARN and partial ARN.
	partial := arn[:len(arn)-7]
	for _, id := range []string{"prod/db/password", arn, partial} {
		if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}); *v.SecretString != "first" || v.VersionStages[0] != "AWSCURRENT" {
			t.Fatalf("get by %s: %+v", id, v)
		}
	}

	// A new value moves AWSCURRENT; the old version becomes AWSPREVIOUS.
	put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("second"), ClientRequestToken: token('b')})
	if err != nil {
		t.Fatal(err)
	}
	if len(put.VersionStages) != 1 || put.VersionStages[0] != "AWSCURRENT" {
		t.Fatalf("stages %v", put.VersionStages)
	}
	if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")}); *v.SecretString != "first" {
		t.Fatalf("AWSPREVIOUS = %q", *v.SecretString)
	}
	if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: token('a')}); *v.SecretString != "first" {
		t.Fatal("by version id")
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: token('a'), VersionStage: aws.String("AWSCURRENT")})
	wantCode(t, err, "ResourceNotFoundException")
	// Same token: same value is a no-op, another value is refused.
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("second"), ClientRequestToken: token('b')}); err != nil {
		t.Fatalf("idempotent put: %v", err)
	}
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("other"), ClientRequestToken: token('b')})
	wantCode(t, err, "ResourceExistsException")

	// A version with a custom label only; then labels moved by hand.
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("third"),
		ClientRequestToken: token('c'), VersionStages: []string{"BLUE"}}); err != nil {
		t.Fatal(err)
	}
	if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}); *v.SecretString != "second" {
		t.Fatal("a custom label must not move AWSCURRENT")
	}
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(arn),
		VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: token('c')})
	wantCode(t, err, "InvalidParameterException")
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(arn),
		VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: token('c'), RemoveFromVersionId: token('b')}); err != nil {
		t.Fatal(err)
	}
	st := stagesOf(t, sm, arn)
	if versionWith(st, "AWSCURRENT") != *token('c') || versionWith(st, "AWSPREVIOUS") != *token('b') || versionWith(st, "BLUE") != *token('c') {
		t.Fatalf("stages %v", st)
	}
	// Version a now has no label: deprecated, listed only on request.
	vs, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn)})
	if err != nil || len(vs.Versions) != 2 {
		t.Fatalf("versions %v %v", vs, err)
	}
	vs, _ = sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true)})
	if len(vs.Versions) != 3 || len(vs.Versions[0].KmsKeyIds) != 1 {
		t.Fatalf("with deprecated: %+v", vs.Versions)
	}

	// UpdateSecret: metadata only makes no version; a value makes one.
	if _, err := sm.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), Description: aws.String("new")}); err != nil {
		t.Fatal(err)
	}
	up, err := sm.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), SecretString: aws.String("fourth")})
	if err != nil || up.VersionId == nil {
		t.Fatalf("update with value: %v", err)
	}
	d, _ := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if *d.Description != "new" || len(d.Tags) != 1 || d.CreatedDate == nil || d.LastChangedDate == nil || d.LastAccessedDate == nil || d.RotationEnabled == nil || *d.RotationEnabled {
		t.Fatalf("describe %+v", d)
	}

	// Binary secrets, bad values, unknown secrets.
	bin := []byte{0, 1, 2, 255}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: bin}); err != nil {
		t.Fatal(err)
	}
	if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")}); !bytes.Equal(v.SecretBinary, bin) || v.SecretString != nil {
		t.Fatal("binary value")
	}
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretBinary: bin, SecretString: aws.String("x")})
	wantCode(t, err, "InvalidParameterException")
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("big"), SecretString: aws.String(strings.Repeat("x", 65537))})
	wantCode(t, err, "ValidationException")
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("max"), SecretString: aws.String(strings.Repeat("x", 65536))}); err != nil {
		t.Fatalf("64 KiB value: %v", err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")
	empty, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")})
	if err != nil || empty.VersionId != nil {
		t.Fatalf("secret without value: %v", err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
	wantCode(t, err, "ResourceNotFoundException")

	// Tags.
	if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String(arn), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	d, _ = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if len(d.Tags) != 1 || *d.Tags[0].Key != "team" {
		t.Fatalf("tags %+v", d.Tags)
	}
	_, err = sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: []smtypes.Tag{{Key: aws.String("aws:x"), Value: aws.String("a")}}})
	wantCode(t, err, "InvalidParameterException")
}

func TestSecretsListBatchDeleteRestore(t *testing.T) {
	env, sm := newSecretsEnv(t)
	names := []string{"app/a", "app/b", "app/c", "db/x", "db/y"}
	for i, n := range names {
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("v-" + n),
			Description: aws.String("desc " + n), Tags: []smtypes.Tag{{Key: aws.String("idx"), Value: aws.String(string(rune('0' + i)))}}}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(in *secretsmanager.ListSecretsInput) []string {
		t.Helper()
		var out []string
		p := secretsmanager.NewListSecretsPaginator(sm, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.SecretList {
				out = append(out, *e.Name)
			}
		}
		return out
	}
	if got := list(&secretsmanager.ListSecretsInput{MaxResults: aws.Int32(2)}); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("paged listing %v", got)
	}
	desc := list(&secretsmanager.ListSecretsInput{MaxResults: aws.Int32(2), SortBy: smtypes.SortByTypeName, SortOrder: smtypes.SortOrderTypeDesc})
	if !sort.SliceIsSorted(desc, func(i, j int) bool { return desc[i] > desc[j] }) || len(desc) != 5 {
		t.Fatalf("sorted desc %v", desc)
	}
	if got := list(&secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"APP/"}}}}); len(got) != 3 {
		t.Fatalf("name prefix (case-insensitive) %v", got)
	}
	if got := list(&secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"!app/"}}}}); strings.Join(got, ",") != "db/x,db/y" {
		t.Fatalf("negated %v", got)
	}
	if got := list(&secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeTagValue, Values: []string{"3", "4"}}}}); strings.Join(got, ",") != "db/x,db/y" {
		t.Fatalf("tag value %v", got)
	}
	if got := list(&secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeAll, Values: []string{"desc app/b"}}}}); strings.Join(got, ",") != "app/b" {
		t.Fatalf("all %v", got)
	}
	_, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidNextTokenException")

	batch, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"app/a", "db/x", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.SecretValues) != 2 || len(batch.Errors) != 1 || *batch.Errors[0].ErrorCode != "ResourceNotFoundException" || *batch.SecretValues[1].SecretString != "v-db/x" {
		t.Fatalf("batch %+v", batch)
	}
	batch, err = sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{"db/"}}}})
	if err != nil || len(batch.SecretValues) != 2 {
		t.Fatalf("batch by filter %v %v", batch, err)
	}

	// Deletion with a recovery window, restore, forced deletion.
	_, err = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/a"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	wantCode(t, err, "InvalidParameterException")
	_, err = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/a"), RecoveryWindowInDays: aws.Int64(6)})
	wantCode(t, err, "InvalidParameterException")
	del, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/a"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if d := del.DeletionDate.Sub(devNow(t, env.URL)); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
		t.Fatalf("deletion date in %s", d)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/a")})
	wantCode(t, err, "InvalidRequestException")
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/a"), SecretString: aws.String("x")})
	wantCode(t, err, "InvalidRequestException")
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/a"), SecretString: aws.String("x")})
	wantCode(t, err, "InvalidRequestException")
	if d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/a")}); err != nil || d.DeletedDate == nil {
		t.Fatalf("describe a deleted secret: %v", err)
	}
	if got := list(&secretsmanager.ListSecretsInput{}); len(got) != 4 {
		t.Fatalf("listing hides deleted: %v", got)
	}
	if got := list(&secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)}); len(got) != 5 {
		t.Fatalf("IncludePlannedDeletion: %v", got)
	}
	if _, err := sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("app/a")}); err != nil {
		t.Fatal(err)
	}
	if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/a")}); *v.SecretString != "v-app/a" {
		t.Fatal("restored value")
	}
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/b"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/b"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatalf("forced deletion of a deleted secret must succeed: %v", err)
	}
	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/b")})
	wantCode(t, err, "ResourceNotFoundException")
	// The recovery window ends: the scheduler purges the secret.
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/c"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	advance(t, env.URL, "169h")
	waitFor(t, 20*time.Second, "purge of app/c", func() bool {
		_, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/c")})
		return err != nil && strings.Contains(err.Error(), "ResourceNotFoundException")
	})
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("app/c"), SecretString: aws.String("reborn")}); err != nil {
		t.Fatalf("the name is free after purge: %v", err)
	}
}

func TestSecretsPoliciesAndPasswords(t *testing.T) {
	_, sm := newSecretsEnv(t)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("shared"), SecretString: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	if _, err := sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("shared"), ResourcePolicy: aws.String(policy), BlockPublicPolicy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	got, err := sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("shared")})
	if err != nil || *got.ResourcePolicy != policy {
		t.Fatalf("policy %v %v", got, err)
	}
	_, err = sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("shared"), ResourcePolicy: aws.String(public), BlockPublicPolicy: aws.Bool(true)})
	wantCode(t, err, "PublicPolicyException")
	_, err = sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("shared"), ResourcePolicy: aws.String(`{"Statement":`)})
	wantCode(t, err, "MalformedPolicyDocumentException")
	v, err := sm.ValidateResourcePolicy(ctx, &secretsmanager.ValidateResourcePolicyInput{ResourcePolicy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"x"}]}`)})
	if err != nil || v.PolicyValidationPassed || len(v.ValidationErrors) < 2 {
		t.Fatalf("validate %+v %v", v, err)
	}
	v, err = sm.ValidateResourcePolicy(ctx, &secretsmanager.ValidateResourcePolicyInput{SecretId: aws.String("shared"), ResourcePolicy: aws.String(policy)})
	if err != nil || !v.PolicyValidationPassed {
		t.Fatalf("validate good %+v %v", v, err)
	}
	if _, err := sm.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := sm.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("shared")}); got.ResourcePolicy != nil {
		t.Fatal("policy not deleted")
	}

	pw, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{})
	if err != nil || len(*pw.RandomPassword) != 32 {
		t.Fatalf("default password %v", err)
	}
	pw, err = sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(200), ExcludePunctuation: aws.Bool(true),
		ExcludeUppercase: aws.Bool(true), ExcludeCharacters: aws.String("abc0"), IncludeSpace: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	p := *pw.RandomPassword
	if len(p) != 200 || strings.ContainsAny(p, "abc0") || !strings.Contains(p, " ") {
		t.Fatalf("password %q", p)
	}
	for _, r := range p {
		if unicode.IsUpper(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			t.Fatalf("excluded character %q in %q", r, p)
		}
	}
	_, err = sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{ExcludeLowercase: aws.Bool(true), ExcludeUppercase: aws.Bool(true),
		ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true)})
	wantCode(t, err, "InvalidParameterException")
	_, err = sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(3)})
	wantCode(t, err, "InvalidParameterException")
}

// TestSecretsFollowTheirKMSKey: a secret under a customer key becomes
// unreadable (and unwritable) when the key is disabled, readable again when
// it is enabled, and lost for good when the key is deleted.
func TestSecretsFollowTheirKMSKey(t *testing.T) {
	env, sm := newSecretsEnv(t)
	km := env.KMS()
	key, err := km.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("secrets key")})
	if err != nil {
		t.Fatal(err)
	}
	keyID := *key.KeyMetadata.KeyId
	if _, err := km.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("k"), SecretString: aws.String("v1"), KmsKeyId: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	vs, _ := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("k")})
	if vs.Versions[0].KmsKeyIds[0] != *key.KeyMetadata.Arn {
		t.Fatalf("version key %v", vs.Versions[0].KmsKeyIds)
	}
	if _, err := km.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")})
	wantCode(t, err, "DecryptionFailure")
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("k"), SecretString: aws.String("v2")})
	wantCode(t, err, "EncryptionFailure")
	if _, err := km.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")}); *v.SecretString != "v1" {
		t.Fatal("value after re-enabling")
	}

	// Moving the secret to its account's default key re-encrypts it.
	if _, err := sm.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String("k"), KmsKeyId: aws.String("")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("k2"), SecretString: aws.String("v"), KmsKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := km.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k2")})
	wantCode(t, err, "DecryptionFailure")
	advance(t, env.URL, "169h")
	waitFor(t, 20*time.Second, "key deletion", func() bool {
		_, err := km.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
		return err != nil && strings.Contains(err.Error(), "NotFoundException")
	})
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k2")})
	wantCode(t, err, "DecryptionFailure")
	if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")}); *v.SecretString != "v1" {
		t.Fatal("a secret moved off the deleted key stays readable")
	}
}

// TestSecretValuesNeverStoredInPlaintext writes distinctive values and
// scans every file of the data directory and a full dump of the database.
func TestSecretValuesNeverStoredInPlaintext(t *testing.T) {
	env, sm := newSecretsEnv(t)
	marks := []string{"PLAINTEXT-MARKER-7f3a9c", "binary-MARKER-51bd0e"}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("m1"), SecretString: aws.String(marks[0])}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("m2"), SecretBinary: []byte(marks[1])}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("m1"), SecretString: aws.String(marks[0] + "-v2")}); err != nil {
		t.Fatal(err)
	}
	for _, m := range marks {
		if v := getString(t, sm, &secretsmanager.GetSecretValueInput{SecretId: aws.String(map[bool]string{true: "m1", false: "m2"}[m == marks[0]])}); !strings.Contains(string(v.SecretBinary)+aws.ToString(v.SecretString), m) {
			t.Fatal("values must still read back")
		}
	}
	var files int
	filepath.Walk(env.DataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, m := range marks {
			if bytes.Contains(b, []byte(m)) {
				t.Errorf("%s contains the secret value %q in plaintext", path, m)
			}
		}
		return nil
	})
	st, err := sqlstore.Open(context.Background(), env.Store, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var dump bytes.Buffer
	if _, err := st.Dump(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	if dump.Len() < 1000 || files == 0 {
		t.Fatalf("nothing scanned: %d files, %d bytes of dump", files, dump.Len())
	}
	for _, m := range marks {
		if bytes.Contains(dump.Bytes(), []byte(m)) {
			t.Errorf("the database holds the secret value %q in plaintext", m)
		}
	}
	if logs := env.LogText(); strings.Contains(logs, marks[0]) || strings.Contains(logs, marks[1]) {
		t.Error("a secret value reached the log")
	}
}
