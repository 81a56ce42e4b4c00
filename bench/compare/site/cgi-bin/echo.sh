#!/bin/sh
# Workload (4): stream the request body back while still reading it. head reads exactly
# CONTENT_LENGTH bytes (servers need not close a script's stdin) and writes each block as it
# arrives, so the output starts long before the input ends.
printf 'Content-Type: application/octet-stream\n\n'
exec head -c "${CONTENT_LENGTH:-0}"
