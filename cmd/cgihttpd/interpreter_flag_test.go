package main

import (
	"bytes"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestInterpreterFlag(t *testing.T) {
	o, err := parseArgs([]string{"--interpreter", ".py=python3 -u", "--interpreter", `.pl="C:\Perl 5\perl.exe"`, "--interpreter", ".x=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{".py": "python3 -u", ".pl": `"C:\Perl 5\perl.exe"`, ".x": "a=b"}
	if !reflect.DeepEqual(o.interpreters, want) {
		t.Errorf("interpreters = %q, want %q", o.interpreters, want)
	}
	if !strings.Contains(usageText, "--interpreter .EXT=COMMAND") {
		t.Error("--help does not explain --interpreter")
	}
	for _, bad := range []string{"py=python", ".py", ".py=", ".py=  ", "=python", ".=python"} {
		if _, err := parseArgs([]string{"--interpreter", bad}); err == nil || !strings.Contains(err.Error(), "--interpreter") {
			t.Errorf("--interpreter %q: err = %v, want a complaint about --interpreter", bad, err)
		}
	}
}

// TestInterpreterFlagReachesExecutor: an extension the executor cannot take is refused at
// start with exit status 2 and one line, like every bad command line.
func TestInterpreterFlagReachesExecutor(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--interpreter", `.py="unclosed`, "-d", t.TempDir()}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "unclosed quote") {
		t.Errorf("exit %d, stderr %q; want 2 and the executor's complaint", code, stderr.String())
	}
}

// TestUserFlag: Windows has no nobody to switch to, so an explicit --user is refused there
// instead of being ignored; elsewhere it names the account.
func TestUserFlag(t *testing.T) {
	o, err := parseArgs([]string{"--user", "www-data"})
	if runtime.GOOS == "windows" {
		if err == nil || !strings.Contains(err.Error(), "--user is not supported on Windows") {
			t.Fatalf("--user on Windows: err = %v, want a refusal", err)
		}
		if _, err := parseArgs(nil); err != nil {
			t.Fatalf("no --user on Windows: %v", err)
		}
		return
	}
	if err != nil || o.user != "www-data" {
		t.Fatalf("--user www-data: %+v, %v", o, err)
	}
}
