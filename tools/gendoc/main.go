// Command gendoc writes what is made from cgihttpd's flag definitions (internal/cli):
//
//	go run ./tools/gendoc DIR               the man page DIR/cgihttpd.1 and DIR/completions/*
//	go run ./tools/gendoc -readme README.md the README's flag table, in place
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cgihttpd/cgihttpd/internal/cli"
	"github.com/spf13/cobra/doc"
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
	return writeDocs(args[0], version)
}

// writeDocs writes the man page dir/cgihttpd.1 and the completions
// dir/completions/cgihttpd.{bash,zsh,fish}; version goes into the man page's footer.
func writeDocs(dir, version string) error {
	cmd := cli.Command(cli.Defaults())
	if err := os.MkdirAll(filepath.Join(dir, "completions"), 0o755); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	var man bytes.Buffer
	header := &doc.GenManHeader{Title: "CGIHTTPD", Section: "1", Source: "cgihttpd " + version, Manual: "User Commands"}
	if err := doc.GenMan(cmd, header, &man); err != nil {
		return fmt.Errorf("man page: %w", err)
	}
	var bash, zsh, fish bytes.Buffer
	if err := errors.Join(cmd.GenBashCompletionV2(&bash, true), cmd.GenZshCompletion(&zsh), cmd.GenFishCompletion(&fish, true)); err != nil {
		return fmt.Errorf("completions: %w", err)
	}
	for name, b := range map[string][]byte{
		"cgihttpd.1":                man.Bytes(),
		"completions/cgihttpd.bash": bash.Bytes(),
		"completions/cgihttpd.zsh":  zsh.Bytes(),
		"completions/cgihttpd.fish": fish.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	}
	return nil
}
