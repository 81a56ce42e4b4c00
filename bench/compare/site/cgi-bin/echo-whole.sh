#!/bin/sh
# Workload (2): read the whole request body, then write it back. dd holds it as one block of
# CONTENT_LENGTH bytes, so the server never has to take output while it still sends input
# (echo.sh, which streams, deadlocks on some servers already at 1 MiB: see workload (4)).
printf 'Content-Type: application/octet-stream\n\n'
[ "${CONTENT_LENGTH:-0}" -gt 0 ] || exit 0
exec dd bs="$CONTENT_LENGTH" count=1 iflag=fullblock status=none
