package server

import "strings"

// windowsPathProblem returns why Windows would read the collapsed URL path clean as another
// file than its letters say (ARCHITECTURE.md, "Windows names"), or "" when it would not:
//   - '\' is a separator there, which collapsePath did not treat as one;
//   - ':' makes a drive (/C:/...) or names an NTFS stream: x.bat::$DATA is x.bat's source;
//   - a trailing dot or space is dropped: x.bat. and "x.bat " open x.bat;
//   - CON, NUL, AUX, PRN, COM1-9 and LPT1-9 are devices in any directory and with any
//     extension (nul.txt), and so are CONIN$ and CONOUT$.
//
// It is pure so that it is tested everywhere; only Windows servers apply it
// (platformPathProblem).
func windowsPathProblem(clean string) string {
	for _, seg := range strings.Split(clean, "/") {
		switch {
		case seg == "":
		case strings.Contains(seg, `\`):
			return `backslash, a path separator on Windows`
		case strings.Contains(seg, ":"):
			return "colon: a drive letter or an NTFS stream"
		case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
			return "trailing dot or space, which Windows drops"
		case isDeviceName(seg):
			return "reserved device name"
		}
	}
	return ""
}

// isDeviceName reports whether Windows opens a device for the path segment seg: its part
// before the first dot, without trailing spaces, is a reserved name in any case. Windows 11
// also reserves COM0 and LPT0, and the superscript digits ¹²³, so they are refused too.
func isDeviceName(seg string) bool {
	base, _, _ := strings.Cut(seg, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if rest, ok := strings.CutPrefix(base, "COM"); ok {
		return isDeviceDigit(rest)
	}
	if rest, ok := strings.CutPrefix(base, "LPT"); ok {
		return isDeviceDigit(rest)
	}
	return false
}

func isDeviceDigit(s string) bool {
	switch s {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
		return true
	}
	return false
}
