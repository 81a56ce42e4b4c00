//go:build !unix

package executor

import (
	"fmt"
	"os"
)

// runShim has nothing to do where there are no rlimits.
func runShim([]string) int {
	fmt.Fprintln(os.Stderr, "cgihttpd limit shim: not supported on this platform")
	return 127
}
