module github.com/cgihttpd/cgihttpd

go 1.26.0

require (
	github.com/hashicorp/go-hclog v1.6.3
	github.com/tg123/go-htpasswd v1.2.5
	github.com/traefik/yaegi v0.16.1
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/GehirnInc/crypt v0.0.0-20230320061759-8cc1b52080c5 // indirect
	github.com/fatih/color v1.13.0 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.14 // indirect
)
