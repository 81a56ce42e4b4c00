#!/usr/bin/env bash
# Soak test: 60 s of mixed static + CGI + in-process traffic at 64 connections against a
# cgihttpd serving a copy of the example site on 127.0.0.1; prints requests, non-503 errors,
# p50/p99 and the server's RSS and open fds before and after. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-60s}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
chmod 755 "$work"
cp -r examples/site "$work/site"
chmod -R a+rX "$work/site"
go build -o "$work/cgihttpd" ./cmd/cgihttpd
go build -o "$work/loadtest" ./bench/loadtest
port=$((20000 + RANDOM % 20000))
"$work/cgihttpd" -d "$work/site" --log-level warn --max-scripts "${MAX_SCRIPTS:-16}" "$port" >/dev/null 2>"$work/server.log" &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
"$work/loadtest" -base "http://127.0.0.1:$port" -pid "$pid" -conns 64 -duration "$duration" \
  -path / -path /files/hello.txt -path /cgi-bin/hello.sh -path /cgi-bin/guestbook.go -path /style.css
echo "server log lines: $(wc -l < "$work/server.log")"
