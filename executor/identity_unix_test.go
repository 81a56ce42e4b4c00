//go:build unix

package executor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestWorkerRunsOnlyTheCheckedFile: a worker gets the script's name and the identity of the
// file the server checked; when the name leads elsewhere by then (a rename or symlink swap
// after the check), nothing runs.
func TestWorkerRunsOnlyTheCheckedFile(t *testing.T) {
	dir := t.TempDir()
	script := func(name, says string) string {
		p := filepath.Join(dir, name)
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"Content-Type: text/plain\\n\\n" + says + "\") }\n"
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	checked, other := script("checked.go", "CHECKED"), script("other.go", "OTHER")
	checkedInfo, err := os.Stat(checked)
	if err != nil {
		t.Fatal(err)
	}
	e := newInProcessExecutor(InProcessConfig{MaxInterpreters: 2}, hclog.NewNullLogger()) // as a worker makes it
	defer func() { _ = e.Close() }()
	run := func(path string) (string, error) {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := e.Run(ctx, &Invocation{Path: path, Stdout: &out, checked: checkedIdentity(nil, checkedInfo)})
		return out.String(), err
	}
	if out, err := run(checked); err != nil || !bytes.Contains([]byte(out), []byte("CHECKED")) {
		t.Fatalf("the checked file: %q, %v", out, err)
	}
	if err := os.Rename(other, checked); err != nil { // another file takes the checked name
		t.Fatal(err)
	}
	out, err := run(checked)
	if !errors.Is(err, ErrStart) || bytes.Contains([]byte(out), []byte("OTHER")) {
		t.Errorf("a swapped name: %q, %v; want ErrStart and no output", out, err)
	}
}

// TestWorkerCacheAnswersOnlyForTheCheckedVersion: a worker runs a cached version without
// opening the script only when the server checked that very version (file, size, mtime);
// for any other identity it opens the name and runs it only if that is what was checked.
func TestWorkerCacheAnswersOnlyForTheCheckedVersion(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour) // past the racy window: the cache trusts size and mtime
	write := func(name, says string) (string, string) {
		p := filepath.Join(dir, name)
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"Content-Type: text/plain\\n\\n" + says + "\") }\n"
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return p, checkedIdentity(nil, info)
	}
	path, first := write("s.go", "FIRST")
	_, second := write("next.go", "SECOND")
	e := newInProcessExecutor(InProcessConfig{MaxInterpreters: 2}, hclog.NewNullLogger())
	defer func() { _ = e.Close() }()
	run := func(checked string) (string, error) {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := e.Run(ctx, &Invocation{Path: path, Stdout: &out, checked: checked})
		return out.String(), err
	}
	if out, err := run(first); err != nil || !strings.Contains(out, "FIRST") {
		t.Fatalf("first version: %q, %v", out, err)
	}
	if err := os.Rename(filepath.Join(dir, "next.go"), path); err != nil {
		t.Fatal(err)
	}
	// The server checked the first version before the swap: that version, from the cache.
	if out, err := run(first); err != nil || !strings.Contains(out, "FIRST") {
		t.Errorf("the checked first version after a swap: %q, %v", out, err)
	}
	// The server checked the second: it is read, and runs.
	if out, err := run(second); err != nil || !strings.Contains(out, "SECOND") {
		t.Errorf("the checked second version: %q, %v", out, err)
	}
	// An identity that is neither cached nor what the name leads to: nothing runs.
	if out, err := run(first + "0"); !errors.Is(err, ErrStart) || out != "" {
		t.Errorf("an unchecked identity: %q, %v; want ErrStart and no output", out, err)
	}
}
