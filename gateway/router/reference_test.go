package router

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"luagate/declarative"
)

// This file is a deliberately naive re-implementation of Kong's
// traditional_compatible router: split every route, sort all of them by
// (priority tuple, id) and return the first one whose predicates all hold.
// It shares no matching code with the package, so the property tests and
// FuzzMatch compare two independent readings of the spec.

type refEntry struct {
	route    *declarative.Route
	id       string
	paths    []string
	regex    bool
	sortKey  [6]int64 // weight, plain host, header count, regex, regex_priority, prefix length
	inputPos int
}

type refResult struct {
	route       *declarative.Route
	matchedPath bool
	text        string // matched prefix or regex match
	needsHTTPS  bool
}

type refRouter struct {
	entries []refEntry
	res     map[string]*regexp.Regexp
}

func newRef(routes []*declarative.Route) *refRouter {
	ref := &refRouter{res: map[string]*regexp.Regexp{}}
	for pos, r := range routes {
		if r.Service != nil && !r.Service.Enabled {
			continue
		}
		if len(r.Protocols) > 0 {
			if p := r.Protocols[0]; p == "tcp" || p == "tls" || p == "udp" || p == "tls_passthrough" {
				continue
			}
		}
		// group paths: regexes together, prefixes by length, numbered by first appearance
		type grp struct {
			key   int // -1 regex, else length
			paths []string
		}
		var groups []*grp
		for _, p := range r.Paths {
			k := len(p)
			if strings.HasPrefix(p, "~") {
				k = -1
			}
			var g *grp
			for _, x := range groups {
				if x.key == k {
					g = x
				}
			}
			if g == nil {
				g = &grp{key: k}
				groups = append(groups, g)
			}
			g.paths = append(g.paths, p)
		}
		nh := 0
		for _, v := range r.Headers {
			if len(v) > 0 {
				nh++
			}
		}
		weight := 0
		for _, n := range []int{len(r.Methods), len(r.Hosts), nh, len(r.SNIs), len(r.Paths)} {
			if n > 0 {
				weight++
			}
		}
		plain := int64(0)
		if len(r.Hosts) > 0 {
			plain = 1
			for _, h := range r.Hosts {
				if strings.Contains(h, "*") {
					plain = 0
				}
			}
		}
		base := refEntry{route: r, id: strings.ToLower(r.ID), inputPos: pos}
		base.sortKey = [6]int64{int64(weight), plain, int64(min(nh, 255)), 0, 0, 0}
		if len(groups) == 0 {
			ref.entries = append(ref.entries, base)
			continue
		}
		for i, g := range groups {
			e := base
			e.paths = g.paths
			if len(groups) > 1 {
				e.id = uuid5(splitNamespace, r.ID+"#"+strconv.Itoa(i+1))
			}
			if g.key < 0 {
				e.regex = true
				e.sortKey[3] = 1
				e.sortKey[4] = int64(r.RegexPriority)
				for _, p := range g.paths {
					if ref.res[p] == nil {
						ref.res[p] = regexp.MustCompile("^" + p[1:])
					}
				}
			} else {
				e.sortKey[5] = int64(g.key)
			}
			ref.entries = append(ref.entries, e)
		}
	}
	sort.SliceStable(ref.entries, func(i, j int) bool {
		a, b := ref.entries[i], ref.entries[j]
		for k := range a.sortKey {
			if a.sortKey[k] != b.sortKey[k] {
				return a.sortKey[k] > b.sortKey[k]
			}
		}
		if a.id != b.id {
			return a.id > b.id
		}
		return a.inputPos < b.inputPos
	})
	return ref
}

func refSplitHost(h string) (string, int, bool) {
	host, ps, ok := strings.Cut(h, ":")
	if !ok || ps == "" {
		return h, -1, false
	}
	for _, c := range ps {
		if c < '0' || c > '9' {
			return h, -1, false
		}
	}
	n, err := strconv.Atoi(ps)
	if err != nil || n > 1<<20 {
		n = -2
	}
	return host, n, true
}

func refHostMatch(pattern, host string) bool {
	pattern = strings.ToLower(pattern)
	switch {
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(host, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(host, pattern[:len(pattern)-1])
	}
	return host == pattern
}

func (ref *refRouter) match(req *Request) (refResult, bool) {
	host, port, hasPort := refSplitHost(req.Host)
	if !hasPort {
		port = req.ListenerPort
	}
	host = strings.ToLower(host)
	isTLS := req.Scheme == "https"
	for _, e := range ref.entries {
		r := e.route
		res := refResult{route: r}
		plain, tls := len(r.Protocols) == 0, len(r.Protocols) == 0
		for _, p := range r.Protocols {
			plain = plain || p == "http" || p == "grpc"
			tls = tls || p == "https" || p == "grpcs"
		}
		if len(r.Protocols) == 1 && r.Protocols[0] == "https" {
			res.needsHTTPS = !isTLS
		} else if isTLS && !tls || !isTLS && !plain {
			continue
		}
		if len(r.Methods) > 0 && !contains(r.Methods, req.Method) {
			continue
		}
		if len(r.Hosts) > 0 {
			if req.Host == "" {
				continue
			}
			ok := false
			for _, h := range r.Hosts {
				hh, hp, _ := refSplitHost(h)
				if refHostMatch(hh, host) && (hp == -1 || hp == port) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if len(r.SNIs) > 0 && isTLS {
			if req.SNI == "" {
				continue
			}
			sni := strings.ToLower(strings.TrimSuffix(req.SNI, "."))
			if req.SNI == "." {
				sni = "."
			}
			ok := false
			for _, s := range r.SNIs {
				s = strings.ToLower(s)
				if len(s) > 1 {
					s = strings.TrimSuffix(s, ".")
				}
				if refHostMatch(s, sni) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if !refHeadersMatch(r.Headers, req.Headers) {
			continue
		}
		if len(e.paths) > 0 {
			found := false
			for _, p := range e.paths {
				if e.regex {
					if loc := ref.res[p].FindStringIndex(req.Path); loc != nil {
						found, res.text = true, req.Path[loc[0]:loc[1]]
						break
					}
				} else if strings.HasPrefix(req.Path, p) {
					found, res.text = true, p
					break
				}
			}
			if !found {
				continue
			}
			res.matchedPath = true
		}
		return res, true
	}
	return refResult{}, false
}

func refHeadersMatch(want map[string][]string, h Headers) bool {
	for name, vals := range want {
		if len(vals) == 0 {
			continue
		}
		if h == nil {
			return false
		}
		n := strings.ToLower(name)
		got := h.PeekAll(strings.ReplaceAll(n, "_", "-"))
		if u := strings.ReplaceAll(n, "-", "_"); u != strings.ReplaceAll(n, "_", "-") {
			got = append(got, h.PeekAll(u)...)
		}
		ok := false
		for _, g := range got {
			lg := asciiLower(string(g))
			for _, v := range vals {
				if strings.HasPrefix(v, "~*") {
					if regexp.MustCompile("(?i)" + v[2:]).MatchString(string(g)) {
						ok = true
					}
				} else if lg == asciiLower(v) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
