//go:build !unix

package platform_test

import "testing"

const exeSuffix = ".exe"

// nativeFactories lists no native executor here yet: only the in-process one is tested.
func nativeFactories() []executorFactory { return nil }

func addPlatformFiles(*testing.T, string) {}
