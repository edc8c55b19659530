#!/usr/bin/env bash
# Secrets Manager and KMS with the AWS CLI, executable (docs/secrets-manager.md):
# a customer KMS key and alias, envelope encryption, a secret under that
# key with versions and staging labels, listing, tags, random passwords,
# deletion and restore, a certificate secret rotated by Sigil's built-in
# rotation (verified with openssl), a disabled key making its secret
# unreadable, and the error codes of common mistakes. Run against
# `sigil serve --dev`.
#
#   ENDPOINT=http://127.0.0.1:8443 scripts/aws-cli-secrets.sh [WORKDIR]
set -euo pipefail

ENDPOINT=${ENDPOINT:-http://127.0.0.1:8443}
AWS_BIN=${AWS_BIN:-aws}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" && cd "$WORK"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER="" AWS_CONFIG_FILE=/dev/null
sm() { "$AWS_BIN" --endpoint-url "$ENDPOINT" secretsmanager "$@"; }
kms() { "$AWS_BIN" --endpoint-url "$ENDPOINT" kms "$@"; }
pca() { "$AWS_BIN" --endpoint-url "$ENDPOINT" acm-pca "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_error() {
  local code=$1; shift
  if "$@" > out.txt 2> err.txt; then fail "expected $code from: $*"; fi
  grep -q "($code)" err.txt || { cat err.txt; fail "expected $code from: $*"; }
}

# 1. A KMS key with an alias; envelope encryption with a context.
KEY=$(kms create-key --description "app secrets" --query KeyMetadata.KeyId --output text)
kms create-alias --alias-name alias/app --target-key-id "$KEY"
printf 'hello kms' > plain.txt
kms encrypt --key-id alias/app --plaintext fileb://plain.txt --encryption-context purpose=demo \
  --query CiphertextBlob --output text | base64 -d > ct.bin
kms decrypt --ciphertext-blob fileb://ct.bin --encryption-context purpose=demo --query Plaintext --output text | base64 -d > back.txt
cmp -s plain.txt back.txt || fail "decrypt did not return the plaintext"
expect_error InvalidCiphertextException kms decrypt --ciphertext-blob fileb://ct.bin --encryption-context purpose=other
[ "$(kms generate-data-key --key-id "$KEY" --key-spec AES_256 --query Plaintext --output text | base64 -d | wc -c)" = 32 ] \
  || fail "data key length"
kms list-aliases --query 'Aliases[].AliasName' --output text | grep -q alias/aws/secretsmanager || fail "managed alias missing"

# 2. A secret under that key: versions and labels.
ARN=$(sm create-secret --name demo/db --secret-string '{"password":"one"}' --kms-key-id alias/app \
  --tags Key=env,Value=dev --query ARN --output text)
[ "$(sm get-secret-value --secret-id demo/db --query SecretString --output text)" = '{"password":"one"}' ] || fail "get by name"
[ "$(sm get-secret-value --secret-id "$ARN" --query SecretString --output text)" = '{"password":"one"}' ] || fail "get by ARN"
sm put-secret-value --secret-id demo/db --secret-string '{"password":"two"}' > /dev/null
[ "$(sm get-secret-value --secret-id demo/db --version-stage AWSPREVIOUS --query SecretString --output text)" = '{"password":"one"}' ] \
  || fail "AWSPREVIOUS"
[ "$(sm list-secret-version-ids --secret-id demo/db --query 'length(Versions)' --output text)" = 2 ] || fail "versions"
sm list-secrets --filters Key=tag-key,Values=env --query 'SecretList[].Name' --output text | grep -q demo/db || fail "list by tag"
sm describe-secret --secret-id demo/db --query VersionIdsToStages > stages.json
grep -q AWSCURRENT stages.json || fail "describe stages"
[ "$(sm get-random-password --password-length 40 --exclude-punctuation --query RandomPassword --output text | wc -c)" = 41 ] \
  || fail "random password"

# 3. A disabled key makes the secret unreadable; enabling restores it.
kms disable-key --key-id "$KEY"
expect_error DecryptionFailure sm get-secret-value --secret-id demo/db
kms enable-key --key-id "$KEY"
sm get-secret-value --secret-id demo/db > /dev/null

# 4. Deletion with a recovery window, then restore.
sm delete-secret --secret-id demo/db --recovery-window-in-days 7 > /dev/null
expect_error InvalidRequestException sm get-secret-value --secret-id demo/db
sm restore-secret --secret-id demo/db > /dev/null
sm get-secret-value --secret-id demo/db > /dev/null

# 5. A certificate secret rotated by Sigil's built-in rotation function.
CA=$(pca create-certificate-authority --certificate-authority-type ROOT \
  --certificate-authority-configuration '{"KeyAlgorithm":"EC_prime256v1","SigningAlgorithm":"SHA256WITHECDSA","Subject":{"CommonName":"Secrets Demo Root"}}' \
  --query CertificateAuthorityArn --output text)
pca get-certificate-authority-csr --certificate-authority-arn "$CA" --output text > ca.csr
CACERT=$(pca issue-certificate --certificate-authority-arn "$CA" --csr fileb://ca.csr --signing-algorithm SHA256WITHECDSA \
  --template-arn arn:aws:acm-pca:::template/RootCACertificate/V1 --validity Value=10,Type=YEARS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$CA" --certificate-arn "$CACERT" --query Certificate --output text > ca.pem
pca import-certificate-authority-certificate --certificate-authority-arn "$CA" --certificate fileb://ca.pem
sm create-secret --name demo/tls --secret-string "{\"CA_ARN\":\"$CA\",\"COMMON_NAME\":\"web.demo.internal\",\"KEY_ALGORITHM\":\"TYPE_EC\",\"VALIDITY_DAYS\":90}" > /dev/null
sm rotate-secret --secret-id demo/tls \
  --rotation-lambda-arn arn:aws:lambda:us-east-1:000000000000:function:sigil-certificate-rotation \
  --rotation-rules '{"ScheduleExpression":"rate(30 days)"}' > /dev/null
for _ in $(seq 60); do
  sm get-secret-value --secret-id demo/tls --query SecretString --output text > tls.json
  grep -q CERTIFICATE_PEM tls.json && break
  sleep 0.5
done
grep -q CERTIFICATE_PEM tls.json || fail "the certificate secret did not rotate"
python3 -c 'import json,sys; d=json.load(open("tls.json")); open("leaf.pem","w").write(d["CERTIFICATE_PEM"]); open("key.pem","w").write(d["PRIVATE_KEY_PEM"])'
openssl verify -CAfile ca.pem leaf.pem > /dev/null || fail "openssl verify of the rotated certificate"
[ "$(openssl x509 -in leaf.pem -noout -pubkey | openssl sha256)" = "$(openssl pkey -in key.pem -pubout | openssl sha256)" ] \
  || fail "the rotated key does not match the certificate"
[ "$(sm describe-secret --secret-id demo/tls --query RotationEnabled --output text)" = True ] || fail "rotation enabled"

# 6. Common mistakes.
expect_error ResourceNotFoundException sm get-secret-value --secret-id demo/none
expect_error ResourceExistsException sm create-secret --name demo/db --secret-string x
expect_error InvalidParameterException sm delete-secret --secret-id demo/db --recovery-window-in-days 3
expect_error NotFoundException kms describe-key --key-id alias/none
expect_error AlreadyExistsException kms create-alias --alias-name alias/app --target-key-id "$KEY"

echo "secrets OK"
