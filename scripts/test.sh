#!/usr/bin/env bash
# test.sh is Tailor's one test command; CI runs it through .ci/run.
#
# It works on a fresh Debian machine with Go and Node (run as root, or with
# sudo for apt-get): it installs what the end-to-end tests need (Debian's
# chromium, the npm packages of test/sdk), then runs go vet, a gofmt check and
# every Go test with the race detector. TAILOR_E2E_REQUIRE=1 makes a test whose
# prerequisite is missing fail instead of skip, so a skip never passes CI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

for tool in go node npm; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH"
done
step "toolchain: $(go version), node $(node --version), npm $(npm --version)"

# Chromium drives analytics.js in TestAnalyticsBrowser.
chromium=${TAILOR_E2E_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  step "installing chromium with apt-get ($chromium is missing)"
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "installing chromium needs root or sudo"
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends chromium fonts-liberation
fi
step "browser: $("$chromium" --version 2>/dev/null || echo "$chromium")"

# The Segment SDKs the end-to-end tests drive, at the versions package-lock.json pins.
sdk=test/sdk
stamp=$sdk/node_modules/.tailor-lock-sum
want=$(cat "$sdk/package.json" "$sdk/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  step "npm ci in $sdk (node_modules missing or stale)"
  (cd "$sdk" && npm ci --no-audit --no-fund)
  echo "$want" >"$stamp"
else
  step "npm packages in $sdk are up to date"
fi

# Mailpit is the real SMTP server of the delivery tests: built from
# tools/mailpit (its go.mod pins the version), never checked in.
mailpit_dir=$(mktemp -d)
step "go build mailpit (tools/mailpit) into $mailpit_dir"
(cd tools/mailpit && go build -o "$mailpit_dir/mailpit" github.com/axllent/mailpit)
export TAILOR_E2E_MAILPIT="$mailpit_dir/mailpit"

step "go vet ./..."
go vet ./...

step "gofmt check"
unformatted=$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then
  printf 'gofmt needed on:\n%s\n' "$unformatted" >&2
  exit 1
fi

# The race detector covers the test processes; the e2e tests run the tailor
# binary they build without it (see test/e2e/doc.go).
step "go test -race ./... (TAILOR_E2E_REQUIRE=1)"
# -v is needed to count tests; the full log is kept and only package lines and
# failures are printed, followed by the count.
log=$(mktemp)
trap 'rm -f "$log"; rm -rf "$mailpit_dir"' EXIT
status=0
TAILOR_E2E_REQUIRE=1 go test -race -count=1 -timeout 20m -v ./... >"$log" 2>&1 || status=$?
grep -E '^(ok|FAIL|\?|panic:)' "$log" || true
if [ "$status" != 0 ]; then
  printf '\n--- failing output ---\n'
  # With -v a test's own output comes before its "--- FAIL" line: print, for
  # each failed test, the end of what it printed between its "=== RUN" and
  # that line (where the reason is), then the line itself.
  failed_tests=$(sed -nE 's/^\s*--- FAIL: ([^ ]+) .*/\1/p' "$log" | sort -u)
  if [ -z "$failed_tests" ]; then
    tail -100 "$log"
  fi
  for name in $failed_tests; do
    printf '\n--- %s (the last 120 lines it printed) ---\n' "$name"
    awk -v n="$name" '$0 ~ "^=== RUN +"n"$" {on=1; buf=""; c=0} on {lines[c++ % 120]=$0} $0 ~ "^ *--- FAIL: "n" " {on=0; s=(c>120?c-120:0); for (i=s;i<c;i++) print lines[i % 120]; c=0}' "$log"
  done
fi
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
printf '\ntests: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
[ "$status" = 0 ] || exit "$status"

step "all tests passed in $(($(date +%s) - start))s"
