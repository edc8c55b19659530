#!/usr/bin/env bash
# Access control with `sigil admin` and the AWS CLI, executable
# (docs/access-control.md): a user limited to one CA and template, a role
# whose sessions read only the secrets tagged with its env (ABAC through
# sts assume-role), a second account reading a shared secret once the
# secret's policy and its KMS key's policy both allow it, a CA shared with
# that account through its resource policy, and the errors of common
# mistakes. Run against `sigil serve --dev`.
#
#   ENDPOINT=http://127.0.0.1:8443 SIGIL_BIN=bin/sigil scripts/aws-cli-iam.sh [WORKDIR]
set -euo pipefail

ENDPOINT=${ENDPOINT:-http://127.0.0.1:8443}
AWS_BIN=${AWS_BIN:-aws}
SIGIL_BIN=${SIGIL_BIN:-sigil}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" && cd "$WORK"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER="" AWS_CONFIG_FILE=/dev/null AWS_ENDPOINT_URL=$ENDPOINT
aws_() { "$AWS_BIN" --endpoint-url "$ENDPOINT" "$@"; }
admin() { "$SIGIL_BIN" admin "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_error() {
  local code=$1; shift
  if "$@" > out.txt 2> err.txt; then fail "expected $code from: $*"; fi
  grep -q "$code" err.txt || { cat err.txt; fail "expected $code from: $*"; }
}
# as KEY SECRET [TOKEN] -- runs a command with other credentials.
as() {
  local k=$1 s=$2 tok=$3; shift 3
  AWS_ACCESS_KEY_ID=$k AWS_SECRET_ACCESS_KEY=$s AWS_SESSION_TOKEN=$tok "$@"
}

# 1. Who am I: the development root of account 000000000000.
[ "$(aws_ sts get-caller-identity --query Account --output text)" = 000000000000 ] || fail "caller identity"

# 2. A user who may only read secrets under its own name (policy variable).
admin user create ci > user.json
[ "$(json 'd["User"]["Arn"]' < user.json)" = arn:aws:iam::000000000000:user/ci ] || fail "user ARN"
admin policy create own-secrets --document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:000000000000:secret:${aws:username}/*"}]}' > pol.json
admin policy attach "$(json 'd["Policy"]["Arn"]' < pol.json)" --user ci
admin access-key create --user ci > key.json
CI_KEY=$(json 'd["AccessKey"]["AccessKeyId"]' < key.json); CI_SECRET=$(json 'd["AccessKey"]["SecretAccessKey"]' < key.json)
aws_ secretsmanager create-secret --name ci/token --secret-string ci-token > /dev/null
aws_ secretsmanager create-secret --name other/token --secret-string other-token > /dev/null
[ "$(as "$CI_KEY" "$CI_SECRET" "" aws_ sts get-caller-identity --query Arn --output text)" = arn:aws:iam::000000000000:user/ci ] || fail "ci identity"
[ "$(as "$CI_KEY" "$CI_SECRET" "" aws_ secretsmanager get-secret-value --secret-id ci/token --query SecretString --output text)" = ci-token ] || fail "ci reads its secret"
expect_error AccessDeniedException as "$CI_KEY" "$CI_SECRET" "" aws_ secretsmanager get-secret-value --secret-id other/token
expect_error AccessDeniedException as "$CI_KEY" "$CI_SECRET" "" aws_ secretsmanager list-secrets

# 3. ABAC: a role tagged env=dev; its sessions read only env=dev secrets.
admin role create dev-servers --tag env=dev \
  --trust-policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"sts:AssumeRole"}]}' > role.json
admin policy create abac --document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"${aws:PrincipalTag/env}"}}}]}' > abac.json
admin policy attach "$(json 'd["Policy"]["Arn"]' < abac.json)" --role dev-servers
aws_ secretsmanager create-secret --name db/dev --secret-string dev-pw --tags Key=env,Value=dev > /dev/null
aws_ secretsmanager create-secret --name db/prod --secret-string prod-pw --tags Key=env,Value=prod > /dev/null
aws_ sts assume-role --role-arn arn:aws:iam::000000000000:role/dev-servers --role-session-name web-1 > session.json
S_KEY=$(json 'd["Credentials"]["AccessKeyId"]' < session.json); S_SECRET=$(json 'd["Credentials"]["SecretAccessKey"]' < session.json)
S_TOKEN=$(json 'd["Credentials"]["SessionToken"]' < session.json)
[ "$(json 'd["AssumedRoleUser"]["Arn"]' < session.json)" = arn:aws:sts::000000000000:assumed-role/dev-servers/web-1 ] || fail "session ARN"
[ "$(as "$S_KEY" "$S_SECRET" "$S_TOKEN" aws_ secretsmanager get-secret-value --secret-id db/dev --query SecretString --output text)" = dev-pw ] || fail "session reads env=dev"
expect_error AccessDeniedException as "$S_KEY" "$S_SECRET" "$S_TOKEN" aws_ secretsmanager get-secret-value --secret-id db/prod
expect_error InvalidClientTokenId as "$S_KEY" "$S_SECRET" "forged-token" aws_ sts get-caller-identity
expect_error AccessDenied as "$CI_KEY" "$CI_SECRET" "" aws_ sts assume-role --role-arn arn:aws:iam::000000000000:role/dev-servers --role-session-name x1

# 4. A second account reads a shared secret only when the secret's policy
#    and its KMS key's policy both allow it.
admin account create team-b > acct.json
B=$(json 'd["AccountId"]' < acct.json); B_KEY=$(json 'd["AccessKeyId"]' < acct.json); B_SECRET=$(json 'd["SecretAccessKey"]' < acct.json)
KEY=$(aws_ kms create-key --description shared --query KeyMetadata.Arn --output text)
ARN=$(aws_ secretsmanager create-secret --name shared/db --secret-string shared-pw --kms-key-id "$KEY" --query ARN --output text)
expect_error AccessDeniedException as "$B_KEY" "$B_SECRET" "" aws_ secretsmanager get-secret-value --secret-id "$ARN"
aws_ secretsmanager put-resource-policy --secret-id shared/db --resource-policy "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::$B:root\"},\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":\"*\"}]}" > /dev/null
expect_error AccessDeniedException as "$B_KEY" "$B_SECRET" "" aws_ secretsmanager get-secret-value --secret-id "$ARN"
aws_ kms put-key-policy --key-id "$KEY" --policy-name default --policy "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::$B:root\"},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}"
[ "$(as "$B_KEY" "$B_SECRET" "" aws_ secretsmanager get-secret-value --secret-id "$ARN" --query SecretString --output text)" = shared-pw ] \
  || fail "account B reads the shared secret"

# 5. A CA shared with the second account through its resource policy: B
#    sees it under OTHER_ACCOUNTS and issues from it with the template the
#    policy allows.
pca() { aws_ acm-pca "$@"; }
CA=$(pca create-certificate-authority --certificate-authority-type ROOT \
  --certificate-authority-configuration '{"KeyAlgorithm":"EC_prime256v1","SigningAlgorithm":"SHA256WITHECDSA","Subject":{"CommonName":"Shared Root"}}' \
  --query CertificateAuthorityArn --output text)
pca get-certificate-authority-csr --certificate-authority-arn "$CA" --output text > ca.csr
C=$(pca issue-certificate --certificate-authority-arn "$CA" --csr fileb://ca.csr --signing-algorithm SHA256WITHECDSA \
  --template-arn arn:aws:acm-pca:::template/RootCACertificate/V1 --validity Value=5,Type=YEARS --query CertificateArn --output text)
pca get-certificate --certificate-authority-arn "$CA" --certificate-arn "$C" --query Certificate --output text > ca.pem
pca import-certificate-authority-certificate --certificate-authority-arn "$CA" --certificate fileb://ca.pem
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout b.key -subj /CN=b.example -out b.csr 2> /dev/null
issue_as_b() { as "$B_KEY" "$B_SECRET" "" pca issue-certificate --certificate-authority-arn "$CA" --csr fileb://b.csr \
  --signing-algorithm SHA256WITHECDSA --validity Value=7,Type=DAYS "$@"; }
expect_error AccessDeniedException issue_as_b
[ "$(as "$B_KEY" "$B_SECRET" "" pca list-certificate-authorities --resource-owner OTHER_ACCOUNTS --query 'length(CertificateAuthorities)')" = 0 ] \
  || fail "B sees a CA shared with nobody"
pca put-policy --resource-arn "$CA" --policy "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"$B\"},\"Action\":[\"acm-pca:IssueCertificate\"],\"Resource\":\"$CA\",\"Condition\":{\"StringEquals\":{\"acm-pca:TemplateArn\":\"arn:aws:acm-pca:::template/EndEntityCertificate/V1\"}}},{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"$B\"},\"Action\":[\"acm-pca:GetCertificate\",\"acm-pca:DescribeCertificateAuthority\"],\"Resource\":\"$CA\"}]}"
[ "$(as "$B_KEY" "$B_SECRET" "" pca list-certificate-authorities --resource-owner OTHER_ACCOUNTS --query 'CertificateAuthorities[0].Arn' --output text)" = "$CA" ] \
  || fail "B does not see the shared CA"
BC=$(issue_as_b --query CertificateArn --output text)
as "$B_KEY" "$B_SECRET" "" pca get-certificate --certificate-authority-arn "$CA" --certificate-arn "$BC" --query Certificate --output text > b.pem
openssl verify -CAfile ca.pem b.pem > /dev/null || fail "B's certificate does not verify against A's CA"
expect_error AccessDeniedException issue_as_b --template-arn arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1
expect_error InvalidPolicyException pca put-policy --resource-arn "$CA" --policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"acm-pca:GetCertificate","Resource":"*"}]}'
pca delete-policy --resource-arn "$CA"
expect_error AccessDeniedException issue_as_b

# 6. Mistakes get clear errors.
expect_error MalformedPolicyDocument admin policy create bad --document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"nocolon","Resource":"*"}]}'
expect_error EntityAlreadyExists admin user create ci
expect_error DeleteConflict admin user delete ci
expect_error NoSuchEntity admin user get nobody
expect_error AccessDeniedException as "$B_KEY" "$B_SECRET" "" admin account list
echo "iam OK"
