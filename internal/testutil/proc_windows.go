//go:build windows

package testutil

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

func childProcesses() []int {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil
	}
	defer func() { _ = windows.CloseHandle(snap) }()
	me := uint32(os.Getpid())
	var kids []int
	var pe windows.ProcessEntry32
	pe.Size = uint32(unsafe.Sizeof(pe))
	for err = windows.Process32First(snap, &pe); err == nil; err = windows.Process32Next(snap, &pe) {
		// A dead parent's id can be reused, so the parent id alone may name a stranger's
		// child; only a live process counts at all.
		if pe.ParentProcessID == me && alive(int(pe.ProcessID)) {
			kids = append(kids, int(pe.ProcessID))
		}
	}
	return kids
}

func alive(pid int) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return true // it exists, and is not ours to inspect
	}
	if err != nil {
		return false
	}
	defer func() { _ = windows.CloseHandle(h) }()
	event, err := windows.WaitForSingleObject(h, 0)
	return err == nil && event == uint32(windows.WAIT_TIMEOUT)
}
