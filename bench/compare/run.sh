#!/usr/bin/env bash
# Side-by-side benchmark: cgihttpd against what a user would pick instead, on this machine.
#
#   sudo bench/compare/run.sh              # ROUNDS=3 DURATION=4: about 12 minutes
#   sudo QUICK=1 bench/compare/run.sh      # one short round, about 2 minutes; prints only
#
# Installs its tools from Debian (wrk lighttpd apache2 busybox nginx fcgiwrap spawn-fcgi curl),
# builds cgihttpd and the Go peers in peers/, and at the start of each of ROUNDS rounds starts
# every server in turn on 127.0.0.1 over one docroot (site/ plus generated static files), each
# in its own session, under a temp dir. Within a round each workload runs on every server
# before the next workload starts (workload (1): cgihttpd lighttpd apache2 ..., then the spawn
# loop; workload (2): the same ...), with the servers' order rotated by one each round. At the
# end of a round each server is stopped by its PID; whatever is left of its session is killed
# and reported. The table of medians (min-max) with the ratios of cgihttpd to each peer
# goes to stdout and, unless QUICK=1, to BENCHMARKS.md at the repository root. Not part of CI.
#
# Workload (9) runs hello.sh and the static 4 KiB file over TLS (HTTP/1.1, keep-alive, ECDSA
# P-256 certificate) against cgihttpd --tls-cert and lighttpd with mod_openssl, each a server
# of its own beside the plain-HTTP one, so that the report can put TLS and plain side by side.
#
# Knobs: SERVERS (the servers to run, default all: cgihttpd lighttpd apache2 nginx busybox netcgi
# python plain cgihttpd-tls lighttpd-tls), ROUNDS (3), DURATION seconds per wrk run (4), STALL seconds below 1 byte/s that count
# as a deadlock in workload (4) (5; curl averages over about 5 s, so a stall is seen after about
# STALL+5 s), BUDGET seconds of rounds after which no new round starts (840),
# OUT (BENCHMARKS.md; QUICK=1: none), REMARK (a line for the report about this run), KEEP=1
# keeps the temp dir.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$PATH:/usr/local/go/bin"

if [ "${QUICK:-0}" = 1 ]; then
  ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-1} STALL=${STALL:-3} OUT=${OUT:-}
else
  OUT=${OUT-$repo/BENCHMARKS.md}
fi
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-4} STALL=${STALL:-5} BUDGET=${BUDGET:-840}
CURL_SECONDS=$(( DURATION > 3 ? DURATION / 2 : 1 ))

die() { echo "run.sh: $*" >&2; exit 1; }
say() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root: it installs packages, and cgihttpd drops scripts to nobody only as root"
[ "$(uname -s)" = Linux ] || die "Linux only"

# ---- tools ---------------------------------------------------------------------------------
packages=(wrk lighttpd lighttpd-mod-openssl apache2 busybox nginx fcgiwrap spawn-fcgi curl openssl)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the services it installs (on port 80). Stop and disable those that this run
  # installed; a server that was already here is left alone.
  for svc in apache2 nginx lighttpd fcgiwrap; do
    case " ${missing[*]} " in *" $svc "*) ;; *) continue ;; esac
    service "$svc" stop >/dev/null 2>&1 || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  done
fi
for c in wrk lighttpd apache2 busybox nginx spawn-fcgi curl openssl setpriv setsid go python3; do
  command -v "$c" >/dev/null || die "$c not found"
done
fcgiwrap=/usr/sbin/fcgiwrap
python=$(python3 -c 'import sys; print(sys.executable)')
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---- work dir, builds, docroot -------------------------------------------------------------
work=$(mktemp -d /tmp/cgihttpd-compare.XXXXXX)
chmod 755 "$work" # nobody must reach the docroot and the peers' binaries
roots=() # PIDs of every server started; each leads its own session

session_pids() { # PIDs in the sessions led by the given PIDs
  ps -eo pid=,sid= | awk -v roots="$*" '
    BEGIN { n = split(roots, a, " "); for (i = 1; i <= n; i++) r[a[i]] = 1 }
    $2 in r { print $1 }'
}
cleanup() {
  local p
  for p in "${roots[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ ${#roots[@]} -gt 0 ]; then
    for p in $(session_pids "${roots[@]}"); do kill -KILL "$p" 2>/dev/null || true; done
  fi
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin=$work/bin www=$work/www log=$work/log
mkdir -p "$bin" "$www/static" "$log"
say "building cgihttpd and the peers"
(
  cd "$repo"
  go build -o "$bin/cgihttpd" ./cmd/cgihttpd
  for p in netcgi plain spawn idleconns; do go build -o "$bin/$p" "./bench/compare/peers/$p"; done
  go build -o "$bin/report" ./bench/compare/report
)
cp -r "$here/site/cgi-bin" "$www/"
head -c 4096 /dev/urandom >"$www/static/4k.bin"
head -c 10485760 /dev/urandom >"$www/static/10m.bin"
head -c 1048576 /dev/urandom >"$work/body1m"
head -c 67108864 /dev/urandom >"$work/body64m"
chmod -R a+rX "$www" "$bin"
chmod 755 "$www"/cgi-bin/*.sh
# One certificate for the TLS servers (workload 9), as a certbot-made one would be.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
chmod 644 "$work/tls.key" # lighttpd reads it after dropping to nobody
# A site's files are not written the moment before they are served. cgihttpd does not cache a
# file modified within the last 2 s (its mtime cannot yet tell a later change), so fresh ones
# would make round 1 measure its uncached path.
find "$www" -exec touch -h -d '1 hour ago' {} +

# ---- results -------------------------------------------------------------------------------
results=$work/results.tsv meta=$work/meta
: >"$results"
round=0 server=
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$1" "$2" "$3" >>"$results"; }
note() { printf 'note=%s\n' "$*" >>"$meta"; say "note: $*"; }

# ---- servers -------------------------------------------------------------------------------
port=0 pids=()
free_port() { # below Linux's ephemeral ports, so no client socket of the run can hold it
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
launch() { # launch NAME CMD...: start CMD in a session of its own, output to the log
  local name=$1; shift
  setsid "$@" >>"$log/$name.log" 2>&1 </dev/null &
  pids+=($!) roots+=($!)
}
fill() { # fill NAME DIR: DIR/NAME.conf from conf/NAME.conf with the @...@ values of this start
  sed -e "s|@PORT@|$port|g" -e "s|@DOCROOT@|$www|g" -e "s|@WORK@|$2|g" -e "s|@TLS@|$work/tls|g" \
    "$here/conf/$1.conf" >"$2/$1.conf"
}
scheme_of() { case $1 in *-tls) echo https ;; *) echo http ;; esac; }
nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

start() { # start SERVER: sets port and pids, waits until it answers
  server=$1 port=$(free_port) pids=() scheme=$(scheme_of "$1")
  local d=$work/run/$server.$round ready=/static/4k.bin
  mkdir -p "$d"
  case $server in
  cgihttpd) launch "$server" "$bin/cgihttpd" -d "$www" -b 127.0.0.1 --log-level warn "$port" ;;
  cgihttpd-tls)
    launch "$server" "$bin/cgihttpd" -d "$www" -b 127.0.0.1 --log-level warn \
      --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" "$port" ;;
  lighttpd-tls)
    mkdir -p "$d/tmp" && chown nobody:nogroup "$d/tmp"
    fill lighttpd "$d"
    fill lighttpd-tls "$d"
    launch "$server" lighttpd -D -f "$d/lighttpd-tls.conf" ;;
  lighttpd)
    mkdir -p "$d/tmp" && chown nobody:nogroup "$d/tmp"
    fill lighttpd "$d"
    launch "$server" lighttpd -D -f "$d/lighttpd.conf" ;;
  apache2)
    fill apache2 "$d"
    launch "$server" apache2 -f "$d/apache2.conf" -DFOREGROUND ;;
  nginx)
    fill nginx "$d"
    launch fcgiwrap spawn-fcgi -n -s "$d/fcgiwrap.sock" -M 0666 -u nobody -g nogroup -- "$fcgiwrap" -c 16
    launch "$server" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log" ;;
  busybox) launch "$server" busybox httpd -f -p "127.0.0.1:$port" -h "$www" -u nobody:nogroup ;;
  netcgi) launch "$server" "${nobody[@]}" "$bin/netcgi" -addr "127.0.0.1:$port" -root "$www" ;;
  python)
    # Python's CGI handler, started as root, switches each script to nobody.
    (cd "$www" && exec setsid "$python" -m http.server --cgi --bind 127.0.0.1 "$port" >>"$log/python.log" 2>&1 </dev/null) &
    pids+=($!) roots+=($!) ;;
  plain)
    launch "$server" "${nobody[@]}" "$bin/plain" -addr "127.0.0.1:$port" -file4k "$www/static/4k.bin"
    ready=/4k ;;
  *) die "unknown server $server" ;;
  esac
  for _ in $(seq 100); do
    curl -fsSk -o /dev/null --max-time 2 "$scheme://127.0.0.1:$port$ready" 2>/dev/null && return 0
    sleep 0.1
  done
  note "$server did not answer on port $port in round $round (log: $(tail -c 300 "$log/$server.log" | tr '\n' ' '))"
  return 1
}

alive() { # reports whether PID runs: not gone, and not a zombie (whose threads have all ended)
  [ -e "/proc/$1" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null || return 0
  set -- /proc/"$1"/task/*
  [ $# -gt 1 ]
}

stop() { # stop the current server: SIGTERM to each PID, then what is left of its sessions
  local p left
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 30); do alive "$p" || break; sleep 0.1; done
    if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
  done
  for _ in $(seq 20); do
    left=$(session_pids "${pids[@]}")
    [ -z "$left" ] && break
    sleep 0.1
  done
  if [ -n "$left" ]; then
    note "$server round $round: $(echo "$left" | wc -w) of its processes still ran 2s after it exited, killed:$(ps -o comm= -p "$(paste -sd, <<<"$left")" | sort | uniq -c | tr -s ' \n' ' ')"
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
  fi
}

rss_kib() { # summed VmRSS of every process in the server's sessions, scripts included
  local p k v _ s=0
  for p in $(session_pids "${pids[@]}"); do
    while read -r k v _; do
      [ "$k" = VmRSS: ] && s=$((s + v))
    done 2>/dev/null <"/proc/$p/status" || true
  done
  echo "$s"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---- measurements --------------------------------------------------------------------------
url() { echo "$scheme://127.0.0.1:$port$1"; }

# wrk_run WORKLOAD CONNS PATH [BODY] [PAYLOAD_BYTES]: records rps, p50_ms, p99_ms, errors and,
# with PAYLOAD_BYTES, mibps (requests x payload). Samples RSS while it runs if SAMPLE=1.
wrk_run() {
  local w=$1 c=$2 path=$3 body=${4:-} payload=${5:-0} t=2 out=$work/wrk.out line max=0 r
  [ "$c" -lt 2 ] && t=1
  WRK_BODY=$body timeout $((DURATION + 30)) wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 10s \
    -s "$here/wrk.lua" "$(url "$path")" >"$out" 2>&1 &
  local wp=$!
  if [ "${SAMPLE:-0}" = 1 ]; then
    for _ in $(seq $((DURATION * 2 - 1))); do
      sleep 0.5
      r=$(rss_kib)
      [ "$r" -gt "$max" ] && max=$r
    done
    rec "$w" rss_mib "$(mib "$max")"
  fi
  wait "$wp" || true
  line=$(grep '^WRKRESULT' "$out" || true)
  if [ -z "$line" ]; then
    rec "$w" rps DNF
    note "$server $w round $round: wrk gave no result: $(tail -c 200 "$out" | tr '\n' ' ')"
    return
  fi
  local requests duration_us errors read_errors p50_us p99_us
  eval "${line#WRKRESULT }"
  rec "$w" rps "$(awk -v n="$requests" -v d="$duration_us" 'BEGIN { printf "%.1f", n * 1e6 / d }')"
  rec "$w" p50_ms "$(awk -v u="$p50_us" 'BEGIN { printf "%.3f", u / 1000 }')"
  rec "$w" p99_ms "$(awk -v u="$p99_us" 'BEGIN { printf "%.3f", u / 1000 }')"
  rec "$w" errors "$errors"
  rec "$w" read_errors "$read_errors"
  if [ "$payload" -gt 0 ]; then
    rec "$w" mibps "$(awk -v n="$requests" -v d="$duration_us" -v b="$payload" 'BEGIN { printf "%.1f", n * b / 1048576 * 1e6 / d }')"
  fi
}

# curl_stream WORKLOAD METRIC PATH SIZE: one connection, downloads PATH again and again for
# CURL_SECONDS (three transfers per curl), records MiB/s over the transfers' own times.
curl_stream() {
  local w=$1 m=$2 u out=$work/curl.out end=$((SECONDS + CURL_SECONDS))
  u=$(url "$3")
  : >"$out"
  while [ "$SECONDS" -lt "$end" ]; do
    curl -sS --max-time 30 -w '%{http_code} %{size_download} %{time_total}\n' \
      -o /dev/null "$u" -o /dev/null "$u" -o /dev/null "$u" >>"$out" 2>&1 || break
  done
  local r
  r=$(awk -v size="$4" '
    $1 != 200 || $2 != size { bad = $0; exit }
    { b += $2; t += $3 }
    END { if (bad != "" || t == 0) print "DNF " bad; else printf "%.1f\n", b / 1048576 / t }' "$out")
  case $r in
  DNF*) rec "$w" "$m" DNF; note "$server $w round $round: $r $(tail -c 200 "$out" | tr '\n' ' ')" ;;
  *) rec "$w" "$m" "$r" ;;
  esac
}

# duplex WORKLOAD BODY: POST BODY to echo.sh, which sends it back while reading it. No
# progress either way (curl: under 1 byte/s for STALL s), or 60 s in all, counts as a deadlock.
duplex() {
  local w=$1 body=$2 out rc=0 code size t want
  want=$(stat -c %s "$body")
  out=$(curl -sS -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary "@$body" --speed-limit 1 --speed-time "$STALL" --max-time 60 \
    -w '%{http_code} %{size_download} %{time_total}' "$(url /cgi-bin/echo.sh)" 2>/dev/null) || rc=$?
  read -r code size t <<<"$out" || true
  if [ "$rc" = 0 ] && [ "$code" = 200 ] && [ "$size" = "$want" ]; then
    rec "$w" mibps "$(awk -v t="$t" -v b="$want" 'BEGIN { printf "%.1f", b / 1048576 / t }')"
  elif [ "$rc" = 28 ]; then
    rec "$w" mibps DNF
    rec "$w" dnf "stalled, ${size:-0} bytes back, given up after $(printf '%.0f' "${t:-0}")s"
  else
    rec "$w" mibps DNF
    rec "$w" dnf "curl exit $rc, status ${code:-none}, ${size:-0} bytes back"
  fi
}

# idle: RSS idle, then with 1,000 keep-alive connections that each had one answer (not for
# the servers that close every connection after one answer).
idle() {
  sleep 1
  rec memory idle_mib "$(mib "$(rss_kib)")"
  case $server in python | busybox) return 0 ;; esac
  local out=$work/idleconns.out
  : >"$out"
  "$bin/idleconns" -addr "127.0.0.1:$port" -path "$1" -n 1000 -hold 1s >"$out" 2>"$out.err" &
  local ip=$!
  for _ in $(seq 300); do grep -q '^ready' "$out" && break; sleep 0.1; done
  sleep 0.5
  rec memory conns1000_mib "$(mib "$(rss_kib)")"
  wait "$ip" || true
  rec memory conns_answered "$(awk '/^ready/ { print $2 }' "$out")"
  rec memory conns_open "$(awk '/^open/ { print $2 }' "$out")"
}

check() { # the scripts answer what they should: hello.sh once, echo-whole.sh 20 times (wrk
  # does not look at what it gets back), recorded as the number of wrong echoes
  local b wrong=0 want
  b=$(curl -sS --max-time 10 "$(url /cgi-bin/hello.sh)" 2>&1) || true
  [ "$b" = hello ] || note "$server round $round: hello.sh answered '$(echo "$b" | head -c 80)'"
  want=$(cksum <"$work/body1m")
  for _ in $(seq 20); do
    b=$(curl -sS --max-time 10 -H 'Expect:' --data-binary "@$work/body1m" "$(url /cgi-bin/echo-whole.sh)" | cksum) || true
    [ "$b" = "$want" ] || wrong=$((wrong + 1))
  done
  rec post1m checks 20
  rec post1m wrong "$wrong"
}

step() { # step CMD...: run it, and say how long it took
  local t=$SECONDS
  "$@"
  say "    $1 ${2:-}: $((SECONDS - t))s"
}

# Servers of the round, all started: NAME -> port and PIDs, and the order they run in.
declare -A port_of pids_of
order=()

use() { # use SERVER: make SERVER the current one (server, port, pids, scheme)
  server=$1 port=${port_of[$1]} scheme=$(scheme_of "$1")
  read -ra pids <<<"${pids_of[$1]}"
  say "  $server"
}

on_cgi() { # on_cgi CMD...: run CMD on every plain-HTTP CGI server of the round, in its order
  local s
  for s in "${order[@]}"; do
    case $s in plain | *-tls) continue ;; esac
    use "$s"
    step "$@"
  done
}

# start_all: starts every server in turn and keeps those that answer; the order they are
# measured in starts one further along the list each round, so that no server is always the
# first (or the last) after a change of workload.
start_all() {
  local s up=() i
  order=()
  for s in "${servers[@]}"; do
    say "  start $s"
    if start "$s"; then
      port_of[$s]=$port pids_of[$s]="${pids[*]}"
      up+=("$s")
    else
      stop
    fi
  done
  for ((i = 0; i < ${#up[@]}; i++)); do order+=("${up[$(((i + round - 1) % ${#up[@]}))]}"); done
}

# round: every workload runs on every server before the next workload starts, so a server's
# figure and its peers' are taken minutes apart at most, not a whole round (the machine's
# speed drifts over minutes: shared cores). The spawn loop runs right after workload (1).
run_round() {
  local s
  start_all
  for s in "${order[@]}"; do
    case $s in plain | *-tls) continue ;; esac
    use "$s"
    step idle /static/4k.bin
    check
  done
  SAMPLE=1 on_cgi wrk_run hello 16 /cgi-bin/hello.sh
  say "  spawn ceiling"
  spawn_ceiling
  on_cgi wrk_run post1m 4 /cgi-bin/echo-whole.sh "$work/body1m" 1048576
  on_cgi curl_stream big10m mibps /cgi-bin/big.sh 10485760
  for s in "${order[@]}"; do
    use "$s"
    case $s in
    plain) step wrk_run static4k 64 /4k ;;
    *-tls) ;;
    *) step wrk_run static4k 64 /static/4k.bin ;;
    esac
  done
  # (9) over TLS, right after their plain-HTTP counterparts (1) and (5) ran on every server.
  for s in "${order[@]}"; do
    case $s in *-tls) use "$s" && step wrk_run hello 16 /cgi-bin/hello.sh && step wrk_run static4k 64 /static/4k.bin ;; esac
  done
  on_cgi wrk_run static10m 4 /static/10m.bin "" 10485760
  on_cgi curl_stream static10m curl_mibps /static/10m.bin 10485760
  for s in "${order[@]}"; do
    case $s in
    cgihttpd) use "$s" && step wrk_run inproc 16 /cgi-bin/hello.go ;;
    plain) use "$s" && step wrk_run inproc 16 /hello ;;
    esac
  done
  # Last, as a deadlocked server may keep a worker stuck. The 1 MiB probe only in round 1.
  [ "$round" != 1 ] || on_cgi duplex duplex1m "$work/body1m"
  on_cgi duplex duplex "$work/body64m"
  for s in "${order[@]}"; do
    use "$s"
    step stop
  done
}

spawn_ceiling() {
  server=spawn
  local w out
  for w in 1 2 16; do
    out=$("${nobody[@]}" "$bin/spawn" -workers "$w" -duration "${DURATION}s" "$www/cgi-bin/hello.sh" 2>&1) || true
    case $out in
    "spawns/s "*) rec spawn "w$w" "${out#spawns/s }" ;;
    *) rec spawn "w$w" DNF; note "spawn -workers $w round $round: $out" ;;
    esac
  done
}

# ---- the run -------------------------------------------------------------------------------
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "kernel=$(uname -r)"
  echo "os=Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "remark=${REMARK:-}"
  echo "rounds=$ROUNDS"
  echo "duration=$DURATION"
  echo "curl_seconds=$CURL_SECONDS"
  echo "stall=$STALL"
  echo "v_go=$(go version | awk '{ print $3 }')"
  echo "v_cgihttpd=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "v_lighttpd=$(lighttpd -v 2>&1 | head -1 | awk '{ print $1 }')"
  echo "v_apache2=$(apache2 -v 2>&1 | awk -F': *' '/^Server version/ { print $2 }')"
  echo "v_nginx=$(nginx -v 2>&1 | sed 's/.*: //'), fcgiwrap $(dpkg-query -W -f='${Version}' fcgiwrap)"
  echo "v_busybox=$(busybox 2>&1 | head -1 | awk '{ print $1, $2 }')"
  echo "v_python=$("$python" --version 2>&1)"
  echo "v_wrk=$(wrk -v 2>&1 | head -1 | awk '{ print $2 }')"
  echo "v_curl=$(curl --version | head -1 | awk '{ print $1, $2 }')"
} >"$meta"

read -ra servers <<<"${SERVERS:-cgihttpd lighttpd apache2 nginx busybox netcgi python plain cgihttpd-tls lighttpd-tls}"
started=$SECONDS
for round in $(seq "$ROUNDS"); do
  took=$((SECONDS - started))
  if [ "$round" -gt 1 ] && [ $((took + took / (round - 1))) -gt "$BUDGET" ]; then
    note "stopped after $((round - 1)) of $ROUNDS rounds: another would pass BUDGET=${BUDGET}s"
    break
  fi
  say "round $round of $ROUNDS"
  run_round
done
round=0

echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
echo "seconds=$SECONDS" >>"$meta"
for _ in $(seq 20); do # the last stop may have just killed some: give them time to go
  left=$(for p in $(session_pids "${roots[@]}"); do if alive "$p"; then echo "$p"; fi; done)
  [ -z "$left" ] && break
  sleep 0.1
done
[ -z "$left" ] || note "processes of the servers still running at the end: $(paste -sd" " <<<"$left")"

"$bin/report" -results "$results" -meta "$meta" >"$work/table.md"
cat "$work/table.md"
if [ -n "$OUT" ]; then
  cp "$work/table.md" "$OUT"
  say "wrote $OUT"
fi
