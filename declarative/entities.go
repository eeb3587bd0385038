package declarative

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// refKind says how a foreign-key field was written; it matters for the
// cache-key ids (spec 1.6).
type refKind int

const (
	refAbsent refKind = iota
	refNull
	refString
	refTable
)

// ref is a foreign key as written at the top level: a name/id string or {id}.
type ref struct {
	field string // "service"
	kind  refKind
	value string
	path  string
}

func (l *loader) readRef(r *rec, key string) *ref {
	rf := &ref{field: key, path: r.at(key)}
	v, ok := r.m[key]
	switch {
	case !ok:
		return rf
	case v == nil:
		rf.kind = refNull
		return rf
	}
	switch t := v.(type) {
	case string:
		if t == "" {
			r.err(key, "length must be at least 1")
			rf.kind = refNull
			return rf
		}
		rf.kind, rf.value = refString, t
	case map[string]any:
		sub := &rec{l: l, m: t, path: rf.path}
		sub.checkKeys(keySet("id"))
		id, ok := sub.required("id")
		rf.kind = refTable
		if ok && !isUUID(id) {
			sub.err("id", "expected a valid UUID")
			ok = false
		}
		if !ok {
			rf.kind = refNull
			return rf
		}
		rf.value = strings.ToLower(id)
	default:
		r.err(key, "expected a string")
		rf.kind = refNull
	}
	return rf
}

func (rf *ref) set() bool { return rf != nil && (rf.kind == refString || rf.kind == refTable) }

type svcW struct {
	s       *Service
	stable  bool
	certRef *ref
}

type routeW struct {
	r      *Route
	stable bool
	svcRef *ref
	parent *svcW
}

type consumerW struct {
	c      *Consumer
	stable bool
}

type upstreamW struct {
	u       *Upstream
	stable  bool
	certRef *ref
}

type targetW struct {
	t      *Target
	parent *upstreamW
	upRef  *ref
	raw    string // target as written, for the cache key
	idSet  bool
}

type certW struct {
	c *Certificate
}

type sniW struct {
	s       *SNI
	parent  *certW
	certRef *ref
	idSet   bool
}

type pluginW struct {
	p           *Plugin
	idSet       bool
	parentSvc   *svcW
	parentRoute *routeW
	parentCons  *consumerW
	svcRef      *ref
	routeRef    *ref
	consRef     *ref
}

var protocolsAll = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"}

var serviceKeys = keySet("id", "name", "protocol", "host", "port", "path", "retries", "connect_timeout",
	"write_timeout", "read_timeout", "enabled", "tags", "client_certificate", "tls_verify",
	"tls_verify_depth", "ca_certificates", "url", "created_at", "updated_at", "routes", "plugins")

const maxTimeout = 1<<31 - 2

// expandURL applies the service `url` shorthand on a copy of the record.
func (l *loader) expandURL(r *rec) *rec {
	v, ok := r.m["url"]
	if !ok || v == nil {
		return r
	}
	s, ok := v.(string)
	if !ok {
		r.err("url", "expected a string")
		return r
	}
	u, err := url.Parse(s)
	if err != nil {
		r.err("url", "could not parse url. "+strings.TrimPrefix(err.Error(), "parse "+strconv.Quote(s)+": "))
		return r
	}
	m := make(map[string]any, len(r.m)+4)
	for k, v := range r.m {
		m[k] = v
	}
	port := u.Port()
	proto := u.Scheme
	if proto == "" {
		proto = "http"
		if port == "443" {
			proto = "https"
		}
	}
	m["protocol"] = proto
	if h := u.Hostname(); h != "" {
		m["host"] = h
	} else {
		delete(m, "host")
	}
	switch {
	case port != "":
		m["port"] = json.Number(port)
	case proto == "https":
		m["port"] = json.Number("443")
	default:
		m["port"] = json.Number("80")
	}
	if p := u.EscapedPath(); p != "" {
		if u.Opaque != "" {
			p = u.Opaque
		}
		m["path"] = p
	} else if u.Opaque != "" {
		m["path"] = u.Opaque
	} else {
		delete(m, "path")
	}
	return &rec{l: l, m: m, path: r.path}
}

func (l *loader) service(r *rec) {
	r.checkKeys(serviceKeys)
	x := l.expandURL(r)
	s := &Service{
		Path0:     r.path,
		Protocol:  "http",
		Port:      80,
		Retries:   5,
		Enabled:   true,
		CreatedAt: l.now,
		UpdatedAt: l.now,
	}
	s.ID = r.id()
	s.Name = r.name("name")
	if p, ok := x.enum("protocol", protocolsAll); ok {
		s.Protocol = p
	}
	if h, ok := x.required("host"); ok {
		if msg := serviceHostError(h); msg != "" {
			x.err("host", msg)
		} else {
			s.Host = h
		}
	}
	if n, ok := x.integer("port", 0, 65535); ok {
		s.Port = int(n)
	}
	if p, ok := x.str("path"); ok {
		if msg := servicePathError(p); msg != "" {
			x.err("path", msg)
		} else {
			s.Path = p
		}
	}
	if n, ok := r.integer("retries", 0, 32767); ok {
		s.Retries = int(n)
	}
	s.ConnectTimeout, s.WriteTimeout, s.ReadTimeout = 60000, 60000, 60000
	if n, ok := r.integer("connect_timeout", 1, maxTimeout); ok {
		s.ConnectTimeout = int(n)
	}
	if n, ok := r.integer("write_timeout", 1, maxTimeout); ok {
		s.WriteTimeout = int(n)
	}
	if n, ok := r.integer("read_timeout", 1, maxTimeout); ok {
		s.ReadTimeout = int(n)
	}
	s.Enabled = r.boolean("enabled", true)
	s.Tags = r.tags()
	s.TLSVerify = r.optBool("tls_verify")
	if n, ok := r.integer("tls_verify_depth", 0, 64); ok {
		d := int(n)
		s.TLSVerifyDepth = &d
	}
	s.CACertificates, _ = r.strList("ca_certificates", false, func(v string) string {
		if !isUUID(v) {
			return "expected a valid UUID"
		}
		return ""
	})
	w := &svcW{s: s, stable: s.ID != "" || s.Name != ""}
	w.certRef = l.readRef(r, "client_certificate")
	s.CreatedAt = r.timestamp("created_at", l.now)
	s.UpdatedAt = r.timestamp("updated_at", l.now)

	failed := false
	switch s.Protocol {
	case "tcp", "tls", "udp", "grpc", "grpcs":
		if x.has("path") {
			x.err("path", "value must be null")
			failed = true
		}
	}
	if s.Protocol != "https" && s.Protocol != "tls" {
		for _, k := range []string{"client_certificate", "tls_verify", "tls_verify_depth", "ca_certificates"} {
			if r.has(k) {
				r.err(k, "value must be null")
				failed = true
			}
		}
	}
	if failed {
		r.entityErr("failed conditional validation given value of field 'protocol'")
	}
	l.services = append(l.services, w)
	for _, c := range r.children("routes") {
		l.route(c, w)
	}
	for _, c := range r.children("plugins") {
		l.plugin(c, "service", w)
	}
}

var routeKeys = keySet("id", "name", "protocols", "methods", "hosts", "paths", "headers",
	"https_redirect_status_code", "regex_priority", "strip_path", "path_handling", "preserve_host",
	"request_buffering", "response_buffering", "snis", "sources", "destinations", "tags", "service",
	"created_at", "updated_at", "plugins")

var protocolGroups = [][]string{{"http", "https"}, {"tcp", "tls", "udp"}, {"tls_passthrough"}, {"grpc", "grpcs"}}

func groupOf(p string) int {
	for i, g := range protocolGroups {
		for _, x := range g {
			if x == p {
				return i
			}
		}
	}
	return -1
}

func (l *loader) route(r *rec, parent *svcW) {
	r.checkKeys(routeKeys)
	if l.format != "3.0" {
		if arr, ok := r.m["paths"].([]any); ok {
			conv := make([]any, len(arr))
			for i, p := range arr {
				if s, ok := p.(string); ok {
					conv[i] = migratePath(s)
				} else {
					conv[i] = p
				}
			}
			r.m["paths"] = conv
		}
	}
	rt := &Route{
		Path0:                   r.path,
		Protocols:               []string{"http", "https"},
		HTTPSRedirectStatusCode: 426,
		StripPath:               true,
		PathHandling:            "v0",
		RequestBuffering:        true,
		ResponseBuffering:       true,
	}
	rt.ID = r.id()
	rt.Name = r.name("name")
	w := &routeW{r: rt, stable: rt.ID != "" || rt.Name != "", parent: parent}
	if parent != nil {
		r.mustBeNull("service")
		rt.Service = parent.s
	} else {
		w.svcRef = l.readRef(r, "service")
	}

	group := 0
	if r.has("protocols") {
		protos, ok := r.strList("protocols", true, func(p string) string {
			if groupOf(p) < 0 {
				return "expected one of: " + strings.Join(protocolsAll, ", ")
			}
			return ""
		})
		if ok {
			if len(protos) == 0 {
				if arr, _ := r.m["protocols"].([]any); len(arr) == 0 {
					r.err("protocols", "length must be at least 1")
				}
				group = -1
			} else {
				var seen []int
				for _, p := range protos {
					g := groupOf(p)
					if !containsInt(seen, g) {
						seen = append(seen, g)
					}
				}
				if len(seen) > 1 {
					parts := make([]string, len(seen))
					for i, g := range seen {
						parts[i] = "('" + strings.Join(protocolGroups[g], "', '") + "')"
					}
					r.err("protocols", "these sets are mutually exclusive: "+strings.Join(parts, ", "))
					group = -1
				} else {
					group = seen[0]
					rt.Protocols = protos
				}
			}
		} else {
			group = -1
		}
	}

	rt.Methods, _ = r.strList("methods", true, func(m string) string {
		if !methodRe.MatchString(m) {
			return "invalid value: " + m
		}
		return ""
	})
	rt.Hosts, _ = r.strList("hosts", false, routeHostError)
	rt.Paths, _ = r.strList("paths", false, routePathError)
	rt.Headers = l.headers(r)
	rt.SNIs, _ = r.strList("snis", true, sniError)
	rt.Sources = l.endpoints(r, "sources")
	rt.Destinations = l.endpoints(r, "destinations")
	if n, ok := r.integer("https_redirect_status_code", math.MinInt32, math.MaxInt32); ok {
		switch n {
		case 426, 301, 302, 307, 308:
			rt.HTTPSRedirectStatusCode = int(n)
		default:
			r.err("https_redirect_status_code", "expected one of: 426, 301, 302, 307, 308")
		}
	}
	if n, ok := r.integer("regex_priority", math.MinInt32, math.MaxInt32); ok {
		rt.RegexPriority = int(n)
	}
	if group == 3 {
		rt.StripPath = false
	}
	rt.StripPath = r.boolean("strip_path", rt.StripPath)
	if p, ok := r.enum("path_handling", []string{"v0", "v1"}); ok {
		rt.PathHandling = p
		if p == "v1" {
			l.warn(r.at("path_handling") + ": 'v1' is deprecated and is not honoured by the traditional_compatible router; use 'v0'")
		}
	}
	rt.PreserveHost = r.boolean("preserve_host", false)
	rt.RequestBuffering = r.boolean("request_buffering", true)
	rt.ResponseBuffering = r.boolean("response_buffering", true)
	rt.Tags = r.tags()
	rt.CreatedAt = r.timestamp("created_at", l.now)
	rt.UpdatedAt = r.timestamp("updated_at", l.now)

	if group >= 0 {
		l.routeChecks(r, rt, group)
	}
	l.routes = append(l.routes, w)
	for _, c := range r.children("plugins") {
		l.plugin(c, "route", w)
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// routeChecks are the subschema and entity checks of routes (routes.lua,
// routes_subschemas.lua).
func (l *loader) routeChecks(r *rec, rt *Route, group int) {
	tlsish := false
	for _, p := range rt.Protocols {
		switch p {
		case "grpcs", "https", "tls", "tls_passthrough":
			tlsish = true
		}
	}
	if !tlsish && r.nonEmpty("snis") {
		r.err("snis", "length must be 0")
		r.entityErr("'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'")
	}
	has := func(k string) bool { return r.nonEmpty(k) }
	atLeast := func(fields []string, msg string) {
		for _, f := range fields {
			if has(f) {
				return
			}
		}
		r.entityErr("must set one of '" + strings.Join(fields, "', '") + "' " + msg)
	}
	cannot := func(field, msg string) {
		if r.has(field) {
			r.err(field, "cannot set '"+field+"' when 'protocols' is "+msg)
		}
	}
	contains := func(p string) bool { return containsStr(rt.Protocols, p) }
	switch group {
	case 0: // http, https
		cannot("sources", "'http' or 'https'")
		cannot("destinations", "'http' or 'https'")
		if contains("https") {
			atLeast([]string{"methods", "hosts", "headers", "paths", "snis"}, "when 'protocols' is 'https'")
		} else {
			atLeast([]string{"methods", "hosts", "headers", "paths"}, "when 'protocols' is 'http'")
		}
	case 1, 2: // tcp, tls, udp / tls_passthrough
		for _, f := range []string{"methods", "hosts", "paths", "headers"} {
			cannot(f, "'tcp', 'tls', 'tls_passthrough' or 'udp'")
		}
		if group == 1 {
			atLeast([]string{"sources", "destinations", "snis"}, "when 'protocols' is 'tcp', 'tls' or 'udp'")
		} else if !has("snis") {
			r.entityErr("must set snis when 'protocols' is 'tls_passthrough'")
		}
	case 3: // grpc, grpcs
		if b, ok := r.m["strip_path"].(bool); ok && b {
			r.err("strip_path", "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'")
		}
		cannot("methods", "'grpc' or 'grpcs'")
		cannot("sources", "'grpc' or 'grpcs'")
		cannot("destinations", "'grpc' or 'grpcs'")
		if contains("grpcs") {
			atLeast([]string{"hosts", "headers", "paths", "snis"}, "when 'protocols' is 'grpcs'")
		} else {
			atLeast([]string{"hosts", "headers", "paths"}, "when 'protocols' is 'grpc'")
		}
	}
}

func validHeaderName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(isAlnum(c) || c == '-' || c == '_') {
			return false
		}
	}
	return n != ""
}

func (l *loader) headers(r *rec) map[string][]string {
	v, ok := r.m["headers"]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.err("headers", "expected a map")
		return nil
	}
	out := make(map[string][]string, len(m))
	for _, k := range sortedKeys(m) {
		p := r.at("headers") + "." + k
		if strings.EqualFold(k, "host") {
			l.add(p, "cannot contain 'host' header, which must be specified in the 'hosts' attribute")
			continue
		}
		if !validHeaderName(k) {
			l.add(p, "bad header name '"+k+"', allowed characters are A-Z, a-z, 0-9, '_', and '-'")
			continue
		}
		sub := &rec{l: l, m: m, path: r.at("headers")}
		vals, ok := sub.strList(k, false, nil)
		if !ok {
			if m[k] == nil {
				l.add(p, "expected an array")
			}
			continue
		}
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], vals...)
	}
	return out
}

func validIPOrCIDR(s string) bool {
	if strings.Contains(s, "/") {
		_, _, err := net.ParseCIDR(s)
		return err == nil
	}
	return net.ParseIP(s) != nil
}

func (l *loader) endpoints(r *rec, key string) []RouteEndpoint {
	v, ok := r.m[key]
	if !ok || v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		r.err(key, "expected a set")
		return nil
	}
	var out []RouteEndpoint
	for i, e := range arr {
		p := r.at(key) + "[" + strconv.Itoa(i) + "]"
		m, ok := e.(map[string]any)
		if !ok {
			l.add(p, "expected a record")
			continue
		}
		sub := &rec{l: l, m: m, path: p}
		sub.checkKeys(keySet("ip", "port"))
		var ep RouteEndpoint
		if ip, ok := sub.str("ip"); ok {
			if !validIPOrCIDR(ip) {
				sub.err("ip", "invalid ip or cidr range: '"+ip+"'")
			} else {
				ep.IP = ip
			}
		}
		if n, ok := sub.integer("port", 0, 65535); ok {
			port := int(n)
			ep.Port = &port
		}
		if !sub.has("ip") && !sub.has("port") {
			sub.entityErr("at least one of these fields must be non-empty: 'ip', 'port'")
		}
		out = append(out, ep)
	}
	return out
}

var consumerKeys = keySet("id", "username", "custom_id", "tags", "created_at", "updated_at", "plugins")

func (l *loader) consumer(r *rec) {
	allowed := make(map[string]bool, len(consumerKeys)+8)
	for k := range consumerKeys {
		allowed[k] = true
	}
	for _, k := range credentialKeys {
		if r.has(k) {
			l.warn(r.at(k) + ": '" + k + "' entities are not supported by luagate and were ignored")
		}
		allowed[k] = true
	}
	r.checkKeys(allowed)
	c := &Consumer{Path0: r.path, CreatedAt: l.now}
	c.ID = r.id()
	c.Username, _ = r.str("username")
	c.CustomID, _ = r.str("custom_id")
	if !r.has("username") && !r.has("custom_id") {
		r.entityErr("at least one of these fields must be non-empty: 'custom_id', 'username'")
	}
	c.Tags = r.tags()
	c.CreatedAt = r.timestamp("created_at", l.now)
	r.timestamp("updated_at", l.now)
	w := &consumerW{c: c, stable: c.ID != "" || c.Username != ""}
	l.consumers = append(l.consumers, w)
	for _, ch := range r.children("plugins") {
		l.plugin(ch, "consumer", w)
	}
}

var upstreamKeys = keySet("id", "name", "algorithm", "hash_on", "hash_fallback", "hash_on_header",
	"hash_fallback_header", "hash_on_cookie", "hash_on_cookie_path", "hash_on_query_arg",
	"hash_fallback_query_arg", "hash_on_uri_capture", "hash_fallback_uri_capture", "slots",
	"healthchecks", "tags", "host_header", "client_certificate", "use_srv_name", "created_at",
	"updated_at", "targets")

var hashOnValues = []string{"none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"}

func (l *loader) upstream(r *rec) {
	r.checkKeys(upstreamKeys)
	u := &Upstream{
		Path0:            r.path,
		Algorithm:        "round-robin",
		HashOn:           "none",
		HashFallback:     "none",
		HashOnCookiePath: "/",
		Slots:            10000,
		CreatedAt:        l.now,
	}
	u.ID = r.id()
	if n, ok := r.required("name"); ok {
		if msg := upstreamNameError(n); msg != "" {
			r.err("name", msg)
		} else {
			u.Name = n
		}
	}
	if a, ok := r.enum("algorithm", []string{"consistent-hashing", "least-connections", "round-robin", "latency"}); ok {
		u.Algorithm = a
	}
	if h, ok := r.enum("hash_on", hashOnValues); ok {
		u.HashOn = h
		if h != "none" {
			u.Algorithm = "consistent-hashing"
		} else if u.Algorithm != "least-connections" && u.Algorithm != "latency" {
			u.Algorithm = "round-robin"
		}
	}
	if u.Algorithm == "least-connections" || u.Algorithm == "latency" {
		u.HashOn = "none"
	}
	if h, ok := r.enum("hash_fallback", hashOnValues); ok {
		u.HashFallback = h
	}
	hdr := func(k string) string {
		s, ok := r.str(k)
		if ok && !validHeaderName(s) {
			r.err(k, "bad header name '"+s+"', allowed characters are A-Z, a-z, 0-9, '_', and '-'")
			return ""
		}
		return s
	}
	u.HashOnHeader = hdr("hash_on_header")
	u.HashFallbackHeader = hdr("hash_fallback_header")
	u.HashOnCookie, _ = r.str("hash_on_cookie")
	if p, ok := r.str("hash_on_cookie_path"); ok {
		if msg := servicePathError(p); msg != "" {
			r.err("hash_on_cookie_path", msg)
		} else {
			u.HashOnCookiePath = p
		}
	}
	u.HashOnQueryArg, _ = r.str("hash_on_query_arg")
	u.HashFallbackQueryArg, _ = r.str("hash_fallback_query_arg")
	u.HashOnURICapture, _ = r.str("hash_on_uri_capture")
	u.HashFallbackURICapture, _ = r.str("hash_fallback_uri_capture")
	if n, ok := r.integer("slots", 10, 65536); ok {
		u.Slots = int(n)
	}
	if h, ok := r.str("host_header"); ok {
		if msg := serviceHostError(h); msg != "" {
			r.err("host_header", msg)
		} else {
			u.HostHeader = h
		}
	}
	u.UseSRVName = r.boolean("use_srv_name", false)
	u.Tags = r.tags()
	u.CreatedAt = r.timestamp("created_at", l.now)
	r.timestamp("updated_at", l.now)
	u.Healthchecks = l.record(r, "healthchecks", healthchecksSchema)

	// conditional entity checks (upstreams.lua)
	failed := map[string]bool{}
	need := func(ifField, ifValue, field string) {
		cur := map[string]string{"hash_on": u.HashOn, "hash_fallback": u.HashFallback}[ifField]
		if cur == ifValue && !r.has(field) {
			r.err(field, "required field missing")
			failed[ifField] = true
		}
	}
	need("hash_on", "header", "hash_on_header")
	need("hash_fallback", "header", "hash_fallback_header")
	need("hash_on", "cookie", "hash_on_cookie")
	need("hash_fallback", "cookie", "hash_on_cookie")
	need("hash_on", "query_arg", "hash_on_query_arg")
	need("hash_fallback", "query_arg", "hash_fallback_query_arg")
	need("hash_on", "uri_capture", "hash_on_uri_capture")
	need("hash_fallback", "uri_capture", "hash_fallback_uri_capture")
	if (u.HashOn == "none" || u.HashOn == "cookie") && u.HashFallback != "none" {
		r.err("hash_fallback", "expected one of: none")
		failed["hash_on"] = true
	} else if (u.HashOn == "consumer" || u.HashOn == "ip" || u.HashOn == "path") && u.HashFallback == u.HashOn {
		var allowed []string
		for _, v := range hashOnValues {
			if v != u.HashOn {
				allowed = append(allowed, v)
			}
		}
		r.err("hash_fallback", "expected one of: "+strings.Join(allowed, ", "))
		failed["hash_on"] = true
	}
	for _, f := range []string{"hash_fallback", "hash_on"} {
		if failed[f] {
			r.entityErr("failed conditional validation given value of field '" + f + "'")
		}
	}
	if u.HashOnHeader != "" && strings.EqualFold(u.HashOnHeader, u.HashFallbackHeader) {
		r.entityErr("values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'")
	}
	w := &upstreamW{u: u, stable: u.ID != "" || u.Name != ""}
	w.certRef = l.readRef(r, "client_certificate")
	l.upstreams = append(l.upstreams, w)
	for _, c := range r.children("targets") {
		l.target(c, w)
	}
}

var targetKeys = keySet("id", "target", "weight", "upstream", "tags", "created_at", "updated_at")

func (l *loader) target(r *rec, parent *upstreamW) {
	r.checkKeys(targetKeys)
	t := &Target{Path0: r.path, Weight: 100, CreatedAt: l.nowMs}
	t.ID = r.id()
	w := &targetW{t: t, parent: parent, idSet: t.ID != ""}
	if raw, ok := r.required("target"); ok {
		w.raw = raw
		if norm, ok := normalizeTarget(raw); ok {
			t.Target = norm
		} else {
			r.err("target", "Invalid target ('"+raw+"'); not a valid hostname or ip address")
		}
	}
	if n, ok := r.integer("weight", 0, 65535); ok {
		t.Weight = int(n)
	}
	t.Tags = r.tags()
	if f, ok := r.number("created_at"); ok {
		t.CreatedAt = f
	}
	r.number("updated_at")
	if parent != nil {
		r.mustBeNull("upstream")
		t.Upstream = parent.u
	} else {
		w.upRef = l.readRef(r, "upstream")
		if !w.upRef.set() && !r.has("upstream") {
			r.err("upstream", "required field missing")
		}
	}
	l.targets = append(l.targets, w)
}

var certKeys = keySet("id", "cert", "key", "cert_alt", "key_alt", "tags", "snis", "created_at", "updated_at")

func certError(s string) string {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return "invalid certificate: no PEM data found"
	}
	if _, err := x509.ParseCertificate(b.Bytes); err != nil {
		return "invalid certificate: " + err.Error()
	}
	return ""
}

func keyError(s string) string {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return "invalid key: no PEM data found"
	}
	if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return ""
	}
	if _, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return ""
	}
	if _, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return ""
	}
	return "invalid key: unsupported or malformed private key"
}

func (l *loader) certificate(r *rec) {
	r.checkKeys(certKeys)
	c := &Certificate{Path0: r.path}
	c.ID = r.id()
	pemField := func(key string, check func(string) string, req bool) string {
		var s string
		var ok bool
		if req {
			s, ok = r.required(key)
		} else {
			s, ok = r.str(key)
		}
		if !ok {
			return ""
		}
		if msg := check(s); msg != "" {
			r.err(key, msg)
			return ""
		}
		return s
	}
	c.Cert = pemField("cert", certError, true)
	c.Key = pemField("key", keyError, true)
	c.CertAlt = pemField("cert_alt", certError, false)
	c.KeyAlt = pemField("key_alt", keyError, false)
	if r.has("cert_alt") != r.has("key_alt") {
		r.entityErr("all or none of these fields must be set: 'cert_alt', 'key_alt'")
	}
	c.Tags = r.tags()
	r.timestamp("created_at", l.now)
	r.timestamp("updated_at", l.now)
	w := &certW{c: c}
	l.certificates = append(l.certificates, w)
	if v, ok := r.m["snis"].([]any); ok {
		// snis may be written as plain names (Admin API shorthand) or records.
		for i, e := range v {
			if s, ok := e.(string); ok {
				v[i] = map[string]any{"name": s}
			}
		}
	}
	for _, ch := range r.children("snis") {
		l.sni(ch, w)
	}
}

var sniKeys = keySet("id", "name", "certificate", "tags", "created_at", "updated_at")

func (l *loader) sni(r *rec, parent *certW) {
	r.checkKeys(sniKeys)
	s := &SNI{Path0: r.path}
	s.ID = r.id()
	w := &sniW{s: s, parent: parent, idSet: s.ID != ""}
	if n, ok := r.required("name"); ok {
		if msg := sniError(n); msg != "" {
			r.err("name", msg)
		} else {
			s.Name = n
		}
	}
	s.Tags = r.tags()
	r.timestamp("created_at", l.now)
	r.timestamp("updated_at", l.now)
	if parent != nil {
		r.mustBeNull("certificate")
		s.Certificate = parent.c
	} else {
		w.certRef = l.readRef(r, "certificate")
		if !w.certRef.set() && !r.has("certificate") {
			r.err("certificate", "required field missing")
		}
	}
	l.snis = append(l.snis, w)
}
