// Package e2e holds cgihttpd's end-to-end tests: the real cgihttpd binary, built from this
// working tree, serves a copy of examples/site, and headless Chromium, driven through the
// DevTools protocol by chromedp, uses it as a person would (follows links, fills in and
// submits forms), over HTTP and over HTTPS with HTTP/2. TestACMEWithPebble has cgihttpd
// obtain and renew a certificate from Let's Encrypt's test CA, pebble, run on loopback.
//
// It is a module of its own so that chromedp and pebble are dependencies of these tests
// only, not of the server's module. The tool lines in go.mod, with the replace of the
// server's module by ../, are what let the tests build ./cmd/cgihttpd from the same tree,
// and pebble at the version go.mod names.
//
// The browser test needs /usr/bin/chromium (Debian's chromium package) and skips, loudly,
// without it; .ci/browser.sh installs it and runs it. Screenshots go to $CGIHTTPD_ARTIFACTS.
// .ci/acme.sh runs the ACME test, which needs nothing but Go.
package e2e
