#!/usr/bin/env bash
# Revocation with the AWS CLI, executable (docs/revocation.md): a root and an
# issuing CA that publish CRLs and answer OCSP, a certificate checked with
# `openssl ocsp` and `openssl verify -crl_check_all` before and after
# `revoke-certificate`, and an audit report. Run against `sigil serve --dev`;
# PUBLIC is the public (CRL/OCSP) listener's URL, OBJECTS the object-store
# directory (DATA_DIR/objects).
#
#   ENDPOINT=http://127.0.0.1:8443 PUBLIC=http://127.0.0.1:8080 OBJECTS=./sigil-data/objects \
#     scripts/aws-cli-revocation.sh [WORKDIR]
set -euo pipefail

ENDPOINT=${ENDPOINT:-http://127.0.0.1:8443}
PUBLIC=${PUBLIC:-http://127.0.0.1:8080}
OBJECTS=${OBJECTS:-./sigil-data/objects}
AWS_BIN=${AWS_BIN:-aws}
OBJECTS=$(cd "$OBJECTS" 2>/dev/null && pwd || echo "$OBJECTS")
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" && cd "$WORK"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER="" AWS_CONFIG_FILE=/dev/null
pca() { "$AWS_BIN" --endpoint-url "$ENDPOINT" acm-pca "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# wait_for SECONDS COMMAND...: retry a check until it passes.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < deadline)) || return 1; sleep 0.2; done
}
# fetch_crl URL OUT: download a DER CRL and convert it to PEM for openssl.
fetch_crl() { curl -fsS "$1" -o "$2.der" && openssl crl -inform DER -in "$2.der" -out "$2"; }

REVOCATION='{"CrlConfiguration":{"Enabled":true,"ExpirationInDays":7,"S3BucketName":"example-crls"},"OcspConfiguration":{"Enabled":true}}'

# 1. Root and issuing CA, both publishing CRLs and answering OCSP.
ROOT=$(pca create-certificate-authority --certificate-authority-type ROOT \
  --certificate-authority-configuration '{"KeyAlgorithm":"EC_prime256v1","SigningAlgorithm":"SHA256WITHECDSA","Subject":{"CommonName":"Revocation Root CA"}}' \
  --revocation-configuration "$REVOCATION" --query CertificateAuthorityArn --output text)
pca get-certificate-authority-csr --certificate-authority-arn "$ROOT" --output text > root.csr
ARN=$(pca issue-certificate --certificate-authority-arn "$ROOT" --csr fileb://root.csr --signing-algorithm SHA256WITHECDSA \
  --template-arn arn:aws:acm-pca:::template/RootCACertificate/V1 --validity Value=10,Type=YEARS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$ROOT" --certificate-arn "$ARN" --query Certificate --output text > root.pem
pca import-certificate-authority-certificate --certificate-authority-arn "$ROOT" --certificate fileb://root.pem

SUB=$(pca create-certificate-authority --certificate-authority-type SUBORDINATE \
  --certificate-authority-configuration '{"KeyAlgorithm":"EC_prime256v1","SigningAlgorithm":"SHA256WITHECDSA","Subject":{"CommonName":"Revocation Issuing CA"}}' \
  --revocation-configuration "$REVOCATION" --query CertificateAuthorityArn --output text)
pca get-certificate-authority-csr --certificate-authority-arn "$SUB" --output text > sub.csr
SUB_CERT_ARN=$(pca issue-certificate --certificate-authority-arn "$ROOT" --csr fileb://sub.csr --signing-algorithm SHA256WITHECDSA \
  --template-arn arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1 --validity Value=5,Type=YEARS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$ROOT" --certificate-arn "$SUB_CERT_ARN" --query Certificate --output text > sub.pem
pca get-certificate --certificate-authority-arn "$ROOT" --certificate-arn "$SUB_CERT_ARN" --query CertificateChain --output text > sub-chain.pem
pca import-certificate-authority-certificate --certificate-authority-arn "$SUB" --certificate fileb://sub.pem --certificate-chain fileb://sub-chain.pem

# 2. A server certificate; its CRL distribution point and OCSP URL point at
#    Sigil's public listener.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout web.key -subj "/CN=web.example.internal" \
  -addext "subjectAltName=DNS:web.example.internal" -out web.csr 2>/dev/null
WEB_ARN=$(pca issue-certificate --certificate-authority-arn "$SUB" --csr fileb://web.csr --signing-algorithm SHA256WITHECDSA \
  --validity Value=30,Type=DAYS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$SUB" --certificate-arn "$WEB_ARN" --query Certificate --output text > web.pem
OCSP_URL=$(openssl x509 -in web.pem -noout -ocsp_uri)
CRL_URL=$(openssl x509 -in web.pem -noout -ext crlDistributionPoints | grep -o 'URI:.*' | cut -d: -f2-)
SUB_CRL_URL=$(openssl x509 -in sub.pem -noout -ext crlDistributionPoints | grep -o 'URI:.*' | cut -d: -f2-)
[[ $OCSP_URL == "$PUBLIC/ocsp" ]] || fail "OCSP URL $OCSP_URL, want $PUBLIC/ocsp"
[[ $CRL_URL == "$PUBLIC/crl/${SUB##*/}.crl" ]] || fail "CRL URL $CRL_URL"
cat sub.pem root.pem > chain.pem

# 3. Good: OCSP says good, and the chain verifies against both CRLs.
ocsp() { openssl ocsp -issuer sub.pem -cert web.pem -url "$OCSP_URL" -CAfile chain.pem "$@" 2>&1; }
ocsp > ocsp.txt || { cat ocsp.txt; fail "openssl ocsp"; }
grep -q "Response verify OK" ocsp.txt && grep -q "web.pem: good" ocsp.txt || { cat ocsp.txt; fail "OCSP before revocation"; }
crls_ready() { fetch_crl "$CRL_URL" sub.crl 2>/dev/null && fetch_crl "$SUB_CRL_URL" root.crl 2>/dev/null; }
wait_for 10 crls_ready || fail "the CRLs were not published"
cat sub.crl root.crl > crls.pem
openssl verify -crl_check_all -CAfile root.pem -untrusted sub.pem -CRLfile crls.pem web.pem | grep -q "web.pem: OK" ||
  fail "openssl verify -crl_check_all before revocation"

# 4. Revoke; OCSP and the CRL show it within the propagation delay.
SERIAL=$(openssl x509 -in web.pem -noout -serial | cut -d= -f2)
pca revoke-certificate --certificate-authority-arn "$SUB" --certificate-serial "$SERIAL" --revocation-reason KEY_COMPROMISE
if pca revoke-certificate --certificate-authority-arn "$SUB" --certificate-serial "$SERIAL" --revocation-reason KEY_COMPROMISE 2> err.txt; then
  fail "revoking twice succeeded"
fi
grep -q RequestAlreadyProcessedException err.txt || fail "second revocation: $(cat err.txt)"
if pca revoke-certificate --certificate-authority-arn "$SUB" --certificate-serial 0123456789ABCDEF --revocation-reason SUPERSEDED 2> err.txt; then
  fail "revoking an unknown serial succeeded"
fi
grep -q ResourceNotFoundException err.txt || fail "unknown serial: $(cat err.txt)"
revoked_by_ocsp() { ocsp > ocsp.txt && grep -q "web.pem: revoked" ocsp.txt && grep -q "Reason: keyCompromise" ocsp.txt; }
wait_for 10 revoked_by_ocsp || { cat ocsp.txt; fail "OCSP does not report the revocation"; }
revoked_by_crl() {
  fetch_crl "$CRL_URL" sub.crl && cat sub.crl root.crl > crls.pem &&
    ! openssl verify -crl_check_all -CAfile root.pem -untrusted sub.pem -CRLfile crls.pem web.pem > verify.txt 2>&1 &&
    grep -q "certificate revoked" verify.txt
}
wait_for 10 revoked_by_crl || { cat verify.txt; fail "openssl verify -crl_check_all accepted the revoked certificate"; }
openssl crl -in sub.crl -noout -text | grep -q "Serial Number: $SERIAL" || fail "the CRL does not list $SERIAL"
# The CRL was also published into the bucket directory.
cmp -s sub.crl.der "$OBJECTS/example-crls/crl/${SUB##*/}.crl" || fail "bucket copy of the CRL differs"

# 5. An audit report lists the issued and revoked certificates.
read -r REPORT_ID KEY < <(pca create-certificate-authority-audit-report --certificate-authority-arn "$SUB" \
  --s3-bucket-name example-audit --audit-report-response-format JSON --query '[AuditReportId,S3Key]' --output text)
pca wait audit-report-created --certificate-authority-arn "$SUB" --audit-report-id "$REPORT_ID"
[[ $(pca describe-certificate-authority-audit-report --certificate-authority-arn "$SUB" --audit-report-id "$REPORT_ID" \
  --query AuditReportStatus --output text) == SUCCESS ]] || fail "audit report not SUCCESS"
grep -q '"revocationReason":"KEY_COMPROMISE"' "$OBJECTS/example-audit/$KEY" || fail "audit report lacks the revocation"

echo "== revocation OK: $WEB_ARN revoked; CRL and OCSP agree"
