#!/bin/sh
# Redirect-after-POST ("Post/Redirect/Get"): accept a POST, then send the
# browser to a GET page with "303 See Other". Nothing is written to disk
# (scripts run as nobody).
#
# Helpers come from ../lib/cgi.sh (outside cgi-bin/; the working directory is
# this script's directory).
if [ -r ../lib/cgi.sh ]; then
	. ../lib/cgi.sh
else	# fallback in case the working directory is not the script's own
	. "${SCRIPT_FILENAME%/*}/../lib/cgi.sh"
fi

if [ "${REQUEST_METHOD:-GET}" != POST ]; then
	printf 'Allow: POST\n'
	cgi_error_page '405 Method Not Allowed' \
		'This script only accepts POST. Use <a href="/form.html">the form</a>.'
	exit 0
fi

if ! cgi_is_urlencoded; then
	cgi_error_page '415 Unsupported Media Type' \
		'Please send <code>application/x-www-form-urlencoded</code> data.'
	exit 0
fi

if ! data=$(cgi_form_data); then
	cgi_error_page '413 Payload Too Large' \
		"The request body is larger than $CGI_MAX_BODY bytes."
	exit 0
fi

# Re-encode the decoded name: the result only contains [A-Za-z0-9._~%-], so
# it cannot break out of the Location header or the URL.
name=$(printf '%s' "$data" | cgi_param name url)

printf 'Status: 303 See Other\n'
printf 'Location: /cgi-bin/thanks.sh?name=%s\n' "$name"
printf 'Content-Type: text/plain; charset=utf-8\n'
printf '\n'
