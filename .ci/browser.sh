#!/usr/bin/env bash
# The browser end-to-end test (e2e/, a module of its own): headless Chromium walks the example
# site served by the real cgihttpd binary, over HTTP and over HTTPS (HTTP/2). Installs
# Debian's chromium first if it is missing; if it cannot be installed, says so loudly and
# exits 0. Screenshots go to $CGIHTTPD_ARTIFACTS
# (default: a new temporary directory), printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

since() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", e - s }'; }
loud() {
  local bar='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
  printf '\n%s\n!! %s\n%s\n\n' "$bar" "$*" "$bar"
}

all_start=$EPOCHREALTIME
printf '\n== browser test: chromium\n'
if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed"
else
  install_start=$EPOCHREALTIME
  log=$(mktemp)
  if ! { apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
           --no-install-recommends chromium; } >"$log" 2>&1; then
    tail -n 20 "$log"
    rm -f "$log"
    loud "SKIPPING browser test: chromium could not be installed (apt-get failed after $(since "$install_start"))"
    exit 0
  fi
  rm -f "$log"
  echo "installed chromium in $(since "$install_start")"
fi
/usr/bin/chromium --version || true

printf '\n== browser test: go test (e2e/)\n'
: "${CGIHTTPD_ARTIFACTS:=$(mktemp -d "${TMPDIR:-/tmp}/cgihttpd-browser-artifacts.XXXXXX")}"
export CGIHTTPD_ARTIFACTS
test_start=$EPOCHREALTIME
status=0
(cd e2e && go test -count=1 -timeout 10m -run '^TestBrowser$' -v ./...) || status=$?
echo "browser test: $(since "$test_start") (exit $status); whole step: $(since "$all_start")"
echo "screenshots: $CGIHTTPD_ARTIFACTS"
ls -l "$CGIHTTPD_ARTIFACTS"
exit "$status"
