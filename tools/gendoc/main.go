// Command gendoc writes what is made from cgihttpd's flag definitions (internal/cli):
//
//	go run ./tools/gendoc DIR               the man page DIR/cgihttpd.1 and DIR/completions/*
//	go run ./tools/gendoc -readme README.md the README's flag table, in place
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cgihttpd/cgihttpd/internal/cli"
)

func main() {
	readme := flag.String("readme", "", "rewrite the flag table of this README in place")
	version := flag.String("version", "dev", "version for the man page's footer")
	flag.Parse()
	if err := run(*readme, *version, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %v\n", err)
		os.Exit(1)
	}
}

func run(readme, version string, args []string) error {
	if readme != "" {
		b, err := os.ReadFile(readme)
		if err != nil {
			return err
		}
		if b, err = cli.ReplaceTable(b); err != nil {
			return fmt.Errorf("%s: %w", readme, err)
		}
		return os.WriteFile(readme, b, 0o644)
	}
	if len(args) != 1 {
		return fmt.Errorf("usage: gendoc DIR | gendoc -readme README.md")
	}
	return cli.WriteDocs(args[0], version)
}
