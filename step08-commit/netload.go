//go:build linux

// Network experiments without nc, ping or curl in the rootfs: /bin/load
// (load.go) also speaks TCP and UDP.
//
//	load serve PORT[/udp]          answer each connection (or datagram) with one line,
//	                               "hello from HOSTNAME: you are ADDR:PORT"
//	load connect HOST:PORT[/udp]   connect, retrying for up to 10 seconds, print the answer
//
// The answer names the address the server saw the client come from: that
// is how the experiments see NAT at work. Run under the name "load", the
// step's binary does the same on the host, e.g. as the other end.

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// connectPatience is how long load connect keeps trying.
const connectPatience = 10 * time.Second

// netLoad runs load serve or load connect.
func netLoad(verb, target string) error {
	address, proto, _ := strings.Cut(target, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return fmt.Errorf("%s: protocol must be tcp or udp", target)
	}
	if verb == "serve" {
		return serve(":"+address, proto)
	}
	return connect(address, proto)
}

// serve answers every client until the process is killed.
func serve(address, proto string) error {
	name, _ := os.Hostname()
	if proto == "udp" {
		conn, err := net.ListenPacket("udp4", address)
		if err != nil {
			return err
		}
		fmt.Printf("load serve: listening on %s/udp\n", conn.LocalAddr())
		buf := make([]byte, 1500)
		for {
			_, peer, err := conn.ReadFrom(buf)
			if err != nil {
				return err
			}
			_, _ = conn.WriteTo([]byte(fmt.Sprintf("hello from %s: you are %s\n", name, peer)), peer)
		}
	}
	listener, err := net.Listen("tcp4", address)
	if err != nil {
		return err
	}
	fmt.Printf("load serve: listening on %s/tcp\n", listener.Addr())
	for {
		conn, err := listener.Accept()
		if err != nil {
			return err
		}
		fmt.Fprintf(conn, "hello from %s: you are %s\n", name, conn.RemoteAddr())
		conn.Close()
	}
}

// connect asks the server at address for its line and prints it, trying
// again until connectPatience has passed, so the server may start late.
func connect(address, proto string) error {
	deadline := time.Now().Add(connectPatience)
	for {
		line, err := ask(address, proto)
		if err == nil {
			fmt.Print(line)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("connect %s/%s: %w", address, proto, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ask makes one attempt: connect (for UDP, send a datagram) and read a line.
func ask(address, proto string) (string, error) {
	conn, err := net.DialTimeout(proto+"4", address, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if proto == "udp" {
		if _, err := conn.Write([]byte("hello\n")); err != nil {
			return "", err
		}
	}
	return bufio.NewReader(conn).ReadString('\n')
}
