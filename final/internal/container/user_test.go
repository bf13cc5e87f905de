//go:build linux

package container

import (
	"errors"
	"testing"
)

func TestParseIDRefusesWhatWouldWrap(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int
		inRange bool // false: errIDRange
	}{
		{"0", 0, true}, {"65534", 65534, true}, {"4294967294", 4294967294, true},
		{"4294967295", 0, false}, {"4294967296", 0, false}, {"-1", 0, false},
		{"18446744073709551616", 0, false},
	} {
		got, err := parseID(tc.in)
		if tc.inRange && (err != nil || got != tc.want) {
			t.Errorf("parseID(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if !tc.inRange && !errors.Is(err, errIDRange) {
			t.Errorf("parseID(%q) = %d, %v; want %v", tc.in, got, err, errIDRange)
		}
	}
	if _, err := parseID("nobody"); err == nil || errors.Is(err, errIDRange) {
		t.Errorf("parseID(\"nobody\") = %v; want a syntax error (a name, looked up)", err)
	}
}

func TestCheckUser(t *testing.T) {
	for spec, ok := range map[string]bool{
		"": true, "nobody": true, "1000:1000": true, "nobody:users": true,
		"4294967296": false, "65534:4294967296": false, "-1": false, "nobody:-1": false,
	} {
		if err := CheckUser(spec); (err == nil) != ok {
			t.Errorf("CheckUser(%q) = %v; want ok=%v", spec, err, ok)
		}
	}
}
