#!/bin/sh
# Non-parsed-header (nph-) script: the server sends this output to the client
# unchanged, so the script writes the whole HTTP response itself: status line,
# headers and body, with CRLF line ends. "Connection: close" because the server
# cannot know where a raw response ends if the script gets it wrong.
case ${SERVER_PROTOCOL-} in
HTTP/1.0|HTTP/1.1) proto=$SERVER_PROTOCOL ;;
*) proto=HTTP/1.0 ;;
esac

body='Hello from an nph (non-parsed-header) script!
The status line and every header of this response were written by the
script itself; the server passed them through untouched.
'
len=$(printf '%s' "$body" | wc -c)

printf '%s 200 OK\r\n' "$proto"
printf 'Date: %s\r\n' "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')"
printf 'Server: %s\r\n' "${SERVER_SOFTWARE:-cgihttpd}"
printf 'Content-Type: text/plain; charset=utf-8\r\n'
printf 'Content-Length: %d\r\n' "$len"
printf 'Connection: close\r\n'
printf '\r\n'
if [ "${REQUEST_METHOD-}" != HEAD ]; then
	printf '%s' "$body"
fi
