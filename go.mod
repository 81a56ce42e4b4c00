module github.com/cgihttpd/cgihttpd

go 1.26.0

require (
	github.com/hashicorp/go-hclog v1.6.3
	github.com/traefik/yaegi v0.16.1
	go.step.sm/crypto v0.92.0
	golang.org/x/sys v0.50.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/fatih/color v1.19.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)
