package server

import (
	"bytes"
	"strings"
	"testing"
)

func TestNPHRelay(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"status line becomes Status", "HTTP/1.1 299 Custom Raw\r\nX-A: 1\r\n\r\nbody", "Status: 299 Custom Raw\r\nX-A: 1\r\n\r\nbody"},
		{"HTTP/1.0 and extra spaces", "HTTP/1.0   404 Not Found\nX: y\n\n", "Status: 404 Not Found\nX: y\n\n"},
		{"no status line passes through", "Content-Type: text/plain\n\nhi", "Content-Type: text/plain\n\nhi"},
		{"not HTTP", "GOPHER/1 200 OK\n\n", "GOPHER/1 200 OK\n\n"},
		{"over-long first line passes through", strings.Repeat("x", maxNPHStatusLine+10), strings.Repeat("x", maxNPHStatusLine+10)},
	}
	for _, c := range cases {
		// Byte by byte and whole: a status line split across writes is still found.
		for _, chunk := range []int{1, 7, len(c.in)} {
			var out bytes.Buffer
			r := &nphRelay{dst: &out}
			for in := c.in; in != ""; {
				n := min(chunk, len(in))
				if w, err := r.Write([]byte(in[:n])); err != nil || w != n {
					t.Fatalf("%s: Write = %d, %v", c.name, w, err)
				}
				in = in[n:]
			}
			if out.String() != c.want {
				t.Errorf("%s (chunks of %d): got %q, want %q", c.name, chunk, out.String(), c.want)
			}
		}
	}
}
