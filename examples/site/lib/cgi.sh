# lib/cgi.sh -- small POSIX sh helpers shared by the example CGI scripts.
#
# Why it lives here: every file under cgi-bin/ and htbin/ is treated as a CGI
# program (so /cgi-bin/lib/foo.sh would be a script URL, not a library).  This
# file therefore sits outside both directories, and the scripts source it with
# a path relative to their own directory, which cgihttpd uses as the working
# directory of the CGI process:
#
#     . ../lib/cgi.sh
#
# That works from both cgi-bin/ and htbin/ because they are siblings of lib/.
# (The scripts fall back to "${SCRIPT_FILENAME%/*}/../lib/cgi.sh" if the working directory
# is not their own.)
# (Being a plain static file, it can also be read at /lib/cgi.sh.)
#
# Security notes:
#   * No eval, and request data is never used as a printf format string.
#   * URL decoding and HTML escaping (or re-encoding) happen in a single awk
#     pass, byte by byte, so decoded data never passes through the shell.
#     A decoded NUL (%00) is rendered as U+FFFD; "%" not followed by two hex
#     digits (e.g. "%zz", or a trailing "%") is kept literally.
#   * Request bodies are read with exactly CONTENT_LENGTH bytes and capped at
#     CGI_MAX_BODY bytes.

CGI_MAX_BODY=65536

# The awk program. Input: application/x-www-form-urlencoded data, fields
# separated by "&".  Modes (environment variable CGI_AWK_MODE):
#   fields  print one HTML table row per field, name and value HTML-escaped
#   get     print the value of the first field named $CGI_AWK_NAME, encoded
#           as $CGI_AWK_ENC ("html" = HTML-escaped, "url" = percent-encoded)
_cgi_awk='
function hexval(c) { return index("0123456789abcdef", tolower(c)) - 1 }
# Write byte b, encoded for the given context.
function emit(b, enc) {
	if (enc == "url") {
		if ((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) ||
		    b == 45 || b == 46 || b == 95 || b == 126)
			printf "%s", chr[b]
		else
			printf "%%%02X", b
	} else if (enc == "raw") {
		out = out (b == 0 ? "?" : chr[b])
	} else if (b == 0)  printf "%s", "&#xFFFD;"
	else if (b == 38)   printf "%s", "&amp;"
	else if (b == 60)   printf "%s", "&lt;"
	else if (b == 62)   printf "%s", "&gt;"
	else if (b == 34)   printf "%s", "&quot;"
	else if (b == 39)   printf "%s", "&#39;"
	else                printf "%s", chr[b]
}
# URL-decode s, passing each resulting byte to emit().
function decode(s, enc,   i, n, c, h1, h2) {
	n = length(s)
	for (i = 1; i <= n; i++) {
		c = substr(s, i, 1)
		if (c == "+")
			emit(32, enc)
		else if (c == "%" && i + 2 <= n &&
		    (h1 = hexval(substr(s, i + 1, 1))) >= 0 &&
		    (h2 = hexval(substr(s, i + 2, 1))) >= 0) {
			emit(h1 * 16 + h2, enc)
			i += 2
		} else
			emit(c in ord ? ord[c] : 0, enc)
	}
}
BEGIN {
	RS = "&"
	for (i = 1; i < 256; i++) { chr[i] = sprintf("%c", i); ord[chr[i]] = i }
	mode = ENVIRON["CGI_AWK_MODE"]
	want = ENVIRON["CGI_AWK_NAME"]
	wenc = ENVIRON["CGI_AWK_ENC"]
}
$0 == "" { next }
{
	p = index($0, "=")
	if (p) { name = substr($0, 1, p - 1); value = substr($0, p + 1) }
	else   { name = $0; value = "" }
}
mode == "fields" {
	printf "<tr><th>"; decode(name, "html")
	printf "</th><td>"; decode(value, "html")
	printf "</td></tr>\n"
	next
}
mode == "get" && length(name) <= 3 * length(want) {
	out = ""; decode(name, "raw")
	if (out == want) { decode(value, wenc); exit }
}
'

# Run the awk program on stdin. Byte semantics are forced with LC_ALL=C.
_cgi_run_awk() {
	LC_ALL=C CGI_AWK_MODE=$1 CGI_AWK_NAME=$2 CGI_AWK_ENC=$3 awk "$_cgi_awk"
}

# cgi_form_data: print the urlencoded form data of this request on stdout:
# the request body for POST, QUERY_STRING otherwise.  NUL, CR and LF (never
# valid in urlencoded data) are turned into "&" separators.
# Returns 1 if the body is larger than CGI_MAX_BODY.
cgi_form_data() {
	if [ "${REQUEST_METHOD:-GET}" = POST ]; then
		_len=${CONTENT_LENGTH:-0}
		case $_len in
		*[!0-9]*) _len=0 ;;  # malformed: treat as no body
		esac
		# Compare lengths first so huge values cannot overflow $(( )).
		if [ ${#_len} -gt 9 ] || [ "$_len" -gt "$CGI_MAX_BODY" ]; then
			return 1
		fi
		if [ "$_len" -gt 0 ]; then
			head -c "$_len" | tr '\000\r\n' '&&&'
		fi
	else
		printf '%s' "${QUERY_STRING-}" | tr '\000\r\n' '&&&'
	fi
	return 0
}

# cgi_fields_html: read urlencoded data on stdin, print HTML <tr> rows.
cgi_fields_html() {
	_cgi_run_awk fields '' ''
}

# cgi_param NAME ENC: read urlencoded data on stdin, print the value of the
# first field called NAME, HTML-escaped (ENC=html) or percent-encoded (url).
cgi_param() {
	_cgi_run_awk get "$1" "${2:-html}"
}

# cgi_is_urlencoded: true if CONTENT_TYPE is empty or
# application/x-www-form-urlencoded (parameters such as charset allowed).
cgi_is_urlencoded() {
	_ct=$(printf '%s' "${CONTENT_TYPE-}" | tr 'A-Z' 'a-z')
	case $_ct in
	''|application/x-www-form-urlencoded|application/x-www-form-urlencoded\;*|'application/x-www-form-urlencoded '*)
		return 0 ;;
	esac
	return 1
}

# cgi_html_start TITLE: print the start of an HTML page (after the header
# block).  TITLE must be trusted or already escaped.
cgi_html_start() {
	cat <<HTML
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$1</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main>
<h1>$1</h1>
HTML
}

# cgi_html_end: close the page opened by cgi_html_start.
cgi_html_end() {
	cat <<'HTML'
<p><a href="/">&larr; Back to the example site</a></p>
</main>
</body>
</html>
HTML
}

# cgi_error_page STATUS TEXT: a complete response with an HTML error page.
# Both arguments must be trusted text (they are not escaped).
cgi_error_page() {
	printf 'Status: %s\n' "$1"
	printf 'Content-Type: text/html; charset=utf-8\n\n'
	cgi_html_start "$1"
	printf '<p>%s</p>\n' "$2"
	cgi_html_end
}
