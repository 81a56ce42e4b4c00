#!/bin/sh
# Show how the request URL is split into CGI variables. Try:
#   /cgi-bin/pathinfo.sh/extra/path?x=1
# Values are client-controlled, so they are printed as plain text with printf
# '%s' (never as a format string) and the browser is told not to sniff.
show() {
	# $1 = variable name, $2 = "set" if set, $3 = value
	if [ "$2" = set ]; then
		printf '%-16s = %s\n' "$1" "$3"
	else
		printf '%-16s   (unset)\n' "$1"
	fi
}

printf 'Content-Type: text/plain; charset=utf-8\n'
printf 'X-Content-Type-Options: nosniff\n'
printf '\n'
show SCRIPT_NAME     "${SCRIPT_NAME+set}"     "${SCRIPT_NAME-}"
show PATH_INFO       "${PATH_INFO+set}"       "${PATH_INFO-}"
show PATH_TRANSLATED "${PATH_TRANSLATED+set}" "${PATH_TRANSLATED-}"
show QUERY_STRING    "${QUERY_STRING+set}"    "${QUERY_STRING-}"
printf '\nWorking directory: %s\n' "$(pwd)"
