package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"

	"github.com/cgihttpd/cgihttpd/internal/cli"
)

// TestDocs: the man page lists every flag, and the completions ask cgihttpd itself.
func TestDocs(t *testing.T) {
	dir := t.TempDir()
	if err := writeDocs(dir, "test"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cgihttpd.1", "completions/cgihttpd.bash", "completions/cgihttpd.zsh", "completions/cgihttpd.fish"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Contains(b, []byte("cgihttpd")) {
			t.Errorf("%s: %v, %d bytes", name, err, len(b))
		}
	}
	man, _ := os.ReadFile(filepath.Join(dir, "cgihttpd.1"))
	bash, _ := os.ReadFile(filepath.Join(dir, "completions", "cgihttpd.bash"))
	cli.Command(cli.Defaults()).Flags().VisitAll(func(f *pflag.Flag) {
		if !bytes.Contains(man, []byte("--"+f.Name)) {
			t.Errorf("the man page does not list --%s", f.Name)
		}
	})
	if !bytes.Contains(bash, []byte("__complete")) {
		t.Error("the bash completion does not ask cgihttpd __complete")
	}
}
