#!/bin/sh
# Decode application/x-www-form-urlencoded data and show each field,
# HTML-escaped. POST reads exactly CONTENT_LENGTH bytes from stdin; GET (and
# HEAD) use QUERY_STRING.
#
# The helpers live in ../lib/cgi.sh, outside cgi-bin/ (anything in cgi-bin/
# would be treated as a CGI script). The server runs this script with its own
# directory as the working directory, so the relative path works.
if [ -r ../lib/cgi.sh ]; then
	. ../lib/cgi.sh
else	# fallback in case the working directory is not the script's own
	. "${SCRIPT_FILENAME%/*}/../lib/cgi.sh"
fi

case ${REQUEST_METHOD:-GET} in
GET|HEAD) ;;
POST)
	if ! cgi_is_urlencoded; then
		cgi_error_page '415 Unsupported Media Type' \
			'Please send <code>application/x-www-form-urlencoded</code> data.'
		exit 0
	fi
	;;
*)
	printf 'Allow: GET, HEAD, POST\n'
	cgi_error_page '405 Method Not Allowed' 'Use GET or POST.'
	exit 0
	;;
esac

if ! data=$(cgi_form_data); then
	cgi_error_page '413 Payload Too Large' \
		"The request body is larger than $CGI_MAX_BODY bytes."
	exit 0
fi

rows=$(printf '%s' "$data" | cgi_fields_html)

printf 'Content-Type: text/html; charset=utf-8\n\n'
cgi_html_start 'Form data'
printf '<p>Method: <code>%s</code>. Every name and value below was URL-decoded and then HTML-escaped.</p>\n' \
	"${REQUEST_METHOD:-GET}"
if [ -n "$rows" ]; then
	printf '<table>\n<tr><th>Name</th><th>Value</th></tr>\n%s\n</table>\n' "$rows"
else
	printf '<p>No fields were submitted. Try <a href="/form.html">the form</a>.</p>\n'
fi
cgi_html_end
