#!/usr/bin/env bash
# Certificate Manager with the AWS CLI, executable (docs/acm.md): a private
# root CA, a certificate requested through ACM, exported under a passphrase
# and opened with openssl, listed, searched, tagged, renewed, an imported
# certificate, and the error codes of common mistakes. Run against
# `sigil serve --dev`.
#
#   ENDPOINT=http://127.0.0.1:8443 scripts/aws-cli-acm.sh [WORKDIR]
set -euo pipefail

ENDPOINT=${ENDPOINT:-http://127.0.0.1:8443}
AWS_BIN=${AWS_BIN:-aws}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" && cd "$WORK"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER="" AWS_CONFIG_FILE=/dev/null
pca() { "$AWS_BIN" --endpoint-url "$ENDPOINT" acm-pca "$@"; }
acm() { "$AWS_BIN" --endpoint-url "$ENDPOINT" acm "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_error CODE COMMAND...: the command must fail with that AWS error code.
expect_error() {
  local code=$1; shift
  if "$@" > out.txt 2> err.txt; then fail "expected $code from: $*"; fi
  grep -q "($code)" err.txt || { cat err.txt; fail "expected $code from: $*"; }
}

# 1. A private root CA (any ACTIVE CA of Sigil can back ACM).
CA=$(pca create-certificate-authority --certificate-authority-type ROOT \
  --certificate-authority-configuration '{"KeyAlgorithm":"EC_prime256v1","SigningAlgorithm":"SHA256WITHECDSA","Subject":{"CommonName":"ACM Demo Root"}}' \
  --query CertificateAuthorityArn --output text)
pca get-certificate-authority-csr --certificate-authority-arn "$CA" --output text > ca.csr
ARN=$(pca issue-certificate --certificate-authority-arn "$CA" --csr fileb://ca.csr --signing-algorithm SHA256WITHECDSA \
  --template-arn arn:aws:acm-pca:::template/RootCACertificate/V1 --validity Value=10,Type=YEARS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$CA" --certificate-arn "$ARN" --query Certificate --output text > ca.pem
pca import-certificate-authority-certificate --certificate-authority-arn "$CA" --certificate fileb://ca.pem
# Managed renewal acts as ACM's service principal: the CA must grant it.
pca create-permission --certificate-authority-arn "$CA" --principal acm.amazonaws.com \
  --actions IssueCertificate GetCertificate ListPermissions
[ "$(pca list-permissions --certificate-authority-arn "$CA" --query 'Permissions[0].Principal' --output text)" = acm.amazonaws.com ] \
  || fail "list-permissions does not show the ACM permission"

# 2. Request a private certificate: Sigil makes the key, the CA signs.
CERT=$(acm request-certificate --certificate-authority-arn "$CA" --domain-name app.internal \
  --subject-alternative-names app.internal '*.app.internal' --key-algorithm EC_prime256v1 \
  --tags Key=team,Value=platform --idempotency-token demo1 \
  --query CertificateArn --output text)
[ "$(acm describe-certificate --certificate-arn "$CERT" --query Certificate.Status --output text)" = ISSUED ] \
  || fail "the certificate is not ISSUED"
[ "$(acm describe-certificate --certificate-arn "$CERT" --query Certificate.Type --output text)" = PRIVATE ] \
  || fail "the certificate is not PRIVATE"
# Same idempotency token, same request: the same certificate.
AGAIN=$(acm request-certificate --certificate-authority-arn "$CA" --domain-name app.internal \
  --subject-alternative-names app.internal '*.app.internal' --key-algorithm EC_prime256v1 \
  --idempotency-token demo1 --query CertificateArn --output text)
[ "$AGAIN" = "$CERT" ] || fail "the idempotency token did not deduplicate"

# 3. Get it and verify the chain with openssl.
acm get-certificate --certificate-arn "$CERT" --query Certificate --output text > cert.pem
acm get-certificate --certificate-arn "$CERT" --query CertificateChain --output text > chain.pem
openssl verify -CAfile chain.pem cert.pem | grep -q ': OK' || fail "openssl verify rejected the certificate"

# 4. Export with a passphrase; the key opens with openssl and matches.
printf '%s' 'correct horse battery' > passphrase.txt
acm export-certificate --certificate-arn "$CERT" --passphrase fileb://passphrase.txt --query PrivateKey --output text > key.pem
grep -q 'BEGIN ENCRYPTED PRIVATE KEY' key.pem || fail "the exported key is not encrypted PKCS#8"
[ "$(openssl x509 -in cert.pem -noout -pubkey)" = "$(openssl pkey -in key.pem -passin file:passphrase.txt -pubout)" ] \
  || fail "the exported key does not match the certificate"
[ "$(acm describe-certificate --certificate-arn "$CERT" --query Certificate.RenewalEligibility --output text)" = ELIGIBLE ] \
  || fail "an exported private certificate is not eligible for renewal"

# 5. List (EC certificates must be asked for, as on AWS), tag.
[ "$(acm list-certificates --includes keyTypes=EC_prime256v1 --query 'length(CertificateSummaryList)' --output text)" = 1 ] \
  || fail "list-certificates does not show the certificate"
acm add-tags-to-certificate --certificate-arn "$CERT" --tags Key=env,Value=prod
[ "$(acm list-tags-for-certificate --certificate-arn "$CERT" --query 'length(Tags)' --output text)" = 2 ] || fail "tags"
acm remove-tags-from-certificate --certificate-arn "$CERT" --tags Key=env
if "$AWS_BIN" acm help 2>/dev/null | grep -q search-certificates; then
  N=$(acm search-certificates --filter-statement '{"Filter":{"X509AttributeFilter":{"SubjectAlternativeName":{"DnsName":{"ComparisonOperator":"CONTAINS","Value":"app.internal"}}}}}' \
    --query 'length(Results)' --output text)
  [ "$N" = 1 ] || fail "search-certificates found $N certificates"
fi

# 6. Renew now (same ARN, new serial and key).
OLD=$(acm describe-certificate --certificate-arn "$CERT" --query Certificate.Serial --output text)
acm renew-certificate --certificate-arn "$CERT"
NEW=$(acm describe-certificate --certificate-arn "$CERT" --query Certificate.Serial --output text)
[ "$OLD" != "$NEW" ] || fail "renew-certificate kept the serial"
[ "$(acm describe-certificate --certificate-arn "$CERT" --query Certificate.RenewalSummary.RenewalStatus --output text)" = SUCCESS ] \
  || fail "the renewal summary is not SUCCESS"

# 7. Import a certificate made elsewhere, then re-import onto the same ARN.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ext.key -out ext.pem -days 30 \
  -subj /CN=vendor.example -addext subjectAltName=DNS:vendor.example 2>/dev/null
IMPORTED=$(acm import-certificate --certificate fileb://ext.pem --private-key fileb://ext.key --query CertificateArn --output text)
[ "$(acm describe-certificate --certificate-arn "$IMPORTED" --query Certificate.Type --output text)" = IMPORTED ] || fail "import"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ext2.key -out ext2.pem -days 60 \
  -subj /CN=vendor.example 2>/dev/null
[ "$(acm import-certificate --certificate-arn "$IMPORTED" --certificate fileb://ext2.pem --private-key fileb://ext2.key \
  --query CertificateArn --output text)" = "$IMPORTED" ] || fail "re-import changed the ARN"

# 8. Mistakes get AWS's error codes.
expect_error ValidationException acm import-certificate --certificate fileb://ext.pem --private-key fileb://ext2.key
expect_error ValidationException acm export-certificate --certificate-arn "$IMPORTED" --passphrase fileb://passphrase.txt
printf 'ab' > short.txt
expect_error ValidationException acm export-certificate --certificate-arn "$CERT" --passphrase fileb://short.txt
expect_error InvalidParameterException acm request-certificate --domain-name 'bad domain' --certificate-authority-arn "$CA"
expect_error ResourceNotFoundException acm describe-certificate \
  --certificate-arn arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-4000-8000-000000000000

# 9. Expiry events from 30 days before expiry, and delete.
acm put-account-configuration --expiry-events DaysBeforeExpiry=30 --idempotency-token cfg1
[ "$(acm get-account-configuration --query ExpiryEvents.DaysBeforeExpiry --output text)" = 30 ] || fail "account configuration"
acm delete-certificate --certificate-arn "$IMPORTED"
expect_error ResourceNotFoundException acm get-certificate --certificate-arn "$IMPORTED"

echo "acm OK: $CERT"
