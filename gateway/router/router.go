package router

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"luagate/declarative"
)

// Headers gives the matcher every value of a request header.
// *fasthttp.RequestHeader satisfies it. Keys are passed lowercase with '-'
// (and, for names written with '_', a second lookup uses '_'); the
// implementation must look names up case-insensitively.
type Headers interface {
	PeekAll(key string) [][]byte
}

// Request holds the routing inputs of one HTTP request.
type Request struct {
	Method       string
	Host         string // raw Host header, including any ":port"
	Path         string // normalized with NormalizePath
	Scheme       string // "http" or "https" (after trusted X-Forwarded-Proto)
	SNI          string // TLS server name; ignored unless Scheme is "https"
	ListenerPort int    // port of the listener; used when Host has no port
	Headers      Headers
}

// Match is the result of a successful match. A Match may be reused: Router.Match
// overwrites every field.
type Match struct {
	Route   *declarative.Route
	Service *declarative.Service // nil for a serviceless route (proxy answers 503)
	// Prefix is the matched text P of the route path (the prefix itself or
	// the whole regex match) when strip_path applies, else "".
	Prefix string
	// Strip is true when strip_path is on and the route matched on a path,
	// i.e. Prefix is removed from the upstream path.
	Strip bool
	// MatchedPath is true when the route matched on one of its paths.
	MatchedPath bool
	// RoutePath is the route path that matched, as written in the route
	// (Kong's router_matches.uri); "" when MatchedPath is false.
	RoutePath string
	// Captures holds the regex captures when the matched path is a regex with
	// at least one group: index 0 is the whole match, then each group in
	// order ("" for a group that did not participate). nil otherwise.
	Captures []string
	// Named maps named groups to their captured text (nil when none).
	Named map[string]string
	// NeedsHTTPS is true when the route's only protocol is https and the
	// request came over plain http: the proxy answers 426 or redirects
	// according to Route.HTTPSRedirectStatusCode (spec 3.6).
	NeedsHTTPS bool
}

// UpstreamPath returns the upstream path for this match (before the query),
// given the normalized request path. traditional_compatible ignores
// path_handling, so the v0 join is used.
func (m *Match) UpstreamPath(normalizedReqPath string) string {
	var base string
	if m.Service != nil {
		base = m.Service.Path
	}
	return UpstreamPath(base, normalizedReqPath, m.Prefix, m.Strip, "v0")
}

// Router is a compiled, immutable route table.
type Router struct {
	matchers []matcher // sorted by descending (priority, id): index = rank
	idx      hostIndex
	nRoutes  int
}

// Len reports the number of routes in the router (before splitting).
func (r *Router) Len() int { return r.nRoutes }

type hostKind uint8

const (
	hostExact  hostKind = iota
	hostSuffix          // "*.example.com": value ".example.com"
	hostPrefix          // "example.*": value "example."
)

type hostPred struct {
	kind  hostKind
	value string // lowercase
	port  int    // anyPort, or the port the request must use
}

func (h *hostPred) match(host string, port int) bool {
	if h.port != anyPort && h.port != port {
		return false
	}
	switch h.kind {
	case hostSuffix:
		return strings.HasSuffix(host, h.value)
	case hostPrefix:
		return strings.HasPrefix(host, h.value)
	default:
		return host == h.value
	}
}

type pathPred struct {
	raw    string         // the path as written in the route ("~/..." for a regex)
	prefix string         // prefix path (re == nil)
	re     *regexp.Regexp // anchored regex ("^" + pattern)
	lit    string         // prefix path: the index key
	keys   []regexKey     // regex: possible starts of a match (index keys, prefilter)
	must   string         // regex: text every match contains (prefilter)
}

type headerPred struct {
	dash  string // lowercase name with '_' replaced by '-'
	under string // lowercase name with '-' replaced by '_' ("" when equal to dash)
	eq    []string
	res   []*regexp.Regexp
}

type matcher struct {
	route   *declarative.Route
	service *declarative.Service
	id      string // lowercase id (derived id for a split route)
	prio    uint64
	order   int // position in the input, for a deterministic order of duplicates

	methods    []string
	hosts      []hostPred
	paths      []pathPred
	headers    []headerPred
	snis       []hostPred
	allowPlain bool // plain http requests match
	allowTLS   bool // https requests match
	httpsOnly  bool // protocols is exactly [https]: plain requests match with NeedsHTTPS
	strip      bool
}

// New compiles routes into a Router. Routes of disabled services and stream
// routes (tcp, tls, tls_passthrough, udp) are left out. An invalid regex in a
// path or header is an error naming the route.
func New(routes []*declarative.Route) (*Router, error) {
	r := &Router{}
	for i, rt := range routes {
		if rt == nil {
			continue
		}
		if rt.Service != nil && !rt.Service.Enabled {
			continue
		}
		if isStreamRoute(rt) {
			continue
		}
		ms, err := compileRoute(rt, i)
		if err != nil {
			return nil, err
		}
		r.nRoutes++
		r.matchers = append(r.matchers, ms...)
	}
	sort.SliceStable(r.matchers, func(a, b int) bool {
		ma, mb := &r.matchers[a], &r.matchers[b]
		if ma.prio != mb.prio {
			return ma.prio > mb.prio
		}
		if ma.id != mb.id {
			return ma.id > mb.id
		}
		return ma.order < mb.order
	})
	r.idx = buildIndex(r.matchers)
	return r, nil
}

func isStreamRoute(rt *declarative.Route) bool {
	if len(rt.Protocols) == 0 {
		return false
	}
	switch rt.Protocols[0] {
	case "tcp", "tls", "tls_passthrough", "udp":
		return true
	}
	return false
}

func routeName(rt *declarative.Route) string {
	switch {
	case rt.Path0 != "":
		return rt.Path0
	case rt.Name != "":
		return "route " + strconv.Quote(rt.Name)
	default:
		return "route " + strconv.Quote(rt.ID)
	}
}

// anyPort marks a host entry without a port.
const anyPort = -1

// splitHostPort splits "host:port" at the first ':' like Kong: the remainder
// must be all digits to count as a port, otherwise the whole string is the
// host (and the port is anyPort). A port too large to be real is returned
// as -2.
func splitHostPort(s string) (string, int, bool) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return s, anyPort, false
	}
	ps := s[i+1:]
	if ps == "" {
		return s, anyPort, false
	}
	port := 0
	for j := 0; j < len(ps); j++ {
		c := ps[j]
		if c < '0' || c > '9' {
			return s, anyPort, false
		}
		if port <= 1<<20 {
			port = port*10 + int(c-'0')
		}
	}
	if port > 1<<20 {
		port = -2
	}
	return s[:i], port, true
}

func compileHost(h string) hostPred {
	host, port, _ := splitHostPort(h)
	host = strings.ToLower(host)
	switch {
	case strings.HasPrefix(host, "*"):
		return hostPred{kind: hostSuffix, value: host[1:], port: port}
	case strings.HasSuffix(host, "*"):
		return hostPred{kind: hostPrefix, value: host[:len(host)-1], port: port}
	}
	return hostPred{kind: hostExact, value: host, port: port}
}

func compileSNI(s string) hostPred {
	s = strings.ToLower(s)
	if len(s) > 1 && strings.HasSuffix(s, ".") {
		s = s[:len(s)-1]
	}
	switch {
	case strings.HasPrefix(s, "*"):
		return hostPred{kind: hostSuffix, value: s[1:], port: anyPort}
	case strings.HasSuffix(s, "*"):
		return hostPred{kind: hostPrefix, value: s[:len(s)-1], port: anyPort}
	}
	return hostPred{kind: hostExact, value: s, port: anyPort}
}

// compilePathRegex compiles a "~..." route path the way Kong does: the "~"
// is dropped and the pattern is anchored at the start with "^".
func compilePathRegex(p string) (pathPred, error) {
	pat := "^" + p[1:]
	re, err := regexp.Compile(pat)
	if err != nil {
		return pathPred{}, err
	}
	t, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return pathPred{re: re, keys: []regexKey{{}}}, nil
	}
	t = t.Simplify()
	return pathPred{re: re, keys: regexPrefixes(t), must: requiredLiteral(t)}, nil
}

// requiredLiteral returns the longest run of exact literal text that every
// match of pat contains (found in the top-level concatenation, through
// groups), or "" when there is none. Checking it with strings.Contains
// rules out most non-matching regexes without running them.
func requiredLiteral(t *syntax.Regexp) string {
	var best, cur []rune
	flush := func() {
		if len(cur) > len(best) {
			best = append(best[:0], cur...)
		}
		cur = cur[:0]
	}
	var walk func(r *syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpConcat:
			for _, s := range r.Sub {
				walk(s)
			}
		case syntax.OpCapture:
			walk(r.Sub[0])
		case syntax.OpBeginText, syntax.OpEmptyMatch:
		case syntax.OpLiteral:
			if r.Flags&syntax.FoldCase != 0 {
				flush()
				return
			}
			cur = append(cur, r.Rune...)
		default:
			flush()
		}
	}
	walk(t)
	flush()
	return string(best)
}

// foldRune is one rune of a regex's required prefix; fold means any rune of
// its case-folding orbit matches (a (?i) literal), as in Go's and Rust's regex.
type foldRune struct {
	r    rune
	fold bool
}

// regexKey is one possible start of every match of a regex: lit is exact
// text (an index key), fold goes on through case-insensitive literals.
type regexKey struct {
	lit  string
	fold []foldRune
}

// maxRegexKeys bounds how far alternations and small classes are expanded.
const maxRegexKeys = 16

// regexPrefixes returns the possible starts of every match of the anchored
// pattern: each match begins with the fold prefix of at least one key.
// Alternations, optional parts and small character classes are expanded up
// to maxRegexKeys keys. The keys err on the short side (a single empty key
// when nothing is known), since they only rule candidates out before the
// regex runs.
func regexPrefixes(t *syntax.Regexp) []regexKey {
	if t.Op != syntax.OpConcat || len(t.Sub) == 0 || t.Sub[0].Op != syntax.OpBeginText {
		return []regexKey{{}}
	}
	pres, _ := walkPrefixes(t.Sub[1:], [][]foldRune{nil})
	keys := make([]regexKey, 0, len(pres))
next:
	for _, p := range pres {
		for _, k := range keys {
			if slices.Equal(k.fold, p) {
				continue next
			}
		}
		var b strings.Builder
		for _, fr := range p {
			if fr.fold {
				break
			}
			b.WriteRune(fr.r)
		}
		keys = append(keys, regexKey{lit: b.String(), fold: p})
	}
	return keys
}

// walkPrefixes extends every prefix in `in` through the concatenation subs.
// It returns the extended prefixes and whether all of subs was consumed (so
// a caller may keep extending after it).
func walkPrefixes(subs []*syntax.Regexp, in [][]foldRune) ([][]foldRune, bool) {
	for _, s := range subs {
		out, complete := walkPrefix(s, in)
		in = out
		if !complete {
			return in, false
		}
	}
	return in, true
}

func walkPrefix(s *syntax.Regexp, in [][]foldRune) ([][]foldRune, bool) {
	switch s.Op {
	case syntax.OpEmptyMatch:
		return in, true
	case syntax.OpLiteral:
		fc := s.Flags&syntax.FoldCase != 0
		out := make([][]foldRune, len(in))
		for i, p := range in {
			q := append([]foldRune(nil), p...)
			for _, r := range s.Rune {
				q = append(q, foldRune{r: r, fold: fc && unicode.SimpleFold(r) != r})
			}
			out[i] = q
		}
		return out, true
	case syntax.OpCapture, syntax.OpConcat:
		return walkPrefixes(s.Sub, in)
	case syntax.OpPlus:
		// x+ starts with x; what follows is unknown
		out, _ := walkPrefix(s.Sub[0], in)
		return out, false
	case syntax.OpCharClass:
		n := 0
		for i := 0; i+1 < len(s.Rune); i += 2 {
			n += int(s.Rune[i+1]-s.Rune[i]) + 1
			if n*len(in) > maxRegexKeys {
				return in, false
			}
		}
		out := make([][]foldRune, 0, n*len(in))
		for _, p := range in {
			for i := 0; i+1 < len(s.Rune); i += 2 {
				for r := s.Rune[i]; r <= s.Rune[i+1]; r++ {
					out = append(out, append(append([]foldRune(nil), p...), foldRune{r: r}))
				}
			}
		}
		return out, true
	case syntax.OpAlternate, syntax.OpQuest:
		branches := s.Sub
		var out [][]foldRune
		complete := true
		if s.Op == syntax.OpQuest {
			out = append(out, in...) // the empty choice
		}
		for _, b := range branches {
			o, c := walkPrefix(b, in)
			complete = complete && c
			out = append(out, o...)
			if len(out) > maxRegexKeys {
				return in, false
			}
		}
		return out, complete
	}
	return in, false
}

// hasFoldPrefix reports whether s starts with the runes of pre, a folding
// rune matching any rune of its case orbit. Invalid UTF-8 decodes to U+FFFD
// one byte at a time, as in package regexp.
func hasFoldPrefix(s string, pre []foldRune) bool {
	i := 0
	for _, fr := range pre {
		if i >= len(s) {
			return false
		}
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		i += n
		if r == fr.r {
			continue
		}
		if !fr.fold {
			return false
		}
		if r < utf8.RuneSelf && fr.r < utf8.RuneSelf {
			// two ASCII runes share an orbit only as upper/lower letters
			if lowerByte(byte(r)) != lowerByte(byte(fr.r)) {
				return false
			}
			continue
		}
		f := unicode.SimpleFold(fr.r)
		for f != fr.r && f != r {
			f = unicode.SimpleFold(f)
		}
		if f != r {
			return false
		}
	}
	return true
}

func compileRoute(rt *declarative.Route, order int) ([]matcher, error) {
	name := routeName(rt)
	base := matcher{
		route:   rt,
		service: rt.Service,
		id:      strings.ToLower(rt.ID),
		order:   order,
		methods: rt.Methods,
		strip:   rt.StripPath,
	}
	plainHostOnly := len(rt.Hosts) > 0
	for _, h := range rt.Hosts {
		if strings.Contains(h, "*") {
			plainHostOnly = false
		}
		base.hosts = append(base.hosts, compileHost(h))
	}
	for _, s := range rt.SNIs {
		base.snis = append(base.snis, compileSNI(s))
	}
	names := make([]string, 0, len(rt.Headers))
	for n, vals := range rt.Headers {
		if len(vals) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		ln := strings.ToLower(n)
		hp := headerPred{dash: strings.ReplaceAll(ln, "_", "-")}
		if u := strings.ReplaceAll(ln, "-", "_"); u != hp.dash {
			hp.under = u
		}
		for _, v := range rt.Headers[n] {
			if strings.HasPrefix(v, "~*") {
				re, err := regexp.Compile("(?i)" + v[2:])
				if err != nil {
					return nil, fmt.Errorf("%s: headers.%s: invalid regex %q: %w", name, n, v[2:], err)
				}
				hp.res = append(hp.res, re)
			} else {
				hp.eq = append(hp.eq, strings.ToLower(v))
			}
		}
		base.headers = append(base.headers, hp)
	}
	// Kong adds a net.protocol condition (grpc counting as http, grpcs as
	// https) unless the route's only protocol is https: then any scheme
	// matches, so that the proxy can answer 426 or redirect.
	switch {
	case len(rt.Protocols) == 0:
		base.allowPlain, base.allowTLS = true, true
	case len(rt.Protocols) == 1 && rt.Protocols[0] == "https":
		base.httpsOnly = true
	}
	for _, p := range rt.Protocols {
		switch p {
		case "http", "grpc":
			base.allowPlain = true
		case "https", "grpcs":
			base.allowTLS = true
		}
	}

	groups := groupPaths(rt.Paths)
	if len(groups) == 0 {
		base.prio = priority(len(rt.Methods), len(rt.Hosts), len(base.headers), len(rt.SNIs), 0, plainHostOnly, false, 0, 0)
		return []matcher{base}, nil
	}
	out := make([]matcher, 0, len(groups))
	for gi, g := range groups {
		m := base
		if len(groups) > 1 {
			m.id = uuid5(splitNamespace, rt.ID+"#"+strconv.Itoa(gi+1))
		}
		for _, p := range g.paths {
			if g.regex {
				pp, err := compilePathRegex(p)
				if err != nil {
					return nil, fmt.Errorf("%s: paths: invalid regex %q: %w", name, p, err)
				}
				pp.raw = p
				m.paths = append(m.paths, pp)
			} else {
				m.paths = append(m.paths, pathPred{raw: p, prefix: p, lit: p})
			}
		}
		m.prio = priority(len(rt.Methods), len(rt.Hosts), len(base.headers), len(rt.SNIs), len(g.paths), plainHostOnly, g.regex, rt.RegexPriority, g.length)
		out = append(out, m)
	}
	return out, nil
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
