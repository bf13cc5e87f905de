// Command helper is a small static program the tests of final bind-mount
// into containers (-v helper:/helper:ro) for what a minimal image lacks: a
// memory hog, and a TCP server.
//
//	helper mem SIZE_MB     allocate and touch SIZE_MB MiB, print "allocated"
//	helper serve PORT      accept TCP connections and greet each with "hello from HOSTNAME"
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: helper mem MB | helper serve PORT")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "mem":
		allocate(n)
	case "serve":
		serve(n)
	default:
		os.Exit(2)
	}
}

// allocate touches n MiB, page by page, so the memory is really used.
func allocate(n int) {
	var chunks [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		chunks = append(chunks, b)
	}
	fmt.Println("allocated", len(chunks), "MiB")
}

// serve greets every connection on port with the hostname.
func serve(port int) {
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening")
	name, _ := os.Hostname()
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		fmt.Fprintf(c, "hello from %s\n", name)
		c.Close()
	}
}
