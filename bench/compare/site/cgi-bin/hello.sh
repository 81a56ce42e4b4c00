#!/bin/sh
# Workload (1): the trivial CGI script. Five bytes of body.
printf 'Content-Type: text/plain\n\nhello'
