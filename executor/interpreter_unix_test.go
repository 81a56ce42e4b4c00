//go:build unix

package executor_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// TestInterpreterMapOnUnix: a file whose extension the operator mapped runs as COMMAND FILE,
// needs no execute bit, and is refused before it starts when COMMAND cannot be found.
func TestInterpreterMapOnUnix(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := testutil.WorldDir(t)
	script := filepath.Join(dir, "hello.shx")
	if err := os.WriteFile(script, []byte(`echo "ran by $0 with $# args: $*"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(plain, []byte("echo never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := executor.NewNative(executor.Config{Interpreters: map[string]string{".shx": "/bin/sh -e", ".nope": "cgihttpd-no-such-interpreter"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CloseAtEnd(t, e)
	pf := e.(executor.Preflighter)
	info, err := os.Stat(script)
	if err != nil {
		t.Fatal(err)
	}
	if err := pf.CanRun(script, info); err != nil {
		t.Errorf("CanRun(mapped, mode 0644) = %v, want nil", err)
	}
	if err := pf.CanRun(plain, info); !errors.Is(err, executor.ErrNotRunnable) {
		t.Errorf("CanRun(unmapped, mode 0644) = %v, want ErrNotRunnable", err)
	}
	missing := filepath.Join(dir, "x.nope")
	if err := pf.CanRun(missing, info); !errors.Is(err, executor.ErrNotRunnable) || !strings.Contains(err.Error(), "cgihttpd-no-such-interpreter") {
		t.Errorf("CanRun(mapped to a missing interpreter) = %v, want ErrNotRunnable naming it", err)
	}

	var out bytes.Buffer
	err = e.Run(context.Background(), &executor.Invocation{Path: script, Args: []string{"a b", "c"}, Dir: dir, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "ran by "+script+" with 2 args: a b c\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	if _, err := executor.NewNative(executor.Config{Interpreters: map[string]string{"shx": "/bin/sh"}}, nil); err == nil {
		t.Error("an extension without its dot was accepted")
	}
}
