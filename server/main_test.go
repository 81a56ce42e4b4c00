package server_test

import (
	"os"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
)

// TestMain lets this test binary be the interpreter worker of the in-process scripts that
// the tests run (see executor.RunWorkerIfRequested).
func TestMain(m *testing.M) {
	executor.RunWorkerIfRequested()
	os.Exit(m.Run())
}
