package server

import (
	"net/http"
	"strings"
)

// functionValue reports a header value that would put a shell function definition into a
// script's environment (Shellshock, CVE-2014-6271).
func functionValue(r *http.Request) (string, bool) {
	for name, values := range r.Header {
		for _, v := range values {
			if strings.HasPrefix(strings.TrimLeft(v, " \t"), "() {") {
				return name, true
			}
		}
	}
	return "", false
}
