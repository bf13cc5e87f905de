// Tests of the -p grammar: every form Docker accepts that we take, and a
// one-line error for the rest. No root needed.

package network

import (
	"fmt"
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	cases := []struct {
		spec  string
		want  string // the mappings, joined by spaces
		fails string
	}{
		{"8080:80", "8080:80/tcp", ""},
		{"8080:80/tcp", "8080:80/tcp", ""},
		{"5353:53/udp", "5353:53/udp", ""},
		{"127.0.0.1:8080:80", "127.0.0.1:8080:80/tcp", ""},
		{"127.0.0.1::80", "127.0.0.1:0:80/tcp", ""},
		{"80", "0:80/tcp", ""},
		{"80/udp", "0:80/udp", ""},
		{"8000-8001:80-81", "8000:80/tcp 8001:81/tcp", ""},
		{"80-82", "0:80/tcp 0:81/tcp 0:82/tcp", ""},
		{"99999:80", "", "invalid host port 99999: ports are 1-65535"},
		{"8080:0", "", "invalid container port 0: ports are 1-65535"},
		{"abc", "", "invalid container port abc: ports are 1-65535"},
		{"abc:80", "", "invalid host port abc: ports are 1-65535"},
		{"8080:", "", `missing container port in "8080:"`},
		{"", "", `missing container port in ""`},
		{"8080:80/sctp", "", `invalid protocol "sctp"`},
		{"localhost:8080:80", "", `invalid host IP "localhost"`},
		{"[::1]:8080:80", "", "IPv6"},
		{"1:2:3:4", "", "too many colons"},
		{"8000-8002:80-81", "", "differ in number"},
		{"8001-8000:80-81", "", "invalid host port range 8001-8000"},
		{"8000-:80", "", "missing host port"},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			ms, err := ParsePublish(c.spec)
			if c.fails != "" {
				if err == nil || !strings.Contains(err.Error(), c.fails) {
					t.Fatalf("ParsePublish(%q) = %v, %v; want an error with %q", c.spec, ms, err, c.fails)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("the error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublish(%q): %v", c.spec, err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.String())
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("ParsePublish(%q) = %v, want %s", c.spec, got, c.want)
			}
		})
	}
}

func TestPortInUseErrorSaysWhatToDo(t *testing.T) {
	cases := []struct {
		proto, want string
	}{
		{"tcp", "port 8080 is already in use: choose another host port with -p"},
		{"udp", "port 8080/udp is already in use: choose another host port with -p"},
	}
	for _, c := range cases {
		t.Run(c.proto, func(t *testing.T) {
			if got := fmt.Sprint(&PortInUseError{Port: 8080, Proto: c.proto}); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"bridge", "host", "none"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseMode("overlay"); err == nil || !strings.Contains(err.Error(), "want bridge, host or none") {
		t.Errorf("ParseMode(overlay): %v", err)
	}
}
