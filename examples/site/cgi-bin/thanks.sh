#!/bin/sh
# Target of the redirect-after-POST demo: greets ?name=..., HTML-escaped.
#
# Helpers come from ../lib/cgi.sh (outside cgi-bin/; the working directory is
# this script's directory).
if [ -r ../lib/cgi.sh ]; then
	. ../lib/cgi.sh
else	# fallback in case the working directory is not the script's own
	. "${SCRIPT_FILENAME%/*}/../lib/cgi.sh"
fi

name=$(printf '%s' "${QUERY_STRING-}" | tr '\000\r\n' '&&&' | cgi_param name html)
[ -n "$name" ] || name=stranger

printf 'Content-Type: text/html; charset=utf-8\n\n'
cgi_html_start 'Thank you'
printf '<p>Thanks, %s!</p>\n' "$name"
printf '<p class="note">You were redirected here with <code>303 See Other</code>; reloading this page does not re-send the form.</p>\n'
cgi_html_end
