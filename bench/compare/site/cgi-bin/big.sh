#!/bin/sh
# Workload (3): 10 MiB of output from a script.
printf 'Content-Type: application/octet-stream\n\n'
exec head -c 10485760 /dev/zero
