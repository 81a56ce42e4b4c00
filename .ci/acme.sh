#!/usr/bin/env bash
# ACME end to end, with no outside network: e2e/TestACMEWithPebble builds Let's Encrypt's
# pebble (a tool line in e2e/go.mod, so it is not a dependency of cgihttpd) and the real
# cgihttpd, runs pebble on loopback with a certificate the test makes, and has cgihttpd obtain
# a certificate for localhost over HTTP-01, serve with it and renew it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
start=$SECONDS
(cd e2e && go test -count=1 -timeout 5m -run '^TestACMEWithPebble$' -v ./...)
echo "ACME step: $((SECONDS - start))s"
