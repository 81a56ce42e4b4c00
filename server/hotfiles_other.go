//go:build !linux

package server

import (
	"time"

	"github.com/hashicorp/go-hclog"
)

// hotFilesSupported reports whether paths can become hot here: not without change notification.
const hotFilesSupported = false

func newHotFiles(string, *fileCache, hclog.Logger) hotFiles { return noHotFiles{} }

// scriptMark carries nothing where no resolution is kept.
type scriptMark struct{}

// noHotFiles is for where there is no change notification.
type noHotFiles struct{}

func (noHotFiles) lookup(string, time.Time) *cachedFile                      { return nil }
func (noHotFiles) known(string) bool                                         { return false }
func (noHotFiles) promote(string, string, *cachedFile, time.Time)            {}
func (noHotFiles) readPending()                                              {}
func (noHotFiles) scriptMark() scriptMark                                    { return scriptMark{} }
func (noHotFiles) promoteScript(string, scriptTarget, scriptMark, time.Time) {}
func (noHotFiles) lookupScript(string, time.Time) (scriptTarget, bool) {
	return scriptTarget{}, false
}
func (noHotFiles) close() {}
