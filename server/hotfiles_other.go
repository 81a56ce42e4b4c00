//go:build !linux

package server

import "github.com/hashicorp/go-hclog"

func newHotFiles(string, *fileCache, hclog.Logger) hotFiles { return noHotFiles{} }

// scriptMark carries nothing where no resolution is kept.
type scriptMark struct{}
