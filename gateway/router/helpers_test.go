package router

import (
	"fmt"
	"strings"

	"luagate/declarative"
)

// hdr is a fake Headers: names are looked up case-insensitively.
type hdr map[string][]string

func (h hdr) PeekAll(key string) [][]byte {
	var out [][]byte
	for k, vs := range h {
		if strings.EqualFold(k, key) {
			for _, v := range vs {
				out = append(out, []byte(v))
			}
		}
	}
	return out
}

var defaultService = &declarative.Service{ID: "5e000000-0000-4000-8000-000000000000", Name: "svc", Host: "upstream", Port: 80, Protocol: "http", Enabled: true}

type opt func(*declarative.Route)

func id(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// R builds a route with Kong's defaults; n orders the ids (larger n, larger id).
func R(name string, n int, opts ...opt) *declarative.Route {
	r := &declarative.Route{
		ID:                      id(n),
		Name:                    name,
		Protocols:               []string{"http", "https"},
		HTTPSRedirectStatusCode: 426,
		StripPath:               true,
		PathHandling:            "v0",
		RequestBuffering:        true,
		ResponseBuffering:       true,
		Service:                 defaultService,
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

func paths(p ...string) opt   { return func(r *declarative.Route) { r.Paths = p } }
func hosts(h ...string) opt   { return func(r *declarative.Route) { r.Hosts = h } }
func methods(m ...string) opt { return func(r *declarative.Route) { r.Methods = m } }
func snis(s ...string) opt    { return func(r *declarative.Route) { r.SNIs = s } }
func protos(p ...string) opt  { return func(r *declarative.Route) { r.Protocols = p } }
func rxp(n int) opt           { return func(r *declarative.Route) { r.RegexPriority = n } }
func nostrip() opt            { return func(r *declarative.Route) { r.StripPath = false } }
func svc(s *declarative.Service) opt {
	return func(r *declarative.Route) { r.Service = s }
}
func header(name string, vals ...string) opt {
	return func(r *declarative.Route) {
		if r.Headers == nil {
			r.Headers = map[string][]string{}
		}
		r.Headers[name] = vals
	}
}

func get(host, path string) Request {
	return Request{Method: "GET", Host: host, Path: path, Scheme: "http", ListenerPort: 8000}
}

type reqOpt func(*Request)

func withMethod(m string) reqOpt { return func(r *Request) { r.Method = m } }
func withTLS(sni string) reqOpt {
	return func(r *Request) { r.Scheme, r.SNI, r.ListenerPort = "https", sni, 8443 }
}
func withHeaders(h Headers) reqOpt { return func(r *Request) { r.Headers = h } }
func withListener(p int) reqOpt    { return func(r *Request) { r.ListenerPort = p } }
func req(host, path string, o ...reqOpt) Request {
	r := get(host, path)
	for _, f := range o {
		f(&r)
	}
	return r
}
