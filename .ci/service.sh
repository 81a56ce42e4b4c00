#!/usr/bin/env bash
# Checks cgihttpd as a service, on Debian as root, after .ci/release.sh has built dist/:
#   1. socket activation: the Go tests that run cgihttpd under systemd-socket-activate, which
#      must run here, not skip;
#   2. the packages: both .deb and both .rpm hold what they should, with their scripts;
#   3. this machine's .deb: dpkg -i makes the cgihttpd account; the unit's ExecStart runs by
#      hand (no systemd as PID 1 here), plainly and then under systemd-socket-activate with
#      cgihttpd.socket's ListenStream, each serving a file and a script that runs as
#      cgihttpd; then dpkg -r and dpkg -P take everything away again.
# The servers run in a network namespace of their own (unshare -n), so the unit's fixed port
# 8000 is free whatever else this machine runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
start=$SECONDS
fail() { echo "service.sh: FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - start))"; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i, and scripts drop to the cgihttpd account)"
need=()
command -v systemd-socket-activate >/dev/null 2>&1 || need+=(systemd)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v rpm >/dev/null 2>&1 || need+=(rpm) # only to read the .rpm files
if [ "${#need[@]}" -gt 0 ]; then
  step "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

step "socket activation tests (systemd-socket-activate)"
out=$(go test -count=1 -v -run '^(TestSocketActivation|TestListenersWithoutActivation$|TestFileListener$)' ./cmd/cgihttpd 2>&1) ||
  { echo "$out"; fail "socket activation tests"; }
echo "$out" | grep -E '^(---|ok)'
! grep -q -- '--- SKIP' <<<"$out" || fail "socket activation tests skipped here"
[ "$(grep -c -- '^--- PASS: TestSocketActivation' <<<"$out")" -eq 3 ] || fail "the three socket activation tests did not all pass"

step "package contents"
[ -f dist/metadata.json ] || fail "no dist/: run .ci/release.sh first"
# deb: the one package of this name and architecture in dist/.
deb_for() {
  local found
  found=$(compgen -G "dist/cgihttpd_*_$1.deb") || fail "no .deb for $1 (dist holds: $(ls dist))"
  [ "$(wc -l <<<"$found")" = 1 ] || fail "more than one .deb for $1: $found"
  echo "$found"
}
want_files=(
  ./usr/bin/cgihttpd
  ./lib/systemd/system/cgihttpd.service
  ./lib/systemd/system/cgihttpd.socket
  ./usr/share/man/man1/cgihttpd.1.gz
  ./usr/share/bash-completion/completions/cgihttpd
  ./usr/share/zsh/vendor-completions/_cgihttpd
  ./usr/share/fish/vendor_completions.d/cgihttpd.fish
  ./usr/share/doc/cgihttpd/copyright
)
for arch in amd64 arm64; do
  deb=$(deb_for "$arch")
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb is not for $arch"
  list=$(dpkg-deb -c "$deb" | awk '{print $NF}')
  for f in "${want_files[@]}"; do
    grep -qxF "$f" <<<"$list" || fail "$deb does not hold $f"
  done
  [ -s "dist/$(basename "$deb").cdx.json" ] || fail "no SBOM for $deb"
done
want_rpm_files=(
  /usr/bin/cgihttpd
  /usr/lib/systemd/system/cgihttpd.service
  /usr/lib/systemd/system/cgihttpd.socket
  /usr/share/man/man1/cgihttpd.1.gz
  /usr/share/bash-completion/completions/cgihttpd
  /usr/share/zsh/site-functions/_cgihttpd
  /usr/share/fish/vendor_completions.d/cgihttpd.fish
  /usr/share/licenses/cgihttpd/LICENSE
)
for arch in x86_64 aarch64; do
  rpm=$(compgen -G "dist/cgihttpd-*.${arch}.rpm") || fail "no .rpm for $arch"
  [ "$(rpm -qp --qf '%{ARCH}' "$rpm")" = "$arch" ] || fail "$rpm is not for $arch"
  list=$(rpm -qpl "$rpm")
  for f in "${want_rpm_files[@]}"; do
    grep -qxF "$f" <<<"$list" || fail "$rpm does not hold $f"
  done
  scripts=$(rpm -qp --scripts "$rpm")
  for s in postinstall preuninstall postuninstall; do
    grep -q "^$s scriptlet" <<<"$scripts" || fail "$rpm has no $s scriptlet"
  done
  grep -q 'useradd --system' <<<"$scripts" || fail "$rpm's postinstall makes no account"
  [ -s "$rpm.cdx.json" ] || fail "no SBOM for $rpm"
done
echo "debs and rpms for amd64 and arm64, each with its SBOM"

arch=$(dpkg --print-architecture)
deb=$(deb_for "$arch")
account_before=$(getent passwd cgihttpd || true)
cleanup() {
  dpkg -P cgihttpd >/dev/null 2>&1 || true
  rm -rf /srv/cgihttpd/index.html /srv/cgihttpd/cgi-bin
  rmdir /srv/cgihttpd 2>/dev/null || true
  if [ -z "$account_before" ] && getent passwd cgihttpd >/dev/null; then userdel cgihttpd; fi
  if getent group cgihttpd >/dev/null && [ -z "$account_before" ]; then groupdel cgihttpd 2>/dev/null || true; fi
}
trap cleanup EXIT

step "dpkg -i $deb"
if dpkg -s cgihttpd >/dev/null 2>&1; then fail "a cgihttpd package is installed already"; fi
dpkg -i "$deb"
account=$(getent passwd cgihttpd) || fail "the package made no cgihttpd account"
IFS=: read -r _ _ uid _ _ home shell <<<"$account"
echo "account: $account"
[ "$uid" -lt 1000 ] || fail "cgihttpd is not a system account (uid $uid)"
[ "$shell" = /usr/sbin/nologin ] || fail "cgihttpd has a login shell ($shell)"
[ ! -e "$home" ] || fail "cgihttpd's home $home exists"
/usr/bin/cgihttpd --version
# Generated from the flag definitions: each names a flag that every version has.
man=$(zcat /usr/share/man/man1/cgihttpd.1.gz)
grep -q '^\.TH' <<<"$man" || fail "the man page is not troff"
grep -q 'cgi\\\?-dir' <<<"$man" || fail "the man page does not document --cgi-dir"
bash -n /usr/share/bash-completion/completions/cgihttpd || fail "the bash completion does not parse"
for f in /usr/share/bash-completion/completions/cgihttpd /usr/share/zsh/vendor-completions/_cgihttpd \
  /usr/share/fish/vendor_completions.d/cgihttpd.fish; do
  grep -q cgihttpd "$f" || fail "$f does not complete cgihttpd"
done
if command -v systemd-analyze >/dev/null 2>&1; then
  # Offline: it checks syntax and that ExecStart names an executable (the man page is checked
  # above, without depending on man-db).
  systemd-analyze verify --man=no /lib/systemd/system/cgihttpd.service /lib/systemd/system/cgihttpd.socket
fi

# The site the unit serves: a file, and a script that says who runs it.
mkdir -p /srv/cgihttpd/cgi-bin
echo "packaged cgihttpd" >/srv/cgihttpd/index.html
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\necho "user=$(id -un)"\n' >/srv/cgihttpd/cgi-bin/whoami.sh
chmod 0755 /srv/cgihttpd/cgi-bin/whoami.sh

# ExecStart (joined across trailing backslashes), split on blanks: it has no quotes.
execstart=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' /lib/systemd/system/cgihttpd.service | sed -n 's/^ExecStart=//p')
listen=$(sed -n 's/^ListenStream=//p' /lib/systemd/system/cgihttpd.socket)
if [ -z "$execstart" ] || [ "$(wc -l <<<"$listen")" != 1 ]; then fail "ExecStart or ListenStream not found"; fi
echo "ExecStart: $execstart"
echo "ListenStream: $listen"

step "the unit's ExecStart by hand, plain and socket-activated (unshare -n)"
logdir=$(mktemp -d)
unshare -n env EXECSTART="$execstart" LISTEN="$listen" LOGDIR="$logdir" bash -euo pipefail -c '
  ip link set lo up
  read -r -a argv <<<"$EXECSTART"
  host=${LISTEN%:*} port=${LISTEN##*:}
  get() { # path: the response, or nothing; connecting also starts a socket-activated server
    { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 0
    printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$1" >&3
    timeout 20 cat <&3 || true
    exec 3<&-
  }
  check() { # name, then the command line to run
    local name=$1; shift
    "$@" >"$LOGDIR/$name.log" 2>&1 &
    local pid=$! body="" i
    for i in $(seq 1 100); do
      body=$(get /index.html)
      [ -n "$body" ] && break
      sleep 0.2
    done
    grep -q "packaged cgihttpd" <<<"$body" || { cat "$LOGDIR/$name.log"; echo "$name: / answered: $body"; exit 1; }
    body=$(get /cgi-bin/whoami.sh)
    grep -q "user=cgihttpd" <<<"$body" || { cat "$LOGDIR/$name.log"; echo "$name: whoami.sh answered: $body"; exit 1; }
    kill -TERM "$pid"
    wait "$pid" || { cat "$LOGDIR/$name.log"; echo "$name: exit $? after SIGTERM"; exit 1; }
    echo "$name: served the file and the script (as cgihttpd), stopped cleanly on SIGTERM"
  }
  check plain "${argv[@]}"
  check socket-activated systemd-socket-activate -l "$LISTEN" -E PATH "${argv[@]}"
  grep -q "using the sockets the service manager passed" "$LOGDIR/socket-activated.log" ||
    { cat "$LOGDIR/socket-activated.log"; echo "socket-activated: cgihttpd did not use the passed socket"; exit 1; }
' || fail "the unit's ExecStart (logs in $logdir)"
rm -rf "$logdir"

step "dpkg -r, dpkg -P"
rm -rf /srv/cgihttpd/index.html /srv/cgihttpd/cgi-bin
dpkg -r cgihttpd
for f in /usr/bin/cgihttpd /lib/systemd/system/cgihttpd.service /lib/systemd/system/cgihttpd.socket /usr/share/man/man1/cgihttpd.1.gz /srv/cgihttpd; do
  [ ! -e "$f" ] || fail "$f is still there after dpkg -r"
done
dpkg -P cgihttpd
! dpkg -s cgihttpd >/dev/null 2>&1 || fail "dpkg still knows cgihttpd after dpkg -P"
echo "removed and purged; the account stays, as Debian's policy asks"

echo "service.sh: ok in $((SECONDS - start))s"
