#!/usr/bin/env bash
# Checks the hosted-CI workflow (.github/workflows/ci.yml), which nothing here runs:
#   1. actionlint (pinned; go install into a temporary GOBIN, so not a go.mod requirement),
#      with shellcheck from Debian so that the run: scripts are checked too;
#   2. its macOS and Windows jobs run exactly the test commands the README gives for them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
actionlint_version=v1.7.12
fail() { echo "workflow.sh: FAIL: $*" >&2; exit 1; }

if ! command -v shellcheck >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends shellcheck >/dev/null
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version"
"$bin/actionlint" -version | head -1
"$bin/actionlint" -shellcheck "$(command -v shellcheck)" .github/workflows/ci.yml
echo "actionlint: no findings"

# README, section Development: a table row "| OS | `command` ..." per OS.
readme_command() {
  local cmd
  cmd=$(sed -n "s/^| $1 | \`\\([^\`]*\\)\`.*/\\1/p" README.md)
  if [ -z "$cmd" ] || [ "$(wc -l <<<"$cmd")" != 1 ]; then fail "README.md has no single test command row for $1"; fi
  echo "$cmd"
}
# ci.yml: the run: of the test matrix entry with this name.
workflow_command() {
  local cmd
  cmd=$(awk -v name="$1" '
    $1 == "-" && $2 == "name:" { current = $3; next }
    $1 == "run:" && current == name { sub(/^[ \t]*run:[ \t]*/, ""); print; current = "" }
  ' .github/workflows/ci.yml)
  if [ -z "$cmd" ] || [ "$(wc -l <<<"$cmd")" != 1 ]; then fail "ci.yml has no single test matrix entry named $1"; fi
  echo "$cmd"
}
for pair in "macOS:macos" "Windows:windows"; do
  os=${pair%%:*} job=${pair#*:}
  want=$(readme_command "$os")
  got=$(workflow_command "$job")
  [ "$got" = "$want" ] || fail "ci.yml's $job job runs '$got'; README.md gives '$want' for $os"
  echo "$os: $got"
done
echo "workflow.sh: ok"
