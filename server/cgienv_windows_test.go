//go:build windows

package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildEnvWindows: the variables Windows programs need are passed, PATH is the system's
// default, and names differing only in case are one variable (the operator's extra wins over
// the default, the request's own meta-variable over the operator's).
func TestBuildEnvWindows(t *testing.T) {
	t.Setenv("CGIHTTPD_TEST_SECRET", "s3cret")
	s := newEnvServer(t, Config{Env: []string{"Path=C:\\opt\\bin", "query_string=forged", "My_Var=1"}})
	e := env(t, s, envRequest("GET", "/cgi-bin/x.bat?real=1"), defaultTarget, -1)

	root := os.Getenv("SystemRoot")
	wantVar(t, e, "SYSTEMROOT", root)
	wantVar(t, e, "WINDIR", root)
	wantVar(t, e, "COMSPEC", os.Getenv("ComSpec"))
	wantVar(t, e, "PATHEXT", os.Getenv("PATHEXT"))
	wantVar(t, e, "TEMP", os.Getenv("TEMP"))
	wantVar(t, e, "TMP", os.Getenv("TMP"))
	wantVar(t, e, "PATH", `C:\opt\bin`)
	wantVar(t, e, "QUERY_STRING", "real=1")
	wantVar(t, e, "MY_VAR", "1")
	for name, value := range e {
		if name != strings.ToUpper(name) {
			t.Errorf("%s=%q: every name is upper case, so that none can shadow another", name, value)
		}
		if strings.Contains(value, "s3cret") {
			t.Errorf("%s=%q leaks the server's environment", name, value)
		}
	}

	e = env(t, newEnvServer(t, Config{}), envRequest("GET", "/cgi-bin/x.bat"), defaultTarget, -1)
	if want := filepath.Join(root, "System32") + ";" + root + ";"; !strings.HasPrefix(e["PATH"], want) || e["PATH"] != defaultPath {
		t.Errorf("PATH = %q, want the system's default, starting %q", e["PATH"], want)
	}
}
