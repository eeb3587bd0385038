package router

import (
	"strings"
)

// reqInfo is the per-request data the predicates look at.
type reqInfo struct {
	req  *Request
	host string // lowercase, without port
	port int
	sni  string // lowercase, trailing dot removed
	tls  bool
}

// Match finds the highest-priority route matching req and fills m. It
// returns false (leaving m zeroed) when no route matches. Matching a prefix
// route does not allocate; the winning regex route is run once more to
// extract its match, and its Captures and Named are freshly allocated (they
// stay valid after m is reused).
func (r *Router) Match(req *Request, m *Match) bool {
	*m = Match{}
	if len(r.matchers) == 0 {
		return false
	}
	var ri reqInfo
	ri.req = req
	host, port, ok := splitHostPort(req.Host)
	if !ok {
		port = req.ListenerPort
	}
	ri.host = lowerASCII(host)
	ri.port = port
	ri.tls = req.Scheme == "https"
	if ri.tls {
		sni := req.SNI
		if len(sni) > 1 && sni[len(sni)-1] == '.' {
			sni = sni[:len(sni)-1]
		}
		ri.sni = lowerASCII(sni)
	}

	var buf [16][]int32
	fpath := ""
	if r.idx.hasFold {
		fpath = foldPath(req.Path)
	}
	lists := r.idx.candidates(ri.host, req.Path, fpath, buf[:0])

	if len(lists) == 1 {
		for _, rank := range lists[0] {
			if r.try(rank, &ri, m) {
				return true
			}
		}
		return false
	}
	// Merge the ascending rank lists; the first candidate that matches wins.
	for {
		best := int32(-1)
		for _, l := range lists {
			if len(l) > 0 && (best < 0 || l[0] < best) {
				best = l[0]
			}
		}
		if best < 0 {
			return false
		}
		for i, l := range lists {
			if len(l) > 0 && l[0] == best {
				lists[i] = l[1:]
			}
		}
		if r.try(best, &ri, m) {
			return true
		}
	}
}

// try evaluates the matcher of rank and fills m when it matches.
func (r *Router) try(rank int32, ri *reqInfo, m *Match) bool {
	mt := &r.matchers[rank]
	pi, needsHTTPS, ok := mt.match(ri)
	if !ok {
		return false
	}
	m.Route = mt.route
	m.Service = mt.service
	m.NeedsHTTPS = needsHTTPS
	if pi < 0 {
		return true
	}
	m.MatchedPath = true
	m.Strip = mt.strip
	p := &mt.paths[pi]
	m.RoutePath = p.raw
	text := p.prefix
	if p.re != nil && (mt.strip || p.re.NumSubexp() > 0) {
		text = fillCaptures(p, ri.req.Path, m)
	}
	if mt.strip {
		m.Prefix = text
	}
	return true
}

// fillCaptures runs the winning regex again to extract its match and groups;
// it returns the text of the whole match.
func fillCaptures(p *pathPred, path string, m *Match) string {
	re := p.re
	n := re.NumSubexp()
	if n == 0 {
		loc := re.FindStringIndex(path)
		if loc == nil {
			return ""
		}
		return path[loc[0]:loc[1]]
	}
	loc := re.FindStringSubmatchIndex(path)
	if loc == nil {
		return ""
	}
	caps := make([]string, n+1)
	for i := range caps {
		if loc[2*i] >= 0 {
			caps[i] = path[loc[2*i]:loc[2*i+1]]
		}
	}
	m.Captures = caps
	for i, name := range re.SubexpNames() {
		if name == "" {
			continue
		}
		if m.Named == nil {
			m.Named = make(map[string]string, 2)
		}
		m.Named[name] = caps[i]
	}
	return caps[0]
}

// match evaluates every predicate of the matcher. It returns the index of the
// matching path (-1 when the route has no paths) and whether the request needs
// an https redirect.
func (mt *matcher) match(ri *reqInfo) (int, bool, bool) {
	needsHTTPS := false
	switch {
	case mt.httpsOnly:
		needsHTTPS = !ri.tls
	case ri.tls && !mt.allowTLS, !ri.tls && !mt.allowPlain:
		return 0, false, false
	}
	if len(mt.methods) > 0 {
		ok := false
		for _, x := range mt.methods {
			if x == ri.req.Method {
				ok = true
				break
			}
		}
		if !ok {
			return 0, false, false
		}
	}
	if len(mt.hosts) > 0 {
		if ri.req.Host == "" {
			return 0, false, false
		}
		ok := false
		for i := range mt.hosts {
			if mt.hosts[i].match(ri.host, ri.port) {
				ok = true
				break
			}
		}
		if !ok {
			return 0, false, false
		}
	}
	if len(mt.snis) > 0 && ri.tls {
		if ri.req.SNI == "" {
			return 0, false, false // no server name sent: nothing to compare
		}
		ok := false
		for i := range mt.snis {
			if mt.snis[i].match(ri.sni, anyPort) {
				ok = true
				break
			}
		}
		if !ok {
			return 0, false, false
		}
	}
	if len(mt.headers) > 0 {
		h := ri.req.Headers
		if h == nil {
			return 0, false, false
		}
		for i := range mt.headers {
			if !mt.headers[i].match(h) {
				return 0, false, false
			}
		}
	}
	pi := -1
	if len(mt.paths) > 0 {
		path := ri.req.Path
		for i := range mt.paths {
			p := &mt.paths[i]
			if p.re == nil {
				if strings.HasPrefix(path, p.prefix) {
					pi = i
					break
				}
			} else if p.mayMatch(path) && p.re.MatchString(path) {
				pi = i
				break
			}
		}
		if pi < 0 {
			return 0, false, false
		}
	}
	return pi, needsHTTPS, true
}

func (hp *headerPred) match(h Headers) bool {
	if hp.matchValues(h.PeekAll(hp.dash)) {
		return true
	}
	return hp.under != "" && hp.matchValues(h.PeekAll(hp.under))
}

func (hp *headerPred) matchValues(vals [][]byte) bool {
	for _, v := range vals {
		for _, want := range hp.eq {
			if equalFoldASCII(v, want) {
				return true
			}
		}
		for _, re := range hp.res {
			if re.Match(v) {
				return true
			}
		}
	}
	return false
}

// equalFoldASCII reports whether lowercasing v (ASCII only, like Lua's
// string.lower) gives want, which is already lowercase.
func equalFoldASCII(v []byte, want string) bool {
	if len(v) != len(want) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// lowerASCII lowercases ASCII letters, allocating only when s has any
// uppercase letter.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// mayMatch is the cheap prefilter of a regex path: the path must contain the
// regex's required literal and start with one of its possible prefixes.
func (p *pathPred) mayMatch(path string) bool {
	if p.must != "" && !strings.Contains(path, p.must) {
		return false
	}
	for i := range p.keys {
		if hasFoldPrefix(path, p.keys[i].fold) {
			return true
		}
	}
	return false
}
