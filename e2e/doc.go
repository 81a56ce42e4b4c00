// Package e2e holds cgihttpd's end-to-end tests: the real cgihttpd binary, built from this
// working tree, serves a copy of examples/site, and headless Chromium, driven through the
// DevTools protocol by chromedp, uses it as a person would (follows links, fills in and
// submits forms).
//
// It is a module of its own so that chromedp is a dependency of these tests only, not of the
// server's module. The tool line in go.mod, with the replace of the server's module by ../,
// is what lets the tests build ./cmd/cgihttpd from the same tree.
//
// The tests need /usr/bin/chromium (Debian's chromium package) and skip, loudly, without it;
// .ci/browser.sh installs it and runs them. Screenshots go to $CGIHTTPD_ARTIFACTS.
package e2e
