//go:build !linux

package executor

import "os"

// growPipe does nothing: only Linux lets a pipe's buffer be resized.
func growPipe(*os.File, int) {}
