#!/usr/bin/env bash
# Issue 20's checks with the real programs: git push over HTTP through git-http-backend with
# --auth-file and --cgi-ext, and htpasswd files written by Debian's htpasswd in every form.
# Installs git and apache2-utils (htpasswd) when missing; a test that would skip for want of
# them fails here instead. Then prints the answer times of a wrong password and of an unknown
# user (medians and their ratio; a measurement, not an assertion).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

if ! command -v htpasswd >/dev/null 2>&1 || ! command -v git >/dev/null 2>&1 ||
  [ ! -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    git apache2-utils >/dev/null
fi

out=$(go test -count=1 -race -v -run '^(TestGitPushThroughHTTPBackend|TestHtpasswdForms)$' ./server 2>&1) || {
  echo "$out"; exit 1
}
echo "$out" | grep -E '^(--- |ok|PASS)'
if echo "$out" | grep -q -- '--- SKIP'; then
  echo "auth.sh: FAIL: a test skipped" >&2; exit 1
fi
for t in TestGitPushThroughHTTPBackend TestHtpasswdForms; do
  echo "$out" | grep -q -- "--- PASS: $t " || { echo "auth.sh: FAIL: $t did not pass" >&2; exit 1; }
done

echo "wrong password vs unknown user (bcrypt cost 5; medians in ns, unknown/wrong near 1):"
go test -run '^$' -bench '^BenchmarkAuthFailure$' -benchtime 300x -count 3 ./server | grep '^BenchmarkAuthFailure'
