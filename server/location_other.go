//go:build !linux && !darwin && !windows

package server

import (
	"errors"
	"os"
)

const caseInsensitiveNames = false

// fileLocation cannot read a descriptor's path here: docRoot.location resolves the name.
func fileLocation(*os.File) (string, error) { return "", errors.ErrUnsupported }

func linkCount(os.FileInfo) uint64 { return 1 }

func changeTime(os.FileInfo) int64 { return 0 }
