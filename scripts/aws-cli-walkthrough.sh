#!/usr/bin/env bash
# The README's walkthrough, executable: build a two-level private CA
# hierarchy in Sigil with the AWS CLI, issue end-entity certificates from
# CSRs, and check them with openssl. Run against a server started with
# `sigil serve --dev`; the test suite runs it with the AWS CLI v2 (and v1 when
# one is on PATH).
#
#   ENDPOINT=http://127.0.0.1:8443 AWS_BIN=/usr/bin/aws scripts/aws-cli-walkthrough.sh [WORKDIR]
set -euo pipefail

ENDPOINT=${ENDPOINT:-http://127.0.0.1:8443}
AWS_BIN=${AWS_BIN:-aws}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" && cd "$WORK"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER="" AWS_CONFIG_FILE=/dev/null
pca() { "$AWS_BIN" --endpoint-url "$ENDPOINT" acm-pca "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect FILE PATTERN DESCRIPTION: the openssl text output must match
  grep -Eq -- "$2" "$1" || { cat "$1" >&2; fail "$3"; }
}
echo "== using $("$AWS_BIN" --version 2>&1)"

# 1. A root CA: create it, self-sign its CSR with the RootCACertificate
#    template, import the certificate.
ROOT=$(pca create-certificate-authority --certificate-authority-type ROOT \
  --certificate-authority-configuration '{"KeyAlgorithm":"EC_secp384r1","SigningAlgorithm":"SHA384WITHECDSA","Subject":{"Country":"US","Organization":"Example Corp","CommonName":"Example Root CA"}}' \
  --tags Key=team,Value=pki --query CertificateAuthorityArn --output text)
[[ $ROOT =~ ^arn:aws:acm-pca:[a-z0-9-]+:[0-9]{12}:certificate-authority/[0-9a-f-]{36}$ ]] || fail "root ARN $ROOT"
pca get-certificate-authority-csr --certificate-authority-arn "$ROOT" --output text > root.csr
ROOT_CERT_ARN=$(pca issue-certificate --certificate-authority-arn "$ROOT" --csr fileb://root.csr \
  --signing-algorithm SHA384WITHECDSA --template-arn arn:aws:acm-pca:::template/RootCACertificate/V1 \
  --validity Value=10,Type=YEARS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$ROOT" --certificate-arn "$ROOT_CERT_ARN" --query Certificate --output text > root.pem
pca import-certificate-authority-certificate --certificate-authority-arn "$ROOT" --certificate fileb://root.pem
[[ $(pca describe-certificate-authority --certificate-authority-arn "$ROOT" --query CertificateAuthority.Status --output text) == ACTIVE ]] || fail "root is not ACTIVE"

# 2. A subordinate CA signed by the root with SubordinateCACertificate_PathLen0,
#    imported with its chain.
SUB=$(pca create-certificate-authority --certificate-authority-type SUBORDINATE \
  --certificate-authority-configuration '{"KeyAlgorithm":"RSA_2048","SigningAlgorithm":"SHA256WITHRSA","Subject":{"Country":"US","Organization":"Example Corp","CommonName":"Example Issuing CA"}}' \
  --query CertificateAuthorityArn --output text)
pca get-certificate-authority-csr --certificate-authority-arn "$SUB" --output text > sub.csr
SUB_CERT_ARN=$(pca issue-certificate --certificate-authority-arn "$ROOT" --csr fileb://sub.csr \
  --signing-algorithm SHA384WITHECDSA --template-arn arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1 \
  --validity Value=5,Type=YEARS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$ROOT" --certificate-arn "$SUB_CERT_ARN" --query Certificate --output text > sub.pem
pca get-certificate --certificate-authority-arn "$ROOT" --certificate-arn "$SUB_CERT_ARN" --query CertificateChain --output text > sub-chain.pem
pca import-certificate-authority-certificate --certificate-authority-arn "$SUB" \
  --certificate fileb://sub.pem --certificate-chain fileb://sub-chain.pem
[[ $(pca describe-certificate-authority --certificate-authority-arn "$SUB" --query CertificateAuthority.Status --output text) == ACTIVE ]] || fail "subordinate is not ACTIVE"

# 3. End-entity certificates from CSRs made with openssl (EC and RSA keys).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout app.key -subj "/CN=app.example.internal" \
  -addext "subjectAltName=DNS:app.example.internal,DNS:www.app.example.internal" -out app.csr 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout db.key -subj "/CN=db.example.internal" \
  -addext "subjectAltName=DNS:db.example.internal" -out db.csr 2>/dev/null
APP_ARN=$(pca issue-certificate --certificate-authority-arn "$SUB" --csr fileb://app.csr \
  --signing-algorithm SHA256WITHRSA --validity Value=90,Type=DAYS --query CertificateArn --output text)
DB_ARN=$(pca issue-certificate --certificate-authority-arn "$SUB" --csr fileb://db.csr \
  --signing-algorithm SHA256WITHRSA --template-arn arn:aws:acm-pca:::template/EndEntityServerAuthCertificate/V1 \
  --validity Value=30,Type=DAYS --query CertificateArn --output text)
for name in app db; do
  arn_var=$(tr a-z A-Z <<<"$name")_ARN
  pca get-certificate --certificate-authority-arn "$SUB" --certificate-arn "${!arn_var}" --query Certificate --output text > "$name.pem"
  pca get-certificate --certificate-authority-arn "$SUB" --certificate-arn "${!arn_var}" --query CertificateChain --output text > "$name-chain.pem"
done
pca wait certificate-issued --certificate-authority-arn "$SUB" --certificate-arn "$APP_ARN"

# 4. openssl accepts the chains ...
openssl verify -CAfile root.pem -untrusted sub.pem app.pem | grep -q "app.pem: OK" || fail "openssl verify app.pem"
openssl verify -CAfile root.pem -untrusted sub.pem db.pem | grep -q "db.pem: OK" || fail "openssl verify db.pem"
# ... the chain returned with a certificate is the issuing CA then the root ...
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
awk '/BEGIN CERT/{n++} {print > ("app-chain-" n ".pem")}' app-chain.pem
[[ -f app-chain-2.pem && ! -f app-chain-3.pem ]] || fail "app chain does not hold exactly two certificates"
[[ $(fp app-chain-1.pem) == $(fp sub.pem) && $(fp app-chain-2.pem) == $(fp root.pem) ]] || fail "app chain is not issuing CA then root"
# ... and the certificates say what their templates promise.
openssl x509 -in root.pem -noout -text > root.txt
expect root.txt "CA:TRUE$" "root basic constraints (CA:TRUE, no path length)"
expect root.txt "Certificate Sign, CRL Sign" "root key usage"
openssl x509 -in sub.pem -noout -text > sub.txt
expect sub.txt "CA:TRUE, pathlen:0" "subordinate basic constraints"
expect sub.txt "X509v3 Key Usage: critical" "subordinate key usage is critical"
openssl x509 -in app.pem -noout -text > app.txt
expect app.txt "CA:FALSE" "app basic constraints"
expect app.txt "X509v3 Key Usage: critical" "app key usage is critical"
expect app.txt "^ +Digital Signature$" "app key usage (EC key: digital signature only)"
expect app.txt "TLS Web Server Authentication, TLS Web Client Authentication" "app extended key usage"
expect app.txt "DNS:app.example.internal, DNS:www.app.example.internal" "app subject alternative names"
expect app.txt "Subject: CN ?= ?app.example.internal" "app subject"
openssl x509 -in db.pem -noout -text > db.txt
expect db.txt "Digital Signature, Key Encipherment" "db key usage (RSA key)"
expect db.txt "^ +TLS Web Server Authentication$" "db extended key usage"
# Validity: 90 days from now (the certificate starts an hour back).
end=$(date -d "$(openssl x509 -in app.pem -noout -enddate | cut -d= -f2)" +%s)
now=$(date +%s)
(( end - now > 89*86400 && end - now <= 90*86400 + 120 )) || fail "app validity ends $(( (end - now) / 86400 )) days from now, want 90"

# 5. Errors come back as AWS errors.
if pca describe-certificate-authority --certificate-authority-arn "${ROOT%/*}/00000000-0000-0000-0000-000000000000" 2> err.txt; then
  fail "describing a missing CA succeeded"
fi
grep -q ResourceNotFoundException err.txt || fail "missing CA: $(cat err.txt)"
if pca issue-certificate --certificate-authority-arn "$SUB" --csr fileb://app.key --signing-algorithm SHA256WITHRSA \
  --validity Value=1,Type=DAYS 2> err.txt; then fail "a private key was accepted as a CSR"; fi
grep -q MalformedCSRException err.txt || fail "bad CSR: $(cat err.txt)"
grep -q "PRIVATE KEY-----" err.txt && fail "key material echoed in an error"

echo "== walkthrough OK: $ROOT -> $SUB -> $APP_ARN"
