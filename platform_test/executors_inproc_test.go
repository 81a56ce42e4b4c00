package platform_test

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
)

// goChild is the suite's script for the in-process executor, in yaegi's Go dialect.
var goChild = filepath.Join("..", "testdata", "gochild", "child.go")

// inProcessFactory runs the suite's scripts as Go source inside the server: no process, so
// nothing that needs one (a user, a process tree, a working directory of its own).
func inProcessFactory() executorFactory { return inProcessFactoryWith("inproc", "") }

// inProcessFactories are the in-process executor as the platform runs it by default, and,
// where that is inside the server (not root, or Windows), in an interpreter worker as well.
func inProcessFactories() []executorFactory {
	fs := []executorFactory{inProcessFactory()}
	if runtime.GOOS == "windows" || os.Geteuid() != 0 {
		fs = append(fs, inProcessFactoryWith("inproc-worker", "worker"))
	}
	return fs
}

func inProcessFactoryWith(name, isolation string) executorFactory {
	return executorFactory{
		name: name,
		mode: "inproc",
		new: func(t *testing.T) executor.Executor {
			e := executor.NewInProcess(executor.InProcessConfig{Isolation: isolation}, nil)
			// Each interpreter keeps a goroutine parked until closed.
			t.Cleanup(func() { _ = e.(io.Closer).Close() })
			return e
		},
		ext: ".go",
		install: func(t *testing.T, path string) {
			src, err := os.ReadFile(goChild)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, src, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
}
