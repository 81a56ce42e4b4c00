//go:build unix

package platform_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// underWine: only Windows binaries run under Wine.
const underWine = false

const exeSuffix = ""

// defaultScriptPath is the PATH the server gives scripts (server/cgienv_other.go).
const defaultScriptPath = "/usr/local/bin:/usr/bin:/bin"

// oddName is a file name that a directory listing must escape, in HTML and in its link.
const oddName = "b&<c>.txt"

// platformCaps is what the platform, whatever the executor, can do for the suite.
var platformCaps = []capability{capSymlinks}

func nativeFactories() []executorFactory {
	caps := []capability{capKillsTree, capShellScripts, capExecBits, capWorkingDir}
	if os.Geteuid() == 0 {
		caps = append(caps, capDropsPrivileges)
	}
	return []executorFactory{{
		name: "unix",
		mode: "native",
		new: func(t *testing.T) executor.Executor {
			e, err := executor.NewNative(executor.Config{KillGrace: 300 * time.Millisecond, OutputGrace: 300 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CloseAtEnd(t, e)
			return e
		},
		caps:    caps,
		ext:     exeSuffix,
		install: linkChild,
	}}
}

// addPlatformFiles adds the Unix-only parts of the site: shell scripts and symlinks.
func addPlatformFiles(t *testing.T, root string) {
	t.Helper()
	scripts := map[string]string{
		"cgi-bin/hello.sh":     "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello from sh\\n'\n",
		"cgi-bin/closeout.sh":  "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhi'\nexec >&-\nsleep 30\n",
		"cgi-bin/badinterp":    "#!/nonexistent/interpreter\n",
		"cgi-bin/garbage":      "\x7fELF but not really a program\n",
		"../outside/script.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nescaped\\n'\n",
	}
	for name, body := range scripts {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"escape.txt":        "../outside/secret.txt",
		"cgi-bin/escape.sh": "../../outside/script.sh",
		"inside-link.txt":   "hello.txt",
		"cgi-bin/linkdir":   "../../outside",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
}
