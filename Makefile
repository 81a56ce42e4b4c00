# Everyday commands; CI runs .ci/run.
.PHONY: run test bench ci build

run:
	go run ./cmd/cgihttpd --directory examples/site

test:
	go test -race ./...

bench:
	go test -run '^$$' -bench . -benchmem ./server
	go test -run '^$$' -bench . -benchtime 3s ./platform_test

build:
	CGO_ENABLED=0 go build -trimpath -o cgihttpd ./cmd/cgihttpd

ci:
	bash .ci/run
