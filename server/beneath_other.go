//go:build !linux

package server

import (
	"errors"
	"os"
)

// beneath has no faster path than os.Root here: every call reports errors.ErrUnsupported.
type beneath struct{}

func newBeneath(string) beneath                       { return beneath{} }
func (beneath) close()                                {}
func (beneath) open(string, string) (*os.File, error) { return nil, errors.ErrUnsupported }
func (beneath) locate(string) (string, bool, error)   { return "", false, errors.ErrUnsupported }

// noBeneath is a beneath that leaves everything to os.Root.
var noBeneath = beneath{}
