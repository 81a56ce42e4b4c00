package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestInterpreterFlagReachesExecutor: an extension the executor cannot take is refused at
// start with exit status 2 and one line, like every bad command line.
func TestInterpreterFlagReachesExecutor(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--interpreter", `.py="unclosed`, "-d", t.TempDir()}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "unclosed quote") {
		t.Errorf("exit %d, stderr %q; want 2 and the executor's complaint", code, stderr.String())
	}
}
