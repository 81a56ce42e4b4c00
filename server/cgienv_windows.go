//go:build windows

package server

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// systemRoot is the Windows directory, from the server's environment or else from Windows.
var systemRoot = func() string {
	if d := os.Getenv("SystemRoot"); d != "" {
		return d
	}
	d, _ := windows.GetSystemWindowsDirectory()
	return d
}()

// defaultPath is the PATH a script gets unless the operator passes or sets another: the
// system directories of a fresh Windows installation, where cmd.exe and powershell are.
var defaultPath = strings.Join([]string{
	filepath.Join(systemRoot, "System32"),
	systemRoot,
	filepath.Join(systemRoot, "System32", "Wbem"),
	filepath.Join(systemRoot, "System32", "WindowsPowerShell", "v1.0"),
}, ";")

// windowsEnv are the variables without which programs fail to start or to work on Windows
// (Winsock and the C runtime read SystemRoot; cmd.exe, COMSPEC and PATHEXT; temporary
// files, TEMP and TMP), with a fallback for a server started without them.
var windowsEnv = map[string]func() string{
	"SYSTEMROOT": func() string { return systemRoot },
	"WINDIR":     func() string { return systemRoot },
	"COMSPEC":    func() string { return filepath.Join(systemRoot, "System32", "cmd.exe") },
	"PATHEXT":    func() string { return ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC" },
	"TEMP":       os.TempDir,
	"TMP":        os.TempDir,
}

// baseEnv is where a script's environment starts: PATH and the variables Windows programs
// need, then the operator's extras. Windows compares variable names case-insensitively, so
// every name is upper-cased here: an extra "Path" replaces PATH, and an extra "query_string"
// is replaced by QUERY_STRING later, instead of both reaching the script.
func baseEnv(extra map[string]string) map[string]string {
	env := make(map[string]string, 40)
	env["PATH"] = defaultPath
	for name, fallback := range windowsEnv {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			env[name] = v
		} else {
			env[name] = fallback()
		}
	}
	for k, v := range extra {
		env[strings.ToUpper(k)] = v
	}
	return env
}
