// Command helper is a small static program the tests of final bind-mount
// into containers (-v helper:/helper:ro) for what a minimal image lacks: a
// memory hog, a TCP server, raw system calls whose errno the seccomp
// tests read, and many files.
//
//	helper mem SIZE_MB     allocate and touch SIZE_MB MiB, print "allocated"
//	helper serve PORT      accept TCP connections and greet each with "hello from HOSTNAME"
//	helper dial ADDR:PORT  connect over TCP and print the first line the server sends
//	helper errno CALL...   make each call (see syscall.go), print "CALL ok" or "CALL ENAME"
//	helper keyring         print the id of the session keyring
//	helper getppid N       make N getppid calls, print the CPU nanoseconds one took
//	helper files N         make N small files in /many (a writable layer slow to delete)
//	helper try NAME ARG... make one escape attempt (see escape.go), print "ok" or the errno's name
//	helper hold            block until killed (an OCI container's long-lived process)
//	helper monitor ARG...  the same, with a command line like a minidocker monitor's (a look-alike)
//	helper stdin FILE      copy stdin to FILE (an OCI hook, which reads the state there)
//	helper print TEXT      print TEXT and a newline
//	helper hostname        print the hostname
//	helper tty             print what stdin is (/dev/pts/N for a terminal)
//	helper asuser UID GID TUN PROG ARG...  as root: bind TUN over /dev/net/tun in a mount namespace of its own, become UID:GID, exec PROG (asuser.go)
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "mem":
		allocate(number())
	case "serve":
		serve(number())
	case "dial":
		dial()
	case "errno":
		for _, name := range os.Args[2:] {
			fmt.Println(name, tryCall(name))
		}
	case "keyring":
		sessionKeyring()
	case "getppid":
		timeGetppid(number())
	case "files":
		files(number())
	case "try":
		try()
	case "hold", "monitor":
		for { // a timer, not select{}: Go would call that a deadlock
			time.Sleep(time.Hour)
		}
	case "tty":
		name, _ := os.Readlink("/proc/self/fd/0")
		fmt.Println("stdin is", name)
	case "hostname":
		name, _ := os.Hostname()
		fmt.Println(name)
	case "stdin":
		copyStdin()
	case "print":
		fmt.Println(strings.Join(os.Args[2:], " "))
	case "noop":
	case "asuser":
		asUser()
	default:
		usage()
	}
}

// usage says how to call the helper and exits 2.
func usage() {
	fmt.Fprintln(os.Stderr, "usage: helper mem MB | serve PORT | dial ADDR:PORT | errno CALL... | keyring | getppid N | files N | try NAME ARG... | hold | stdin FILE | print TEXT | hostname | tty | asuser UID GID TUN PROG ARG...")
	os.Exit(2)
}

// number is the subcommand's numeric argument.
func number() int {
	if len(os.Args) < 3 {
		usage()
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return n
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

// dial connects to os.Args[2] and prints the first line it is sent.
func dial() {
	if len(os.Args) < 3 {
		usage()
	}
	c, err := net.DialTimeout("tcp", os.Args[2], 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(line)
}

// files makes n small files in /many and prints "made N files".
func files(n int) {
	if err := os.MkdirAll("/many", 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; i < n; i++ {
		if err := os.WriteFile(fmt.Sprintf("/many/%d", i), []byte("x"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Println("made", n, "files")
}

// copyStdin copies stdin to the file named by the argument.
func copyStdin() {
	if len(os.Args) < 3 {
		usage()
	}
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = os.WriteFile(os.Args[2], data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
