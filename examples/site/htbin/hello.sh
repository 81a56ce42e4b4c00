#!/bin/sh
# /htbin is the second default CGI directory (as in Python's http.server).
printf 'Content-Type: text/plain; charset=utf-8\n'
printf '\n'
printf 'Hello from /htbin!\n'
printf 'Scripts here run exactly like the ones in /cgi-bin.\n'
