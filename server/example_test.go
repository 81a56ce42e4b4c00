package server_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/cgihttpd/cgihttpd/server"
)

// helloScript is a CGI script in Go: the default executor mode runs .go files in-process,
// so this example runs the same way on every platform, with no process spawned.
const helloScript = `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Print("Content-Type: text/plain\r\n\r\n")
	fmt.Println("hello from", os.Getenv("SCRIPT_NAME"), "for", os.Getenv("QUERY_STRING"))
}
`

// Example mounts cgihttpd in a Go program's own mux, beside the program's other handlers:
// /site/ serves a directory and runs its /cgi-bin scripts.
func Example() {
	root, err := os.MkdirTemp("", "site")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(root) }()
	// Run as root, scripts run as nobody, who must be able to read them.
	must(os.Chmod(root, 0o755))
	must(os.Mkdir(filepath.Join(root, "cgi-bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "hello.txt"), []byte("a static file\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "cgi-bin", "hello.go"), []byte(helloScript), 0o644))

	site, err := server.New(server.Config{Root: root}, nil) // nil: no logging
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = site.Close() }() // after ts.Close: ends the in-process interpreters
	mux := http.NewServeMux()
	mux.Handle("/site/", http.StripPrefix("/site", site))
	mux.HandleFunc("/api/ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "pong\n") })
	ts := httptest.NewServer(mux)
	defer ts.Close()

	for _, path := range []string{"/api/ping", "/site/hello.txt", "/site/cgi-bin/hello.go?name=ada"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d %s", resp.StatusCode, body)
	}
	// Output:
	// 200 pong
	// 200 a static file
	// 200 hello from /cgi-bin/hello.go for name=ada
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
