package declarative

import (
	"net"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// reserved reports RFC 3986 reserved characters (plus '%'), which
// normalization keeps percent-encoded (kong/tools/uri.lua).
func reserved(c byte) bool {
	return strings.IndexByte("!*'();:@&=+$,/?%#[]", c) >= 0
}

func isHex(c byte) bool {
	_, ok := unhex(c)
	return ok
}

// NormalizePath normalizes a request or route path the way Kong does
// (kong/tools/uri.lua normalize with merge_slashes): percent-escapes of
// non-reserved characters are decoded, escapes of reserved ones are kept with
// uppercase hex, dot segments are removed and runs of '/' are merged.
func NormalizePath(uri string) string {
	if uri == "" || uri == "/" {
		return uri
	}
	if strings.IndexByte(uri, '%') >= 0 {
		var b strings.Builder
		b.Grow(len(uri))
		for i := 0; i < len(uri); i++ {
			c := uri[i]
			if c == '%' && i+2 < len(uri) && isHex(uri[i+1]) && isHex(uri[i+2]) {
				hi, _ := unhex(uri[i+1])
				lo, _ := unhex(uri[i+2])
				n := hi<<4 | lo
				if reserved(n) {
					b.WriteByte('%')
					b.WriteString(strings.ToUpper(uri[i+1 : i+3]))
				} else {
					b.WriteByte(n)
				}
				i += 2
				continue
			}
			b.WriteByte(c)
		}
		uri = b.String()
	}
	if !strings.Contains(uri, ".") && !strings.Contains(uri, "//") {
		return uri
	}
	var out []string
	for len(uri) > 0 {
		switch {
		case uri == "/.":
			uri = "/"
		case uri == "/..":
			uri = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case uri == "." || uri == "..":
			uri = ""
		case strings.HasPrefix(uri, "../"):
			uri = uri[3:]
		case strings.HasPrefix(uri, "./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/../"):
			uri = uri[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case strings.HasPrefix(uri, "//"):
			uri = uri[1:]
		default:
			i := strings.IndexByte(uri[1:], '/')
			if i >= 0 {
				out = append(out, uri[:i+1])
				uri = uri[i+1:]
			} else {
				out = append(out, uri)
				uri = ""
			}
		}
	}
	return strings.Join(out, "")
}

// regexMeta are the characters Kong's 2.x→3.0 path migration escapes with a
// backslash when it decodes them (kong/db/migrations/migrate_path_280_300.lua).
func regexMeta(c byte) bool {
	return strings.IndexByte(".^-{}\\|", c) >= 0
}

// migratePath converts a 1.1/2.1 route path to the 3.0 form.
func migratePath(p string) string {
	plain := true
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(isAlnum(c) || strings.IndexByte(".-_~/%", c) >= 0) {
			plain = false
			break
		}
	}
	if plain {
		return NormalizePath(p)
	}
	if strings.IndexByte(p, '%') < 0 {
		return "~" + p
	}
	var b strings.Builder
	b.WriteByte('~')
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			hi, _ := unhex(p[i+1])
			lo, _ := unhex(p[i+2])
			n := hi<<4 | lo
			switch {
			case reserved(n):
				b.WriteByte('%')
				b.WriteString(strings.ToUpper(p[i+1 : i+3]))
			case regexMeta(n):
				b.WriteByte('\\')
				b.WriteByte(n)
			default:
				b.WriteByte(n)
			}
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// pathChars reports whether every character of p after the leading '/'
// belongs to RFC 3986's pchar set (unreserved, sub-delims, ':', '@', '/', '%').
func pathChars(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(isAlnum(c) || strings.IndexByte(".-_~/%:@!$&'()*+,;=", c) >= 0) {
			return false
		}
	}
	return true
}

// badPercent returns the first malformed percent-escape ("%2w", "%", ...).
func badPercent(p string) (string, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			continue
		}
		if i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			i += 2
			continue
		}
		end := i + 3
		if end > len(p) {
			end = len(p)
		}
		return p[i:end], true
	}
	return "", false
}

// servicePathError validates a service path (typedefs.path).
func servicePathError(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "should start with: /"
	}
	if strings.Contains(p, "//") {
		return "must not have empty segments"
	}
	if !pathChars(p) {
		return "invalid path: '" + p + "' (characters outside of the reserved list of RFC 3986 found)"
	}
	if bad, ok := badPercent(p); ok {
		return "invalid url-encoded value: '" + bad + "'"
	}
	return ""
}

// routePathError validates one route path (typedefs.router_path) in 3.0 form.
func routePathError(p string) string {
	if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "~/") {
		return "should start with: / (fixed path) or ~/ (regex path)"
	}
	if strings.Contains(p, "//") {
		return "must not have empty segments"
	}
	if p[0] == '/' {
		if pathChars(p) {
			if bad, ok := badPercent(p); ok {
				return "invalid url-encoded value: '" + bad + "'"
			}
		}
		n := NormalizePath(p)
		if !utf8.ValidString(n) {
			// The router decodes the same escapes and could never match it.
			return "invalid path: " + strconv.QuoteToASCII(p) + " (not valid UTF-8 once percent-decoded)"
		}
		if n != p {
			return "non-normalized path, consider use '" + n + "' instead"
		}
		return ""
	}
	re := p[1:]
	// Parsing is enough to find syntax errors (and is cheaper than compiling).
	if _, err := syntax.Parse(re, syntax.Perl); err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return "invalid regex: '" + re + "' (" + msg + ")"
	}
	return ""
}

type hostKind int

const (
	hostName hostKind = iota
	hostIPv4
	hostIPv6
)

// parsedHost is the result of parseHost (Kong's utils.normalize_ip).
type parsedHost struct {
	kind    hostKind
	host    string
	port    int
	hasPort bool
}

// parseHost splits "host[:port]" and classifies the host. err is one of
// "invalid port number", "invalid hostname: <s>", "invalid ipv4 address: <s>",
// "invalid ipv6 address: <s>".
func parseHost(s string) (parsedHost, string) {
	var ph parsedHost
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return ph, "invalid ipv6 address: " + s
		}
		ip := net.ParseIP(s[1:end])
		if ip == nil || !strings.Contains(s[1:end], ":") {
			return ph, "invalid ipv6 address: " + s
		}
		ph.kind, ph.host = hostIPv6, s[1:end]
		rest := s[end+1:]
		if rest == "" {
			return ph, ""
		}
		if rest[0] != ':' {
			return ph, "invalid ipv6 address: " + s
		}
		return portOf(ph, rest[1:], s)
	}
	if strings.Count(s, ":") >= 2 {
		ip := net.ParseIP(s)
		if ip == nil {
			return ph, "invalid ipv6 address: " + s
		}
		ph.kind, ph.host = hostIPv6, s
		return ph, ""
	}
	host, port, hasPort := strings.Cut(s, ":")
	ph.host = host
	digitsDots := host != ""
	for i := 0; i < len(host); i++ {
		if !(host[i] >= '0' && host[i] <= '9' || host[i] == '.') {
			digitsDots = false
			break
		}
	}
	if digitsDots && strings.Count(host, ".") == 3 {
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() == nil {
			return ph, "invalid ipv4 address: " + s
		}
		ph.kind = hostIPv4
	} else if !validHostname(host) {
		return ph, "invalid hostname: " + s
	}
	if hasPort {
		return portOf(ph, port, s)
	}
	return ph, ""
}

func portOf(ph parsedHost, port, orig string) (parsedHost, string) {
	if port == "" {
		return ph, "invalid hostname: " + orig
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return ph, "invalid hostname: " + orig
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n > 65535 {
		return ph, "invalid port number"
	}
	ph.port, ph.hasPort = n, true
	return ph, ""
}

// validHostname: dot-separated non-empty labels of letters, digits, '_' and
// '-', no label ending in '-' (Kong accepts a leading '-', as in punycode).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(isAlnum(c) || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// serviceHostError is typedefs.host: a hostname or IP without a port.
func serviceHostError(h string) string {
	ph, err := parseHost(h)
	if err != "" && err != "invalid port number" {
		return "invalid value: " + h
	}
	if err == "invalid port number" || ph.hasPort {
		return "must not have a port"
	}
	return ""
}

// routeHostError validates one entry of route.hosts (wildcards, optional port).
func routeHostError(h string) string {
	n := strings.Count(h, "*")
	if n > 1 {
		return "invalid wildcard: must have at most one wildcard"
	}
	if n == 1 && !strings.HasPrefix(h, "*.") && !strings.HasSuffix(stripPort(h), ".*") {
		return "invalid wildcard: must be placed at leftmost or rightmost label"
	}
	_, err := parseHost(strings.Replace(h, "*", "abc", 1))
	if err != "" {
		if strings.HasPrefix(err, "invalid hostname: ") || strings.HasPrefix(err, "invalid ipv") {
			return "invalid hostname: " + h
		}
		return err
	}
	return ""
}

func stripPort(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[:i], ":") {
		return h[:i]
	}
	return h
}

// sniError is typedefs.wildcard_host (SNI names, route snis).
func sniError(h string) string {
	if i := strings.IndexByte(h, '*'); i >= 0 {
		if i != 0 && i != len(h)-1 {
			return "wildcard must be leftmost or rightmost character"
		}
		if strings.Count(h, "*") > 1 {
			return "only one wildcard must be specified"
		}
		h = strings.Replace(h, "*", "wildcard", 1)
	}
	ph, err := parseHost(h)
	if err != "" && err != "invalid port number" {
		return "invalid value: " + h
	}
	if err == "" && ph.kind != hostName {
		return "must not be an IP"
	}
	if err == "invalid port number" || ph.hasPort {
		return "must not have a port"
	}
	return ""
}

// upstreamNameError follows kong/db/schema/entities/upstreams.lua.
func upstreamNameError(name string) string {
	ph, err := parseHost(name)
	switch {
	case err != "":
		return "Invalid name ('" + name + "'); must be a valid hostname"
	case ph.kind != hostName:
		return "Invalid name ('" + name + "'); no ip addresses allowed"
	case ph.hasPort:
		return "Invalid name ('" + name + "'); no port allowed"
	}
	return ""
}

// normalizeTarget validates "host[:port]" and appends ":8000" when the port
// is missing. ok is false for an invalid target.
func normalizeTarget(t string) (string, bool) {
	ph, err := parseHost(t)
	if err != "" {
		return "", false
	}
	if ph.hasPort {
		return t, true
	}
	if ph.kind == hostIPv6 {
		return "[" + ph.host + "]:8000", true
	}
	return t + ":8000", true
}

// nameError is typedefs.utf8_name.
func nameError(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '.' || c == '-' || c == '_' || c == '~' || c >= 0x80 && c <= 0xF4 {
			continue
		}
		return "invalid value '" + s + "': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
	}
	return ""
}

// tagError is typedefs.tag.
func tagError(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c >= 0x21 && c <= 0x7e && c != ',' && c != '/' {
			continue
		}
		return "invalid tag '" + s + "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
	}
	return ""
}

var methodRe = regexp.MustCompile(`^[A-Z]+$`)
