// Command plain is the ceiling that no file or script server can beat: compiled net/http
// handlers that write fixed bytes from memory. /4k writes the same 4 KiB as the static file of
// workload (5); /hello writes what hello.sh and hello.go print, for workload (7).
//
//	plain -addr 127.0.0.1:8000 -file4k /srv/www/static/4k.bin
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	file4k := flag.String("file4k", "", "file whose bytes /4k writes")
	flag.Parse()

	data, err := os.ReadFile(*file4k)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plain:", err)
		os.Exit(1)
	}
	hello := []byte("hello")
	mux := http.NewServeMux()
	mux.HandleFunc("/4k", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(hello)
	})
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "plain:", err)
		os.Exit(1)
	}
}
