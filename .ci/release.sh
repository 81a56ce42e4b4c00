#!/usr/bin/env bash
# Builds the release archives and the .deb and .rpm packages as a snapshot with GoReleaser
# (.goreleaser.yaml) into dist/, then checks them: the six archives, the four packages, an SBOM
# beside each, and checksums.txt exist, the checksums verify, every archive holds the binary,
# README.md and LICENSE, and this machine's binary, taken out of its archive, prints the
# snapshot version and the commit with --version. Publishes nothing. .ci/service.sh then
# installs and runs this machine's .deb.
#
# GoReleaser is run as `go run github.com/goreleaser/goreleaser/v2@VERSION`: pinned, fetched
# through the Go module proxy and compiled once into the build cache, and not a requirement of
# go.mod. A cold module cache compiles it (minutes); after that it starts at once. The SBOM
# tool, cyclonedx-gomod, is installed the same way (pinned, go install into a temporary
# GOBIN). It reads the repository with go-git, which does not follow `git worktree`
# checkouts: run this in a clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

goreleaser_version=v2.15.1
cyclonedx_gomod_version=v1.10.0
start=$SECONDS
fail() { echo "release.sh: FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - start))"; }

step "goreleaser $goreleaser_version"
goreleaser() { go run "github.com/goreleaser/goreleaser/v2@$goreleaser_version" "$@"; }
goreleaser --version | grep -F "GitVersion:    $goreleaser_version" || fail "goreleaser is not $goreleaser_version"
[ -d .git ] || fail "run in a clone, not a git worktree: cyclonedx-gomod (go-git) cannot read a worktree's repository"
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
GOBIN=$tools go install "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$cyclonedx_gomod_version"
export PATH="$tools:$PATH"
ready=$SECONDS
echo "goreleaser and cyclonedx-gomod $cyclonedx_gomod_version ready in $((ready - start))s"

# GoReleaser reads the commit with git but drops it all ("none") when `git ls-remote --get-url`
# fails, as it does in a clone without a remote. Such a clone gets one for this run only, from
# the environment: the repository itself (--get-url only prints the URL; nothing is contacted).
if [ -z "$(git remote)" ]; then
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0="$PWD"
fi
commit=$(git rev-parse --short HEAD)
gomod_before=$(cat go.mod go.sum | sha256sum)

step "goreleaser check"
goreleaser check # fails on a deprecated or unknown key too

step "goreleaser release --snapshot --clean --skip=publish"
goreleaser release --snapshot --clean --skip=publish
built=$SECONDS
echo "release built in $((built - ready))s"

step "checks"
[ "$(cat go.mod go.sum | sha256sum)" = "$gomod_before" ] || fail "the release changed go.mod or go.sum"
[ -f dist/metadata.json ] || fail "dist/metadata.json missing"
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
case "$version" in
  *-SNAPSHOT-"$commit") echo "snapshot version $version" ;;
  *) fail "snapshot version '$version' does not end in -SNAPSHOT-$commit (dist/metadata.json)" ;;
esac

archives=()
for os in linux darwin windows; do
  for arch in amd64 arm64; do
    ext=tar.gz exe=cgihttpd
    if [ "$os" = windows ]; then ext=zip exe=cgihttpd.exe; fi
    archive="cgihttpd_${version}_${os}_${arch}.$ext"
    [ -s "dist/$archive" ] || fail "dist/$archive missing"
    if [ "$ext" = zip ]; then
      list=$(unzip -Z1 "dist/$archive")
    else
      list=$(tar -tzf "dist/$archive")
    fi
    for want in "$exe" README.md LICENSE; do
      grep -qx "$want" <<<"$list" || fail "$archive does not hold $want (it holds: ${list//$'\n'/ })"
    done
    archives+=("$archive")
  done
done
echo "archives: ${archives[*]}"

packages=()
for pattern in "cgihttpd_*_amd64.deb" "cgihttpd_*_arm64.deb" "cgihttpd-*.x86_64.rpm" "cgihttpd-*.aarch64.rpm"; do
  found=$(cd dist && compgen -G "$pattern") || fail "no package $pattern in dist/"
  [ "$(wc -l <<<"$found")" = 1 ] || fail "more than one $pattern: $found"
  packages+=("$found")
done
echo "packages: ${packages[*]}"
sboms=()
for a in "${archives[@]}" "${packages[@]}"; do
  sbom="$a.cdx.json"
  grep -q '"bomFormat": *"CycloneDX"' "dist/$sbom" || fail "dist/$sbom is missing or not a CycloneDX SBOM"
  grep -q '"name": *"github.com/hashicorp/go-hclog"' "dist/$sbom" || fail "dist/$sbom does not list the modules"
  sboms+=("$sbom")
done
echo "SBOMs: ${#sboms[@]}"

[ -s dist/checksums.txt ] || fail "dist/checksums.txt missing"
listed=$(awk '{print $2}' dist/checksums.txt | sort)
expected=$(printf '%s\n' "${archives[@]}" "${packages[@]}" "${sboms[@]}" | sort)
[ "$listed" = "$expected" ] || fail "checksums.txt does not list exactly the archives, packages and SBOMs: $(diff <(echo "$expected") <(echo "$listed") || true)"
(cd dist && sha256sum --check --strict checksums.txt) || fail "checksums.txt does not verify"

# This machine's binary, as the archive ships it.
host="$(go env GOHOSTOS)_$(go env GOHOSTARCH)"
case "$host" in linux_amd64 | linux_arm64 | darwin_amd64 | darwin_arm64) ;; *) fail "no archive to run on $host" ;; esac
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked" "$tools"' EXIT
tar -xzf "dist/cgihttpd_${version}_${host}.tar.gz" -C "$unpacked" cgihttpd
out=$("$unpacked/cgihttpd" --version) || fail "cgihttpd --version exited $?"
echo "$host: $out"
grep -qF "cgihttpd $version (commit $commit, built " <<<"$out" ||
  fail "--version of the $host binary does not name version $version and commit $commit: $out"

echo "release.sh: ok: goreleaser ${goreleaser_version} ready in $((ready - start))s, release built in $((built - ready))s, total $((SECONDS - start))s"
