module github.com/cgihttpd/cgihttpd/e2e

go 1.26.0

require github.com/cgihttpd/cgihttpd v0.0.0-00010101000000-000000000000 // indirect

require (
	github.com/chromedp/cdproto v0.159.3
	github.com/chromedp/chromedp v0.23.0
)

require (
	github.com/fatih/color v1.19.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/hashicorp/go-hclog v1.6.3 // indirect
	github.com/letsencrypt/challtestsrv v1.4.2 // indirect
	github.com/letsencrypt/pebble/v2 v2.10.3 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/miekg/dns v1.1.62 // indirect
	github.com/traefik/yaegi v0.16.1 // indirect
	golang.org/x/mod v0.24.0 // indirect
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sync v0.14.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.33.0 // indirect
)

replace github.com/cgihttpd/cgihttpd => ../

tool (
	github.com/cgihttpd/cgihttpd/cmd/cgihttpd
	github.com/letsencrypt/pebble/v2/cmd/pebble
)
