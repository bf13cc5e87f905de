//go:build linux

// login and logout: keep or forget a registry's credentials, in
// <root>/config.json (Docker's shape, mode 0600). login checks them with
// the registry first, and never prints the password.

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/registry"
)

// loginCommand is the login verb.
var loginCommand = &command{
	name: "login", usage: "login [OPTIONS] [SERVER]", short: "Log in to a registry",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		user := fs.StringP("username", "u", "", "user name")
		stdin := fs.Bool("password-stdin", false, "read the password from stdin")
		return func(s *session, args []string) error { return runLogin(s, *user, *stdin, args) }
	},
}

// logoutCommand is the logout verb.
var logoutCommand = &command{
	name: "logout", usage: "logout [SERVER]", short: "Forget a registry's credentials",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return runLogout
	},
}

// serverArg is the registry host login and logout work on (Docker Hub by default).
func serverArg(args []string) (string, error) {
	if len(args) > 1 {
		return "", usagef("requires at most 1 argument: the registry's host[:port]")
	}
	if len(args) == 0 {
		return "docker.io", nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(args[0], "https://"), "http://"), "/")
	if host == "" || strings.ContainsAny(host, "/@ ") {
		return "", fmt.Errorf("invalid registry %q: give host[:port], e.g. registry.example.com:5000", args[0])
	}
	if host == "index.docker.io" || host == "registry-1.docker.io" {
		host = "docker.io"
	}
	return host, nil
}

// runLogin checks the credentials with the registry and keeps them.
func runLogin(s *session, user string, stdin bool, args []string) error {
	host, err := serverArg(args)
	if err != nil {
		return err
	}
	if user == "" || !stdin {
		return usagef("give -u USER and --password-stdin (the password is read from stdin, never from the command line)")
	}
	pass, err := bufio.NewReader(io.LimitReader(os.Stdin, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password from stdin: %w", err)
	}
	pass = strings.TrimRight(pass, "\r\n")
	if pass == "" {
		return errors.New("the password on stdin is empty")
	}
	if err := s.open(); err != nil {
		return err
	}
	creds := registry.Credentials{User: user, Password: pass}
	if err := s.registryClient().Ping(host, creds); err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	if _, err := s.authFile().Store(host, &creds); err != nil {
		return err
	}
	fmt.Println("Login Succeeded")
	return nil
}

// runLogout forgets a registry's credentials.
func runLogout(s *session, args []string) error {
	host, err := serverArg(args)
	if err != nil {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	had, err := s.authFile().Store(host, nil)
	if err != nil {
		return err
	}
	if !had {
		fmt.Printf("Not logged in to %s\n", host)
		return nil
	}
	fmt.Printf("Removing login credentials for %s\n", host)
	return nil
}
