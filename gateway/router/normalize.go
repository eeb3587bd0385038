package router

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// reservedChars are the RFC 3986 reserved characters (plus '%') whose
// percent-encoded form Kong keeps encoded when it normalizes a path
// (Kong/kong:kong/tools/uri.lua).
const reservedChars = "!*'();:@&=+$,/?%#[]"

var isReserved = func() (t [256]bool) {
	for i := 0; i < len(reservedChars); i++ {
		t[reservedChars[i]] = true
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// NormalizePath normalizes a request path (the request-URI before '?') the
// way Kong does before routing:
//
//  1. %XX escapes of unreserved and "other" characters are decoded; escapes
//     of reserved characters stay encoded with the hex digits uppercased;
//  2. dot segments are removed (RFC 3986 5.2.4);
//  3. runs of '/' are merged.
//
// A result that is not valid UTF-8 is an error: Kong's router refuses such a
// path and the request gets a 404.
func NormalizePath(raw string) (string, error) {
	if raw == "" || raw == "/" {
		return raw, nil
	}
	uri := raw
	if strings.IndexByte(uri, '%') >= 0 {
		uri = decodeUnreserved(uri)
	}
	if strings.IndexByte(uri, '.') >= 0 || strings.Contains(uri, "//") {
		uri = removeDotSegments(uri)
	}
	if !utf8.ValidString(uri) {
		return "", fmt.Errorf("path %q is not valid UTF-8 after normalization", raw)
	}
	return uri, nil
}

// decodeUnreserved decodes %XX triplets of non-reserved characters and
// uppercases the hex digits of reserved ones, in one left-to-right pass.
func decodeUnreserved(s string) string {
	// Find the first triplet that changes something; most paths have none.
	first := -1
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			continue
		}
		if c := hi<<4 | lo; !isReserved[c] || s[i+1] != upperHex(s[i+1]) || s[i+2] != upperHex(s[i+2]) {
			first = i
			break
		}
		i += 2
	}
	if first < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:first]...)
	for i := first; i < len(s); {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				c := hi<<4 | lo
				if isReserved[c] {
					b = append(b, '%', upperHex(s[i+1]), upperHex(s[i+2]))
				} else {
					b = append(b, c)
				}
				i += 3
				continue
			}
		}
		b = append(b, s[i])
		i++
	}
	return string(b)
}

// removeDotSegments follows Kong's normalize() loop exactly, merging slashes.
// Output segments keep their leading '/', so popping one is a truncation.
func removeDotSegments(uri string) string {
	out := make([]byte, 0, len(uri))
	var marksBuf [32]int
	marks := marksBuf[:0] // start offset of each output segment
	pop := func() {
		if n := len(marks); n > 0 {
			out = out[:marks[n-1]]
			marks = marks[:n-1]
		}
	}
	at := func(i int) byte {
		if i < len(uri) {
			return uri[i]
		}
		return 0
	}
	for len(uri) > 0 {
		c1, c2, c3, c4 := at(0), at(1), at(2), at(3)
		switch {
		case uri == "/.":
			uri = "/"
		case uri == "/..":
			uri = "/"
			pop()
		case uri == "." || uri == "..":
			uri = ""
		case c1 == '.' && c2 == '.' && c3 == '/':
			uri = uri[3:]
		case c1 == '.' && c2 == '/':
			uri = uri[2:]
		case c1 == '/' && c2 == '.' && c3 == '/':
			uri = uri[2:]
		case c1 == '/' && c2 == '.' && c3 == '.' && c4 == '/':
			uri = uri[3:]
			pop()
		case c1 == '/' && c2 == '/':
			uri = uri[1:]
		default:
			marks = append(marks, len(out))
			if i := strings.IndexByte(uri[1:], '/'); i >= 0 {
				out = append(out, uri[:i+1]...)
				uri = uri[i+1:]
			} else {
				out = append(out, uri...)
				uri = ""
			}
		}
	}
	return string(out)
}
