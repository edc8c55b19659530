package integration

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestKMSKeysAndEnvelopeEncryption(t *testing.T) {
	env, _ := newSecretsEnv(t)
	km := env.KMS()
	created, err := km.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("app key"),
		Tags: []kmstypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	md := created.KeyMetadata
	if md.KeyState != kmstypes.KeyStateEnabled || md.KeySpec != kmstypes.KeySpecSymmetricDefault || md.KeyManager != kmstypes.KeyManagerTypeCustomer ||
		!strings.HasPrefix(*md.Arn, "arn:aws:kms:us-east-1:000000000000:key/") || !md.Enabled {
		t.Fatalf("metadata %+v", md)
	}
	id := *md.KeyId
	_, err = km.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = km.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(`{"Statement":[]}`)})
	wantCode(t, err, "MalformedPolicyDocumentException")

	// Every account has the AWS-managed keys.
	keys, err := km.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil || len(keys.Keys) != 3 {
		t.Fatalf("keys %+v %v", keys, err)
	}
	aliases, err := km.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range aliases.Aliases {
		names = append(names, *a.AliasName)
	}
	if strings.Join(names, ",") != "alias/aws/acm,alias/aws/secretsmanager" {
		t.Fatalf("aliases %v", names)
	}
	managed, err := km.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/secretsmanager")})
	if err != nil || managed.KeyMetadata.KeyManager != kmstypes.KeyManagerTypeAws {
		t.Fatalf("managed key %v", err)
	}
	// An AWS managed key's policy lets its account only read it and use it
	// through its service: changing it is refused by the key policy, even
	// to the account's administrator, as on AWS.
	_, err = km.DisableKey(ctx, &kms.DisableKeyInput{KeyId: managed.KeyMetadata.KeyId})
	wantCode(t, err, "AccessDeniedException")
	pol, err := km.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: managed.KeyMetadata.KeyId})
	if err != nil || !strings.Contains(*pol.Policy, `"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"`) {
		t.Fatalf("managed key policy %v", err)
	}

	// Aliases.
	if _, err := km.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = km.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)})
	wantCode(t, err, "AlreadyExistsException")
	_, err = km.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: aws.String(id)})
	wantCode(t, err, "InvalidAliasNameException")
	_, err = km.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("app"), TargetKeyId: aws.String(id)})
	wantCode(t, err, "InvalidAliasNameException")
	for _, ref := range []string{id, *md.Arn, "alias/app", "arn:aws:kms:us-east-1:000000000000:alias/app"} {
		d, err := km.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		if err != nil || *d.KeyMetadata.KeyId != id {
			t.Fatalf("describe by %s: %v", ref, err)
		}
	}
	_, err = km.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/none")})
	wantCode(t, err, "NotFoundException")
	_, err = km.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("11111111-2222-3333-4444-555555555555")})
	wantCode(t, err, "NotFoundException")
	ofKey, _ := km.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(id)})
	if len(ofKey.Aliases) != 1 || *ofKey.Aliases[0].TargetKeyId != id {
		t.Fatalf("aliases of key %+v", ofKey.Aliases)
	}

	// Encrypt/Decrypt with the context bound.
	ec := map[string]string{"tenant": "a", "purpose": "test"}
	enc, err := km.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("hello"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || string(dec.Plaintext) != "hello" || *dec.KeyId != *md.Arn {
		t.Fatalf("decrypt %v", err)
	}
	_, err = km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "b", "purpose": "test"}})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "InvalidCiphertextException")
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: managed.KeyMetadata.KeyId})
	wantCode(t, err, "IncorrectKeyException")
	_, err = km.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: make([]byte, 4097)})
	wantCode(t, err, "ValidationException")

	// Data keys.
	dk, err := km.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: kmstypes.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("data key %v", err)
	}
	opened, err := km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(opened.Plaintext, dk.Plaintext) {
		t.Fatalf("data key round trip %v", err)
	}
	np, err := km.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(64)})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: np.CiphertextBlob}); err != nil || len(o.Plaintext) != 64 {
		t.Fatalf("data key without plaintext %v", err)
	}
	_, err = km.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, "ValidationException")
	_, err = km.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: kmstypes.DataKeySpecAes128, NumberOfBytes: aws.Int32(16)})
	wantCode(t, err, "ValidationException")

	// ReEncrypt moves a ciphertext to another key and context.
	other, _ := km.CreateKey(ctx, &kms.CreateKeyInput{})
	re, err := km.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: other.KeyMetadata.KeyId, DestinationEncryptionContext: map[string]string{"new": "ctx"}})
	if err != nil || *re.SourceKeyId != *md.Arn || *re.KeyId != *other.KeyMetadata.Arn {
		t.Fatalf("re-encrypt %v", err)
	}
	if o, err := km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"new": "ctx"}}); err != nil || string(o.Plaintext) != "hello" {
		t.Fatalf("decrypt re-encrypted %v", err)
	}
	r1, err := km.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	r2, _ := km.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	if err != nil || len(r1.Plaintext) != 32 || bytes.Equal(r1.Plaintext, r2.Plaintext) {
		t.Fatalf("random %v", err)
	}
	_, err = km.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
	wantCode(t, err, "ValidationException")

	// Rotation keeps old material: old ciphertexts still decrypt.
	if _, err := km.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	rs, err := km.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil || !rs.KeyRotationEnabled || *rs.RotationPeriodInDays != 90 || rs.NextRotationDate == nil {
		t.Fatalf("rotation status %+v %v", rs, err)
	}
	if _, err := km.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	mid, _ := km.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("after on-demand")})
	if bytes.Equal(enc.CiphertextBlob[37:41], mid.CiphertextBlob[37:41]) {
		t.Fatal("a key rotated on demand must encrypt with new material")
	}
	// As on AWS, rotating on demand does not move the automatic schedule.
	if st, err := km.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)}); err != nil || !st.NextRotationDate.Equal(*rs.NextRotationDate) {
		t.Fatalf("on-demand rotation moved the schedule: %v -> %+v %v", rs.NextRotationDate, st, err)
	}
	// Past the 90-day schedule the rotation job rotates it again.
	advance(t, env.URL, "2200h")
	waitFor(t, 20*time.Second, "the scheduled key rotation", func() bool {
		st, err := km.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
		return err == nil && st.NextRotationDate.After(*rs.NextRotationDate)
	})
	enc2, _ := km.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("after")})
	if bytes.Equal(mid.CiphertextBlob[37:41], enc2.CiphertextBlob[37:41]) {
		t.Fatal("a key rotated on schedule must encrypt with new material")
	}
	if o, err := km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: mid.CiphertextBlob}); err != nil || string(o.Plaintext) != "after on-demand" {
		t.Fatalf("ciphertext of the previous generation: %v", err)
	}
	if o, err := km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); err != nil || string(o.Plaintext) != "hello" {
		t.Fatalf("old ciphertext after rotation %v", err)
	}

	// Policies.
	pol, err = km.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})
	if err != nil || !strings.Contains(*pol.Policy, "arn:aws:iam::000000000000:root") {
		t.Fatalf("default policy %v", err)
	}
	newPol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:Decrypt","Resource":"*"}]}`
	if _, err := km.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(newPol), PolicyName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	if pol, _ := km.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)}); *pol.Policy != newPol {
		t.Fatal("policy not stored")
	}
	_, err = km.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String("not json")})
	wantCode(t, err, "MalformedPolicyDocumentException")

	// Tags.
	if _, err := km.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := km.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []kmstypes.Tag{{TagKey: aws.String("env"), TagValue: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	if tags, _ := km.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)}); len(tags.Tags) != 1 || *tags.Tags[0].TagKey != "env" {
		t.Fatalf("tags %+v", tags.Tags)
	}

	// Disable, enable, schedule deletion, cancel.
	if _, err := km.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = km.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	_, err = km.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantCode(t, err, "DisabledException")
	if _, err := km.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = km.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(6)})
	wantCode(t, err, "ValidationException")
	sd, err := km.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)})
	if err != nil || sd.KeyState != kmstypes.KeyStatePendingDeletion || *sd.PendingWindowInDays != 30 {
		t.Fatalf("schedule deletion %+v %v", sd, err)
	}
	_, err = km.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = km.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/late"), TargetKeyId: aws.String(id)})
	wantCode(t, err, "KMSInvalidStateException")
	if _, err := km.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := km.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); d.KeyMetadata.KeyState != kmstypes.KeyStateDisabled {
		t.Fatalf("after cancel: %s", d.KeyMetadata.KeyState)
	}
	if _, err := km.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	_, err = km.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	wantCode(t, err, "NotFoundException")
	// Listing pages with Limit/Marker.
	p1, err := km.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(2)})
	if err != nil || !p1.Truncated || p1.NextMarker == nil {
		t.Fatalf("page 1 %+v %v", p1, err)
	}
	p2, err := km.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(2), Marker: p1.NextMarker})
	if err != nil || p2.Truncated || len(p1.Keys)+len(p2.Keys) != 4 {
		t.Fatalf("page 2 %+v %v", p2, err)
	}
}
