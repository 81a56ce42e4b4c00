#!/bin/sh
# The smallest useful CGI script: a header block, a blank line, then the body.
printf 'Content-Type: text/plain; charset=utf-8\n'
printf '\n'
printf 'Hello, world!\n'
printf 'The server time is %s.\n' "$(date)"
