#!/bin/sh
# Dump the environment the server gives a CGI script (RFC 3875 meta-variables).
# Values such as QUERY_STRING and HTTP_* come from the client, so the output is
# plain text and the browser is told not to sniff it as HTML.
# (PWD is set by the shell itself, from the working directory the server chose.)
printf 'Content-Type: text/plain; charset=utf-8\n'
printf 'X-Content-Type-Options: nosniff\n'
printf '\n'
env | LC_ALL=C sort
