// Command child is the behaviour suite's CGI script for the in-process executor, and the
// program that the consistency test also compiles and runs natively. It is written in the Go
// dialect that yaegi v0.16 interprets (no range over ints, no min/max/clear).
//
// Which script it is comes from its file name: it is copied as env.go, status.go, ...
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	name := filepath.Base(os.Getenv("SCRIPT_FILENAME"))
	name = strings.TrimSuffix(name, filepath.Ext(name))
	switch name {
	case "env":
		env := os.Environ()
		sort.Strings(env)
		out := "Content-Type: text/plain\n\n"
		for _, kv := range env {
			out += kv + "\n"
		}
		fmt.Print(out)
	case "echo":
		body, err := io.ReadAll(os.Stdin)
		if err != nil {
			os.Exit(1)
		}
		fmt.Printf("Content-Type: text/plain\n\nCONTENT_LENGTH=%s read=%d\n%s", os.Getenv("CONTENT_LENGTH"), len(body), body)
	case "status":
		fmt.Print("Status: 418 I'm a teapot\nContent-Type: text/plain\n\nteapot\n")
	case "lowerstatus":
		fmt.Print("status: 201 Created\ncontent-type: text/plain\n\ncreated\n")
	case "redirect-local":
		fmt.Print("Location: /cgi-bin/env.go?from=redirect\n\nignored body\n")
	case "redirect-static":
		fmt.Print("Location: /hello.txt\n\n")
	case "redirect-client":
		fmt.Print("Location: http://example.com/elsewhere\n\n")
	case "redirect-301":
		fmt.Print("Status: 301 Moved Permanently\nLocation: http://example.com/moved\n\n")
	case "redirect-loop":
		fmt.Print("Location: /cgi-bin/redirect-loop.go\n\n")
	case "setcookie":
		fmt.Print("Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\nX-Custom: yes\n\ncookies\n")
	case "lying-length":
		fmt.Print("Content-Type: text/plain\nContent-Length: 5\nTransfer-Encoding: chunked\n\nthe whole body, longer than five bytes\n")
	case "crlf":
		fmt.Print("Content-Type: text/plain\r\nX-Crlf: 1\r\n\r\ncrlf body\n")
	case "badheader":
		fmt.Print("Content-Type text/plain\n\nscript-body-text\n")
	case "noheaderend":
		fmt.Print("Content-Type: text/plain\n")
	case "nooutput":
	case "longheader":
		fmt.Print("X-Long: " + strings.Repeat("a", 70<<10) + "\n\n")
	case "exitfail":
		fmt.Print("Content-Type: text/plain\n\npartial but complete\n")
		os.Exit(7)
	case "hang":
		time.Sleep(time.Minute)
	case "hangbody":
		fmt.Print("Content-Type: text/plain\n\nfirst part\n")
		time.Sleep(time.Minute)
	case "stderrflood":
		line := strings.Repeat("e", 99) + "\n"
		for i := 0; i < 5000; i++ {
			fmt.Fprint(os.Stderr, line)
		}
		fmt.Fprintln(os.Stderr, "last line")
		fmt.Print("Content-Type: text/plain\n\nflooded\n")
	case "nph-raw":
		fmt.Print("HTTP/1.1 299 Custom Raw\r\nContent-Type: text/plain\r\nX-Nph: raw\r\nContent-Length: 9\r\nConnection: close\r\n\r\nraw body\n")
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode", name)
		os.Exit(2)
	}
}
