// Command idleconns opens N keep-alive connections to a server, sends one GET on each, reads
// the response and then leaves them open, idle. It prints "ready N" (N: responses read) once
// every connection has had its answer, holds them for HOLD, and prints "open N": how many the
// server had not closed by then. bench/compare/run.sh reads the server's memory in between.
//
//	idleconns -addr 127.0.0.1:8000 -path /static/4k.bin -n 1000 -hold 3s
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server address")
	path := flag.String("path", "/", "path to GET on each connection")
	n := flag.Int("n", 1000, "connections")
	hold := flag.Duration("hold", 3*time.Second, "how long to hold them after the last answer")
	flag.Parse()

	conns := make([]net.Conn, *n)
	var mu sync.Mutex
	answered := 0
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // connect and ask at most 64 at a time
	for i := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := get(*addr, *path)
			if err != nil {
				fmt.Fprintln(os.Stderr, "idleconns:", err)
				return
			}
			conns[i] = c
			mu.Lock()
			answered++
			mu.Unlock()
		})
	}
	wg.Wait()
	fmt.Printf("ready %d\n", answered)
	time.Sleep(*hold)

	open := 0
	buf := make([]byte, 1)
	for _, c := range conns {
		if c == nil {
			continue
		}
		// A connection the server still holds gives a read timeout; a closed one gives EOF.
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var ne net.Error
		if _, err := c.Read(buf); errors.As(err, &ne) && ne.Timeout() {
			open++
		}
		_ = c.Close()
	}
	fmt.Printf("open %d\n", open)
}

// get dials addr, sends one keep-alive GET for path and reads the whole response.
func get(addr, path string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: keep-alive\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		_ = c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
