//go:build unix

package executor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
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
		err := e.Run(ctx, &Invocation{Path: path, Stdout: &out, checked: fileIdentity(nil, checkedInfo)})
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
