// hello.go is workload (7): the hello script as Go, which cgihttpd runs in-process. It prints
// the same bytes as hello.sh.
package main

import "fmt"

func main() {
	fmt.Print("Content-Type: text/plain\n\nhello")
}
