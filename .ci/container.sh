#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2054 # sh -c '$(...)' expands in the container; --cap-add takes commas
# Builds the cgihttpd container image (packaging/container/Containerfile) with Debian's podman,
# saves it as an OCI archive in dist/, loads that archive back and tests it under Podman run as
# the README's "Running in a container" documents: every capability dropped but SETUID, SETGID
# and KILL, no new privileges, a read-only root and a tmpfs /tmp, a site mounted read-only. Then
# it checks a static file, a CGI script's uid (65534), a POST, /healthz, the capabilities the
# server really holds, that scripts' orphans are reaped, that `podman stop` drains a running
# script and exits 0, that `--user 65534:65534` needs no /etc/passwd, and the image run as
# 65534 with no capability at all. Before all that, the README's Kubernetes example is decoded
# strictly and checked against cgihttpd's flags and these settings. Pushes nothing.
#
# Run it after .ci/release.sh (or a tagged GoReleaser release): GoReleaser's --clean empties
# dist/. The image's version is CGIHTTPD_VERSION if set, else the release's (dist/metadata.json)
# when that was built from this commit, else 0.0.0-dev-COMMIT. The binary is built here, with
# the release's flags, not taken from GoReleaser's output. linux/amd64 only (the README says
# why).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

start=$SECONDS
fail() { echo "container.sh: FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - start))"; }

# This Debian 12 machine needs runc (crun rejects its hybrid cgroups), cgroupfs, and rlimits
# below its hard limits; none of that is part of the least-privilege settings below.
podman=(podman --runtime runc --cgroup-manager cgroupfs)
host_limits=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
# The least-privilege settings, exactly as the README gives them (checked below).
least_privilege=(
  --cap-drop=all --cap-add=SETUID,SETGID,KILL
  --security-opt=no-new-privileges
  --read-only --tmpfs /tmp:rw,noexec,nosuid,nodev,size=256m
)
# Above --shutdown-grace (20s below), so that `podman stop` lets running scripts finish.
stop_timeout=(--stop-timeout 30)
server_args=(--status-addr 0.0.0.0:9000 --limit-nproc 64 --shutdown-grace 20s)

step "podman"
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq podman runc >/dev/null
fi
podman --version

for line in "--cap-drop=all --cap-add=SETUID,SETGID,KILL" "--security-opt=no-new-privileges" \
  "--read-only --tmpfs /tmp:rw,noexec,nosuid,nodev,size=256m" "--stop-timeout 30" \
  "${server_args[*]}"; do
  grep -qF -- "$line" README.md || fail "README.md does not give '$line', which this script runs"
done

step "the README's Kubernetes example (packaging/container/kube)"
# A module of its own: the Kubernetes API types are no dependency of cgihttpd.
(cd packaging/container/kube && go mod tidy -diff && go vet ./... && go test -count=1 ./...)

commit=$(git rev-parse --short HEAD)
version=${CGIHTTPD_VERSION:-}
if [ -z "$version" ] && [ -f dist/metadata.json ] &&
  grep -qF "\"commit\":\"$(git rev-parse HEAD)\"" dist/metadata.json; then
  version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
fi
version=${version:-0.0.0-dev-$commit}
created=$(git log -1 --format=%cI HEAD)
image="localhost/cgihttpd:$version"
archive="dist/cgihttpd_${version}_linux_amd64.oci.tar"
echo "image $image, archive $archive"

work=$(mktemp -d)
names=()
cleanup() {
  for n in "${names[@]}"; do "${podman[@]}" rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "build context"
# Debian's static busybox (/bin/sh and the applets) and tini, downloaded, not installed: the
# host's own busybox stays as it is.
mkdir -p "$work/debs" "$work/ctx/root/etc"
download() { (cd "$work/debs" && apt-get -o APT::Sandbox::User=root download -qq busybox-static tini ca-certificates); }
download 2>/dev/null || { apt-get update -qq && download; }
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/debs/x"
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
done
install -m 0755 "$work/debs/x/bin/busybox" "$work/ctx/busybox"
install -m 0755 "$work/debs/x/usr/bin/tini-static" "$work/ctx/tini"
# The applets' links where busybox puts them (bin/sh, usr/bin/env …), made here rather than by
# a RUN step, so that the build runs nothing inside the image.
for p in $("$work/ctx/busybox" --list-full); do
  case $p in bin/busybox | linuxrc) continue ;; esac
  mkdir -p "$work/ctx/root/${p%/*}"
  ln -s /bin/busybox "$work/ctx/root/$p"
done
install -m 0644 packaging/container/passwd packaging/container/group "$work/ctx/root/etc/"
cp LICENSE "$work/ctx/root/LICENSE"
# Mozilla's roots from Debian's ca-certificates, where Go looks first on Linux: for ACME's CA and
# for scripts' own HTTPS clients.
mkdir -p "$work/ctx/root/etc/ssl/certs"
cat "$work"/debs/x/usr/share/ca-certificates/mozilla/*.crt >"$work/ctx/root/etc/ssl/certs/ca-certificates.crt"
[ "$(grep -c 'BEGIN CERTIFICATE' "$work/ctx/root/etc/ssl/certs/ca-certificates.crt")" -gt 100 ] ||
  fail "too few CA certificates"
# Their Debian copyright files travel with them: busybox is GPL-2.0-only, tini MIT (Expat), the
# CA certificates MPL-2.0.
for pkg in busybox-static tini ca-certificates; do
  install -D -m 0644 "$work/debs/x/usr/share/doc/$pkg/copyright" "$work/ctx/root/usr/share/doc/$pkg/copyright"
done
cp -R examples/site "$work/ctx/site"
chmod -R a+rX,go-w "$work/ctx/site"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
  -ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.date=$created" \
  -o "$work/ctx/cgihttpd" ./cmd/cgihttpd

step "podman build"
podman build -q --pull=never -f packaging/container/Containerfile -t "$image" \
  --build-arg VERSION="$version" --build-arg REVISION="$(git rev-parse HEAD)" \
  --build-arg CREATED="$created" "$work/ctx"

step "OCI archive"
mkdir -p dist
rm -f "$archive"
podman save -q --format oci-archive -o "$archive" "$image"
(cd dist && sha256sum "${archive#dist/}" >"${archive#dist/}.sha256")
ls -l "$archive"
# From here on the image under test is the one the archive holds.
podman rmi -f "$image" >/dev/null
podman load -q -i "$archive"

step "image metadata"
inspect() { podman image inspect --format "$1" "$image"; }
[ "$(inspect '{{index .Labels "org.opencontainers.image.version"}}')" = "$version" ] || fail "version label"
[ "$(inspect '{{index .Labels "org.opencontainers.image.revision"}}')" = "$(git rev-parse HEAD)" ] || fail "revision label"
[ "$(inspect '{{index .Labels "org.opencontainers.image.licenses"}}')" = "BSD-3-Clause AND GPL-2.0-only AND MIT AND MPL-2.0" ] ||
  fail "licence label"
inspect '{{index .Labels "org.opencontainers.image.source"}}' | grep -q '^https://' || fail "source label"
[ "$(inspect '{{.Config.StopSignal}}')" = SIGTERM ] || fail "stop signal: $(inspect '{{.Config.StopSignal}}')"
inspect '{{.Config.ExposedPorts}}' | grep -q '8000/tcp' || fail "EXPOSE 8000"
inspect '{{.Config.Entrypoint}}' | grep -q -- '--bind 0.0.0.0' || fail "entrypoint binds 0.0.0.0: $(inspect '{{.Config.Entrypoint}}')"
out=$("${podman[@]}" run --rm "${host_limits[@]}" "$image" --version) || fail "--version: $out"
grep -qF "cgihttpd $version (commit $commit, " <<<"$out" || fail "--version in the image: $out"
echo "labels, stop signal, ports and entrypoint ok; $(inspect '{{.Size}}') bytes"
echo "$out"

step "the site"
site="$work/site"
cp -R examples/site "$site"
cat >"$site/cgi-bin/whoami.sh" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
printf 'uid=%s gid=%s groups=%s nproc=%s\n' "$(id -u)" "$(id -g)" "$(id -G)" "$(ulimit -u)"
EOF
cat >"$site/cgi-bin/count.sh" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n%s %s\n' "$CONTENT_LENGTH" "$(wc -c | tr -d ' ')"
EOF
cat >"$site/cgi-bin/slow.sh" <<'EOF'
#!/bin/sh
sleep 3
printf 'Content-Type: text/plain\n\nslow done\n'
EOF
cat >"$site/cgi-bin/orphan.sh" <<'EOF'
#!/bin/sh
# Two children outlive the script. The server kills the one in its process group; the one
# that left it (no cgroup in here) ends by itself. Both must then be reaped, not left zombies.
(sleep 30 >/dev/null 2>&1 &)
(setsid sleep 1 >/dev/null 2>&1 &)
printf 'Content-Type: text/plain\n\norphans left\n'
EOF
chmod -R a+rX,go-w "$site"
chmod 755 "$site"/cgi-bin/*.sh

step "run with least privilege"
name="cgihttpd-ci-$$"
names+=("$name")
"${podman[@]}" run -d --name "$name" "${host_limits[@]}" "${least_privilege[@]}" "${stop_timeout[@]}" \
  -v "$site:/srv/www:ro" -p 127.0.0.1::8000 -p 127.0.0.1::9000 \
  "$image" "${server_args[@]}" >/dev/null
port=$("${podman[@]}" port "$name" 8000/tcp | sed 's/.*://')
status_port=$("${podman[@]}" port "$name" 9000/tcp | sed 's/.*://')
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$status_port/healthz" 2>/dev/null && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$status_port/healthz" >/dev/null || fail "/healthz: $("${podman[@]}" logs "$name" 2>&1)"
echo "serving on $base, status on $status_port"

got=$(curl -fsS "$base/files/hello.txt") || fail "GET a static file"
[ "$got" = "$(cat "$site/files/hello.txt")" ] || fail "static file differs: $got"
got=$(curl -fsS "$base/cgi-bin/whoami.sh") || fail "GET a CGI script"
[ "$got" = "uid=65534 gid=65534 groups=65534 nproc=64" ] || fail "the script ran as: $got"
echo "script: $got"
got=$(curl -fsS --data-urlencode 'name=Ada <Lovelace>' --data-urlencode 'message=1 + 1' "$base/cgi-bin/form.sh") ||
  fail "POST a form"
grep -qF 'Ada &lt;Lovelace&gt;' <<<"$got" || fail "POSTed field not in the answer: $got"
grep -qF '1 + 1' <<<"$got" || fail "POSTed field not in the answer: $got"
echo "POST form ok"
# A chunked body has no length: past 1 MiB it is spooled to a file in /tmp, the tmpfs.
head -c 3145728 /dev/zero >"$work/body"
got=$(curl -fsS -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/octet-stream' \
  --data-binary @"$work/body" "$base/cgi-bin/count.sh") || fail "chunked POST"
[ "$got" = "3145728 3145728" ] || fail "the spooled body reached the script as: $got"
echo "a 3 MiB chunked body spooled through /tmp"
caps=$("${podman[@]}" exec "$name" sh -c 'grep -E "^Cap(Eff|Bnd)" /proc/$(pidof cgihttpd)/status')
# CAP_KILL is bit 5, CAP_SETGID 6, CAP_SETUID 7: 0xe0 and nothing else.
[ "$(grep -c '00000000000000e0$' <<<"$caps")" = 2 ] || fail "cgihttpd holds other capabilities: $caps"
"${podman[@]}" exec "$name" sh -c '! touch /x 2>/dev/null && touch /tmp/x' || fail "the root is writable or /tmp is not"
echo "capabilities e0 (SETUID, SETGID, KILL); root read-only, /tmp writable"

for _ in 1 2 3; do curl -fsS -o /dev/null "$base/cgi-bin/orphan.sh" || fail "orphan.sh"; done
for _ in $(seq 1 50); do
  procs=$("${podman[@]}" exec "$name" ps -o stat,user,comm)
  grep -q sleep <<<"$procs" || break
  sleep 0.2
done
grep -q sleep <<<"$procs" && fail "orphans left behind (zombies, or alive): $procs"
echo "orphans killed (or ended) and reaped"

step "podman stop drains a running script and exits 0"
curl -fsS -o "$work/slow.out" "$base/cgi-bin/slow.sh" &
slow=$!
for _ in $(seq 1 50); do
  "${podman[@]}" exec "$name" pidof sleep >/dev/null 2>&1 && break
  sleep 0.1
done
stop_start=$SECONDS
"${podman[@]}" stop "$name" >/dev/null
wait "$slow" || fail "the running request failed during the drain"
[ "$(cat "$work/slow.out")" = "slow done" ] || fail "slow.sh answered: $(cat "$work/slow.out")"
code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name")
logs=$("${podman[@]}" logs "$name" 2>&1)
[ "$code" = 0 ] || fail "exit code $code: $logs"
grep -q 'shutting down' <<<"$logs" || fail "no graceful shutdown in the log: $logs"
grep -q 'killing running scripts' <<<"$logs" && fail "scripts were killed, not drained: $logs"
echo "stopped in $((SECONDS - stop_start))s, exit 0, the running request answered"

step "--user 65534:65534 without /etc/passwd, on the image's own example site"
name2="cgihttpd-ci-nopasswd-$$"
names+=("$name2")
# An empty tmpfs over /etc hides the image's passwd and group (notmpcopyup: Podman would copy
# them in). Named, nobody is refused there.
names+=("$name2-refused")
out=$(timeout 60 "${podman[@]}" run --rm --name "$name2-refused" "${host_limits[@]}" \
  "${least_privilege[@]}" --tmpfs /etc:notmpcopyup "$image" 2>&1) &&
  fail "started without /etc/passwd and without a numeric --user: $out"
grep -qF 'open /etc/passwd' <<<"$out" || fail "unexpected refusal: $out"
"${podman[@]}" run -d --name "$name2" "${host_limits[@]}" "${least_privilege[@]}" --tmpfs /etc:notmpcopyup \
  -v "$site/cgi-bin/whoami.sh:/srv/www/cgi-bin/whoami.sh:ro" -p 127.0.0.1::8000 \
  "$image" --user 65534:65534 --limit-memory 64MiB >/dev/null
port2=$("${podman[@]}" port "$name2" 8000/tcp | sed 's/.*://')
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port2/" 2>/dev/null && break; sleep 0.1; done
got=$(curl -fsS "http://127.0.0.1:$port2/cgi-bin/hello.sh") || fail "hello.sh: $("${podman[@]}" logs "$name2" 2>&1)"
grep -q '^Hello, world!' <<<"$got" || fail "hello.sh answered: $got"
got=$(curl -fsS "http://127.0.0.1:$port2/cgi-bin/whoami.sh") || fail "whoami.sh"
[ "$got" = "uid=65534 gid=65534 groups=65534 nproc=4096" ] || fail "the script ran as: $got"
"${podman[@]}" exec "$name2" sh -c 'test ! -e /etc/passwd' || fail "/etc/passwd is visible"
"${podman[@]}" exec "$name2" sh -c 'grep -E "^Uid:\s+0\s" /proc/$(pidof cgihttpd)/status' >/dev/null ||
  fail "cgihttpd does not run as root here, so nothing was dropped"
# The cgroup file system is read-only in here: the cgroup limits warn, and do not refuse.
logs=$("${podman[@]}" logs "$name2" 2>&1)
for w in 'cannot limit script memory here' 'scripts get no process limit here'; do
  grep -qF "$w" <<<"$logs" || fail "no warning '$w' in: $logs"
done
"${podman[@]}" stop -t 30 "$name2" >/dev/null
[ "$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name2")" = 0 ] || fail "exit code"
echo "numeric --user ok without /etc/passwd; the example site is at /srv/www; cgroup limits warn"

step "HTTPS: --tls-self-signed in the same least-privilege run"
name4="cgihttpd-ci-tls-$$"
names+=("$name4")
"${podman[@]}" run -d --name "$name4" "${host_limits[@]}" "${least_privilege[@]}" \
  -v "$site:/srv/www:ro" -p 127.0.0.1::8443 "$image" --tls-self-signed 8443 >/dev/null
port4=$("${podman[@]}" port "$name4" 8443/tcp | sed 's/.*://')
for _ in $(seq 1 100); do curl -kfsS -o /dev/null "https://127.0.0.1:$port4/" 2>/dev/null && break; sleep 0.1; done
got=$(curl -kfsS "https://127.0.0.1:$port4/cgi-bin/whoami.sh") || fail "HTTPS: $("${podman[@]}" logs "$name4" 2>&1)"
[ "$got" = "uid=65534 gid=65534 groups=65534 nproc=4096" ] || fail "the script ran as: $got"
curl -kfsS "https://127.0.0.1:$port4/cgi-bin/env.sh" | grep -qx 'HTTPS=on' || fail "HTTPS=on not set"
"${podman[@]}" stop -t 30 "$name4" >/dev/null
[ "$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name4")" = 0 ] || fail "exit code"
echo "HTTPS with a self-signed certificate: scripts as 65534, HTTPS=on"

step "not root at all (Kubernetes' restricted profile): scripts run as the server's own user"
name3="cgihttpd-ci-nonroot-$$"
names+=("$name3")
"${podman[@]}" run -d --name "$name3" "${host_limits[@]}" --user 65534:65534 --cap-drop=all \
  --security-opt=no-new-privileges --read-only --tmpfs /tmp:rw,noexec,nosuid,nodev,size=256m \
  -v "$site:/srv/www:ro" -p 127.0.0.1::8000 "$image" >/dev/null
port3=$("${podman[@]}" port "$name3" 8000/tcp | sed 's/.*://')
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port3/" 2>/dev/null && break; sleep 0.1; done
got=$(curl -fsS "http://127.0.0.1:$port3/cgi-bin/whoami.sh") || fail "whoami.sh: $("${podman[@]}" logs "$name3" 2>&1)"
[ "$got" = "uid=65534 gid=65534 groups=65534 nproc=4096" ] || fail "the script ran as: $got"
caps=$("${podman[@]}" exec "$name3" sh -c 'grep -E "^CapEff" /proc/$(pidof cgihttpd)/status')
grep -q '0000000000000000$' <<<"$caps" || fail "a non-root cgihttpd holds capabilities: $caps"
"${podman[@]}" stop -t 30 "$name3" >/dev/null
[ "$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name3")" = 0 ] || fail "exit code"
echo "non-root: server and scripts as 65534, no capabilities"

echo "container.sh: ok: $image, $archive ($(stat -c %s "$archive") bytes), total $((SECONDS - start))s"
