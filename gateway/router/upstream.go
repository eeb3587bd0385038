package router

import "strings"

// sanitizePostfix drops a leading "./" or "../" and turns "." or ".." into
// "" (Kong's sanitize_uri_postfix).
func sanitizePostfix(s string) string {
	switch {
	case s == "." || s == "..":
		return ""
	case strings.HasPrefix(s, "./"):
		return s[2:]
	case strings.HasPrefix(s, "../"):
		return s[3:]
	}
	return s
}

// UpstreamPath builds the path sent upstream (Kong's get_upstream_uri_v0, or
// the traditional router's v1 join when pathHandling is "v1"), then
// percent-encodes every character outside letters, digits,
// "-._~!#$&'()*+,/:;=?@[]" and '%'. The caller appends '?' and the raw query
// when the request had a '?'.
//
// servicePath is the service's path ("" means "/"), normalizedReqPath is the
// normalized request path R, matchedPrefix is the matched text P of the
// route path and stripped tells whether P is removed (strip_path=true and
// the route matched on a path). The traditional_compatible router ignores
// path_handling, so the proxy passes "v0" (see Match.UpstreamPath).
func UpstreamPath(servicePath, normalizedReqPath, matchedPrefix string, stripped bool, pathHandling string) string {
	base := servicePath
	if base == "" {
		base = "/"
	}
	req := normalizedReqPath
	var postfix string
	if stripped {
		if len(matchedPrefix) < len(req) {
			postfix = req[len(matchedPrefix):]
		}
	} else if len(req) > 0 {
		postfix = req[1:]
	}
	var u string
	if pathHandling != "v1" && base == "/" && stripped && postfix != "" && postfix[0] != '/' &&
		len(matchedPrefix) > 0 && req[len(matchedPrefix)-1] == '/' && sanitizePostfix(postfix) == postfix {
		// joinV0 would build "/" + postfix, which req already holds (the
		// common route path "/" with strip_path): no new string.
		return EscapePath(req[len(matchedPrefix)-1:])
	}
	if pathHandling == "v1" {
		u = joinV1(base, req, postfix, stripped)
	} else {
		u = joinV0(base, req, sanitizePostfix(postfix), stripped)
	}
	return EscapePath(u)
}

func joinV0(base, req, postfix string, strip bool) string {
	baseSlash := strings.HasSuffix(base, "/")
	reqSlash := strings.HasSuffix(req, "/")
	switch {
	case baseSlash && strip:
		switch {
		case postfix == "":
			if base == "/" {
				return "/"
			}
			if reqSlash {
				return base
			}
			return base[:len(base)-1]
		case postfix[0] == '/':
			return base[:len(base)-1] + postfix
		default:
			return base + postfix
		}
	case baseSlash:
		if base == "/" && len(req) > 0 && req[0] == '/' {
			return req // the common case, without building the same string
		}
		if len(req) > 0 {
			return base + req[1:]
		}
		return base
	case strip:
		switch {
		case postfix == "":
			if len(req) > 1 && reqSlash {
				return base + "/"
			}
			return base
		case postfix[0] == '/':
			return base + postfix
		default:
			return base + "/" + postfix
		}
	default:
		if req == "/" {
			return base
		}
		return base + req
	}
}

func joinV1(base, req, postfix string, strip bool) string {
	if strip {
		if strings.HasSuffix(base, "/") && strings.HasPrefix(postfix, "/") {
			return base[:len(base)-1] + postfix
		}
		return base + postfix
	}
	if len(req) > 0 {
		return base + req[1:]
	}
	return base
}

var keepUnescaped = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!#$&'()*+,/:;=?@[]%" {
		t[c] = true
	}
	return t
}()

// EscapePath percent-encodes (uppercase hex) every byte of p that Kong's
// uri.escape does not leave alone. p is returned unchanged (no allocation)
// when nothing needs encoding.
func EscapePath(p string) string {
	i := 0
	for i < len(p) && keepUnescaped[p[i]] {
		i++
	}
	if i == len(p) {
		return p
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+16)
	b = append(b, p[:i]...)
	for ; i < len(p); i++ {
		c := p[i]
		if keepUnescaped[c] {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}
