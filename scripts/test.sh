#!/usr/bin/env bash
# Runs Sigil's whole test suite, installing what it needs first:
#   - Debian packages the tests drive (openssl, the AWS CLI v2 "awscli"),
#     with apt-get when they are missing;
#   - staticcheck, pinned, through the Go module proxy.
# Every test runs with the race detector; each fuzz target gets a short run.
#
# Usage: scripts/test.sh          (or: make test)
#        FUZZTIME=30s scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
STATICCHECK_VERSION=v0.8.2
FUZZTIME=${FUZZTIME:-5s}

# 1. Debian packages.
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
/usr/bin/aws --version 2>&1 | grep -q '^aws-cli/2' || missing+=(awscli)
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Go (1.26 or newer; an older go fetches the right toolchain itself).
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH=$PATH:/usr/local/go/bin; else
    echo "Go 1.26 or newer is required (https://go.dev/dl/); none was found." >&2; exit 1
  fi
fi
go version

# 3. Static checks.
say "gofmt"
unformatted=$(gofmt -l cmd internal test)
if [ -n "$unformatted" ]; then echo "gofmt would change:" "$unformatted" >&2; exit 1; fi
say "go vet"
go vet ./...
say "staticcheck $STATICCHECK_VERSION"
tools="$PWD/bin/tools"
if ! "$tools/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  GOBIN="$tools" GOFLAGS=-buildvcs=false go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
"$tools/staticcheck" ./...

# 4. Tests: unit, store conformance, integration (real server, AWS SDK,
#    AWS CLI, openssl, zlint), layering — all under the race detector.
say "go test -race ./..."
go test -race -count=1 -timeout 20m ./...

# 5. A short run of every fuzz target.
say "fuzzing ($FUZZTIME per target)"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "-- $pkg $target"
    if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1); then
      echo "$out" >&2
      echo "fuzzing $target failed; the failing input is saved under testdata/fuzz/$target" >&2
      exit 1
    fi
  done
done

say "all tests passed"
