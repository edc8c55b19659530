#!/usr/bin/env bash
# Events with the AWS CLI, executable (docs/events.md): a webhook receiver
# (a small Python server that checks each delivery's HMAC signature), a
# connection and an API destination for it, a rule with an event pattern
# and a target, test-event-pattern, put-events, and the errors of common
# mistakes. Run against `sigil serve --dev`.
#
#   ENDPOINT=http://127.0.0.1:8443 scripts/aws-cli-events.sh [WORKDIR]
set -euo pipefail

ENDPOINT=${ENDPOINT:-http://127.0.0.1:8443}
AWS_BIN=${AWS_BIN:-aws}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" && cd "$WORK"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER="" AWS_CONFIG_FILE=/dev/null
events() { "$AWS_BIN" --endpoint-url "$ENDPOINT" events "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_error() {
  local code=$1; shift
  if "$@" > out.txt 2> err.txt; then fail "expected $code from: $*"; fi
  grep -q "$code" err.txt || { cat err.txt; fail "expected $code from: $*"; }
}

# 1. A receiver: verifies X-Sigil-Signature (HMAC-SHA256 of "timestamp.body"
#    keyed by the connection's API key) and appends each body to got.jsonl.
cat > receiver.py <<'PY'
import hashlib, hmac, http.server, sys, time
KEY = b"receiver-key-31f9"
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = self.headers["X-Sigil-Timestamp"]
        want = "v1=" + hmac.new(KEY, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers["X-Sigil-Signature"]) and abs(time.time() - int(ts)) < 300
        self.send_response(200 if ok else 401); self.end_headers()
        if ok:
            with open("got.jsonl", "ab") as f: f.write(body + b"\n")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 receiver.py > port.txt & RECEIVER=$!
trap 'kill $RECEIVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s port.txt ] && break; sleep 0.1; done
PORT=$(cat port.txt)

# 2. A connection (API key: sent as a header and keying the signature),
#    an API destination, a rule and its target.
CONN=$(events create-connection --name receiver --authorization-type API_KEY \
  --auth-parameters '{"ApiKeyAuthParameters":{"ApiKeyName":"X-Api-Key","ApiKeyValue":"receiver-key-31f9"}}' \
  --query ConnectionArn --output text)
DEST=$(events create-api-destination --name receiver --connection-arn "$CONN" \
  --invocation-endpoint "http://127.0.0.1:$PORT/events" --http-method POST --query ApiDestinationArn --output text)
events put-rule --name deploys --event-pattern '{"source":[{"prefix":"com.example."}],"detail":{"env":["prod"]}}' > /dev/null
events put-targets --rule deploys --targets "Id=receiver,Arn=$DEST" > /dev/null
[ "$(events list-targets-by-rule --rule deploys --query 'Targets[0].Arn' --output text)" = "$DEST" ] || fail "list-targets-by-rule"
[ "$(events describe-connection --name receiver --query 'AuthParameters.ApiKeyAuthParameters.ApiKeyName' --output text)" = X-Api-Key ] \
  || fail "describe-connection"

# 3. Patterns are checked before any event flows.
EVENT='{"id":"1","source":"com.example.ci","detail-type":"Deploy","account":"000000000000","time":"2026-12-05T00:00:00Z","region":"us-east-1","resources":[],"detail":{"env":"prod"}}'
[ "$(events test-event-pattern --event-pattern '{"detail":{"env":["prod"]}}' --event "$EVENT" --query Result --output text)" = True ] \
  || fail "test-event-pattern"

# 4. Two events; only the one for prod reaches the receiver.
events put-events --entries '[{"Source":"com.example.ci","DetailType":"Deploy","Detail":"{\"env\":\"prod\",\"app\":\"web\"}"},{"Source":"com.example.ci","DetailType":"Deploy","Detail":"{\"env\":\"dev\"}"}]' > put.json
for _ in $(seq 100); do [ -s got.jsonl ] && break; sleep 0.1; done
[ -s got.jsonl ] || fail "no delivery reached the receiver"
sleep 2
[ "$(wc -l < got.jsonl)" = 1 ] || fail "the receiver got $(wc -l < got.jsonl) deliveries, want 1"
grep -q '"app":"web"' got.jsonl || fail "the delivery is not the prod event"

# 5. Mistakes.
expect_error InvalidEventPatternException events put-rule --name bad --event-pattern '{"source":"com.example"}'
expect_error ValidationException events delete-rule --name deploys
expect_error ResourceNotFoundException events describe-rule --name missing
events remove-targets --rule deploys --ids receiver > /dev/null
events delete-rule --name deploys
expect_error ConcurrentModificationException events delete-connection --name receiver   # an API destination uses it
events delete-api-destination --name receiver
[ "$(events delete-connection --name receiver --query ConnectionState --output text)" = DELETING ] || fail "delete-connection"
expect_error ResourceNotFoundException events describe-connection --name receiver
echo "events OK"
