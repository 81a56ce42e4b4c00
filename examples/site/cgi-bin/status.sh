#!/bin/sh
# A "Status:" header sets the HTTP status code and reason phrase.
printf "Status: 418 I'm a teapot\n"
printf 'Content-Type: text/plain; charset=utf-8\n'
printf '\n'
printf "I'm a teapot (HTTP 418).\n"
printf 'This script set the response status with a "Status:" CGI header.\n'
