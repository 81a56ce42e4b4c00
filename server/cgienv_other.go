//go:build !windows

package server

// defaultPath is the PATH a script gets unless the operator passes or sets another.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// baseEnv is where a script's environment starts: PATH, then the operator's extras.
func baseEnv(extra map[string]string) map[string]string {
	env := make(map[string]string, 40)
	env["PATH"] = defaultPath
	for k, v := range extra {
		env[k] = v
	}
	return env
}
