//go:build !unix

package platform_test

import "testing"

const exeSuffix = ".exe"

// executorFactories lists no native executor here yet: the suite skips with that reason.
func executorFactories() []executorFactory { return nil }

func addPlatformFiles(*testing.T, string) {}
