// Package lualibtest provides FakeExchange, a complete in-memory
// lualib.Exchange for tests of lualib and of the packages built on it.
//
// Every field is settable; the methods read and write those fields, so a test
// prepares a request by filling fields and inspects the result the same way.
package lualibtest

import (
	"errors"
	"strings"
	"sync"
	"time"

	"luagate/lualib"
)

// Header is one header line.
type Header = [2]string

// LogLine is one line passed to Exchange.Log.
type LogLine struct {
	Level  lualib.Level
	Plugin string
	Msg    string
}

// ExitRecord is what Exchange.Exit recorded.
type ExitRecord struct {
	Status  int
	Body    []byte
	Headers [][2]string
	Source  lualib.Source
}

// FakeExchange is an in-memory Exchange. The zero value is usable; New
// returns one with the defaults of a plain "GET / HTTP/1.1" request.
type FakeExchange struct {
	mu sync.Mutex // only guards Logs, so tests may read them from another goroutine

	ID       string
	CurPhase lualib.Phase
	Start    time.Time

	ReqScheme      string
	ReqHost        string
	Port           int
	Version        float64
	ReqMethod      string
	ReqRawPath     string
	ReqPath        string // "" means: same as ReqRawPath
	Query          string
	QueryPresent   bool
	ReqHeaders     []Header
	Body           []byte
	BodyErr        error
	BodyReads      int
	RemoteIP       string
	RemotePort     int
	FwdIP          string
	FwdPort        int
	TrustedIPs     []string
	SNI            string
	Route          map[string]any
	Service        map[string]any
	Unnamed        []string
	Named          map[string]string
	UpHeaders      []Header // upstream request headers (start as a copy of ReqHeaders via New)
	UpPath         string
	UpQuery        string
	UpQuerySet     bool
	UpMethod       string
	UpScheme       string
	UpBody         []byte
	UpBodySet      bool
	Buffering      bool
	TargetHost     string
	TargetPort     int
	Upstream       string
	UpstreamErr    error // returned by SetUpstream
	Timeouts       [3]time.Duration
	Retries        int
	Sent           bool
	Status         int
	RespHeaders    []Header
	RespBody       []byte
	Exits          []ExitRecord
	Src            lualib.Source
	SvcStatus      int
	SvcHeaders     []Header
	SvcBody        []byte
	SvcBodyErr     error
	ConsumerEnt    map[string]any
	CredentialEnt  map[string]any
	Consumers      []map[string]any // searched by LoadConsumer ("id" or "username")
	Logs           []LogLine
	SerializeValue map[string]any
	LatKong        int64
	LatProxy       int64
	LatRequest     int64
}

// New returns a FakeExchange for "GET / HTTP/1.1" on http://example.test:8000
// from 127.0.0.1:40000, in the access phase.
func New() *FakeExchange {
	return &FakeExchange{
		ID:         "0123456789abcdef0123456789abcdef",
		CurPhase:   lualib.PhaseAccess,
		Start:      time.Unix(1700000000, 123000000),
		ReqScheme:  "http",
		ReqHost:    "example.test",
		Port:       8000,
		Version:    1.1,
		ReqMethod:  "GET",
		ReqRawPath: "/",
		RemoteIP:   "127.0.0.1",
		RemotePort: 40000,
		FwdIP:      "127.0.0.1",
		FwdPort:    40000,
		Status:     200,
	}
}

// AddHeader appends a request header line (and the same line to the
// upstream headers, as the gateway starts the upstream request as a copy).
func (f *FakeExchange) AddHeader(name, value string) *FakeExchange {
	f.ReqHeaders = append(f.ReqHeaders, Header{name, value})
	f.UpHeaders = append(f.UpHeaders, Header{name, value})
	return f
}

// LastExit returns the last recorded exit, or nil.
func (f *FakeExchange) LastExit() *ExitRecord {
	if len(f.Exits) == 0 {
		return nil
	}
	return &f.Exits[len(f.Exits)-1]
}

// LogLines returns a copy of the log lines so far.
func (f *FakeExchange) LogLines() []LogLine {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]LogLine(nil), f.Logs...)
}

// headerKey folds case and treats "_" like "-".
func headerKey(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func first(hs []Header, name string) (string, bool) {
	for _, h := range hs {
		if headerKey(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

func all(hs []Header, name string) []string {
	var out []string
	for _, h := range hs {
		if headerKey(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

func without(hs []Header, name string) []Header {
	out := hs[:0]
	for _, h := range hs {
		if !headerKey(h[0], name) {
			out = append(out, h)
		}
	}
	return out
}

func (f *FakeExchange) RequestID() string           { return f.ID }
func (f *FakeExchange) Phase() lualib.Phase         { return f.CurPhase }
func (f *FakeExchange) StartTime() time.Time        { return f.Start }
func (f *FakeExchange) Scheme() string              { return f.ReqScheme }
func (f *FakeExchange) Host() string                { return f.ReqHost }
func (f *FakeExchange) ListenerPort() int           { return f.Port }
func (f *FakeExchange) HTTPVersion() float64        { return f.Version }
func (f *FakeExchange) Method() string              { return f.ReqMethod }
func (f *FakeExchange) RawPath() string             { return f.ReqRawPath }
func (f *FakeExchange) RawQuery() string            { return f.Query }
func (f *FakeExchange) HasQuery() bool              { return f.QueryPresent || f.Query != "" }
func (f *FakeExchange) ClientIP() string            { return f.RemoteIP }
func (f *FakeExchange) ClientPort() int             { return f.RemotePort }
func (f *FakeExchange) ForwardedIP() string         { return f.FwdIP }
func (f *FakeExchange) ForwardedPort() int          { return f.FwdPort }
func (f *FakeExchange) TLSServerName() string       { return f.SNI }
func (f *FakeExchange) RouteInfo() map[string]any   { return f.Route }
func (f *FakeExchange) ServiceInfo() map[string]any { return f.Service }

func (f *FakeExchange) Path() string {
	if f.ReqPath != "" {
		return f.ReqPath
	}
	return f.ReqRawPath
}

func (f *FakeExchange) RequestHeader(name string) (string, bool) { return first(f.ReqHeaders, name) }
func (f *FakeExchange) RequestHeaderValues(name string) []string { return all(f.ReqHeaders, name) }
func (f *FakeExchange) VisitRequestHeaders(fn func(name, value string)) {
	for _, h := range f.ReqHeaders {
		fn(h[0], h[1])
	}
}

func (f *FakeExchange) RequestBody() ([]byte, error) {
	f.BodyReads++
	return f.Body, f.BodyErr
}

func (f *FakeExchange) IsTrusted(ip string) bool {
	for _, t := range f.TrustedIPs {
		if t == ip {
			return true
		}
	}
	return false
}

func (f *FakeExchange) URICaptures() ([]string, map[string]string) { return f.Unnamed, f.Named }

func (f *FakeExchange) SetUpstreamHeader(name, value string) {
	f.UpHeaders = append(without(f.UpHeaders, name), Header{name, value})
}
func (f *FakeExchange) AddUpstreamHeader(name, value string) {
	f.UpHeaders = append(f.UpHeaders, Header{name, value})
}
func (f *FakeExchange) ClearUpstreamHeader(name string) { f.UpHeaders = without(f.UpHeaders, name) }
func (f *FakeExchange) SetUpstreamPath(path string)     { f.UpPath = path }
func (f *FakeExchange) SetUpstreamRawQuery(q string)    { f.UpQuery, f.UpQuerySet = q, true }
func (f *FakeExchange) SetUpstreamMethod(m string)      { f.UpMethod = m }
func (f *FakeExchange) SetUpstreamScheme(s string)      { f.UpScheme = s }
func (f *FakeExchange) SetUpstreamBody(b []byte)        { f.UpBody, f.UpBodySet = b, true }
func (f *FakeExchange) EnableBuffering()                { f.Buffering = true }
func (f *FakeExchange) SetTarget(host string, port int) { f.TargetHost, f.TargetPort = host, port }
func (f *FakeExchange) SetUpstream(name string) error {
	if f.UpstreamErr != nil {
		return f.UpstreamErr
	}
	f.Upstream = name
	return nil
}
func (f *FakeExchange) SetTimeouts(c, w, r time.Duration) { f.Timeouts = [3]time.Duration{c, w, r} }
func (f *FakeExchange) SetRetries(n int)                  { f.Retries = n }
func (f *FakeExchange) UpstreamHeader(name string) (string, bool) {
	return first(f.UpHeaders, name)
}

func (f *FakeExchange) UpstreamURI() string {
	p := f.UpPath
	if p == "" {
		p = f.Path()
	}
	q, has := f.Query, f.HasQuery()
	if f.UpQuerySet {
		q, has = f.UpQuery, f.UpQuery != ""
	}
	if has {
		return p + "?" + q
	}
	return p
}

func (f *FakeExchange) HeadersSent() bool          { return f.Sent }
func (f *FakeExchange) ResponseStatus() int        { return f.Status }
func (f *FakeExchange) SetResponseStatus(code int) { f.Status = code }
func (f *FakeExchange) ResponseHeader(name string) (string, bool) {
	return first(f.RespHeaders, name)
}
func (f *FakeExchange) ResponseHeaderValues(name string) []string { return all(f.RespHeaders, name) }
func (f *FakeExchange) VisitResponseHeaders(fn func(name, value string)) {
	for _, h := range f.RespHeaders {
		fn(h[0], h[1])
	}
}
func (f *FakeExchange) SetResponseHeader(name, value string) {
	f.RespHeaders = append(without(f.RespHeaders, name), Header{name, value})
}
func (f *FakeExchange) AddResponseHeader(name, value string) {
	f.RespHeaders = append(f.RespHeaders, Header{name, value})
}
func (f *FakeExchange) ClearResponseHeader(name string) { f.RespHeaders = without(f.RespHeaders, name) }
func (f *FakeExchange) ResponseBody() []byte            { return f.RespBody }
func (f *FakeExchange) SetResponseBody(b []byte)        { f.RespBody = b }

// Exit records the exit and, like the gateway, makes its status and headers
// the response's.
func (f *FakeExchange) Exit(status int, body []byte, headers [][2]string, source lualib.Source) {
	rec := ExitRecord{status, append([]byte(nil), body...), append([][2]string(nil), headers...), source}
	f.Exits = append(f.Exits, rec)
	f.Src = source
	f.Status = status
	for _, h := range headers {
		f.RespHeaders = append(without(f.RespHeaders, h[0]), h)
	}
	f.RespBody = rec.Body // the copy: body is only valid during the call
	if body != nil && f.RespBody == nil {
		f.RespBody = []byte{}
	}
}
func (f *FakeExchange) Exited() bool          { return len(f.Exits) > 0 }
func (f *FakeExchange) Source() lualib.Source { return f.Src }

func (f *FakeExchange) ServiceStatus() int { return f.SvcStatus }
func (f *FakeExchange) ServiceHeader(name string) (string, bool) {
	return first(f.SvcHeaders, name)
}
func (f *FakeExchange) VisitServiceHeaders(fn func(name, value string)) {
	for _, h := range f.SvcHeaders {
		fn(h[0], h[1])
	}
}

// ErrNotBuffered is ServiceBody's error when Buffering is off.
var ErrNotBuffered = errors.New("service body is only available with buffered proxying")

func (f *FakeExchange) ServiceBody() ([]byte, error) {
	if f.SvcBodyErr != nil {
		return nil, f.SvcBodyErr
	}
	if !f.Buffering {
		return nil, ErrNotBuffered
	}
	return f.SvcBody, nil
}

func (f *FakeExchange) Consumer() map[string]any   { return f.ConsumerEnt }
func (f *FakeExchange) Credential() map[string]any { return f.CredentialEnt }
func (f *FakeExchange) Authenticate(consumer, credential map[string]any) {
	f.ConsumerEnt, f.CredentialEnt = consumer, credential
}

func (f *FakeExchange) LoadConsumer(idOrName string, byUsername bool) (map[string]any, bool) {
	key := "id"
	if byUsername {
		key = "username"
	}
	for _, c := range f.Consumers {
		if s, _ := c[key].(string); s == idOrName {
			return c, true
		}
	}
	return nil, false
}

func (f *FakeExchange) Log(level lualib.Level, plugin string, msg string) {
	f.mu.Lock()
	f.Logs = append(f.Logs, LogLine{level, plugin, msg})
	f.mu.Unlock()
}

// Serialize returns SerializeValue, or a small Kong-shaped default built from
// the request fields.
func (f *FakeExchange) Serialize() map[string]any {
	if f.SerializeValue != nil {
		return f.SerializeValue
	}
	hs := map[string]any{}
	for _, h := range f.ReqHeaders {
		k := strings.ToLower(h[0])
		if k == "authorization" || k == "proxy-authorization" {
			hs[k] = "REDACTED"
			continue
		}
		hs[k] = h[1]
	}
	return map[string]any{
		"request": map[string]any{
			"id":      f.ID,
			"method":  f.ReqMethod,
			"uri":     f.ReqRawPath,
			"headers": hs,
		},
		"response":  map[string]any{"status": f.Status},
		"client_ip": f.RemoteIP,
		"latencies": map[string]any{"kong": f.LatKong, "proxy": f.LatProxy, "request": f.LatRequest},
	}
}

func (f *FakeExchange) Latencies() (int64, int64, int64) { return f.LatKong, f.LatProxy, f.LatRequest }

var _ lualib.Exchange = (*FakeExchange)(nil)
