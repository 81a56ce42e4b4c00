//go:build !unix && !windows

package platform_test

import "testing"

// underWine: only Windows binaries run under Wine.
const underWine = false

const exeSuffix = ".exe"

// defaultScriptPath is the PATH the server gives scripts (server/cgienv_other.go).
const defaultScriptPath = "/usr/local/bin:/usr/bin:/bin"

// oddName is a file name that a directory listing must escape, in HTML and in its link.
const oddName = "b&<c>.txt"

// platformCaps is what the platform, whatever the executor, can do for the suite.
var platformCaps []capability

// nativeFactories lists no native executor here yet: only the in-process one is tested.
func nativeFactories() []executorFactory { return nil }

func addPlatformFiles(*testing.T, string) {}
