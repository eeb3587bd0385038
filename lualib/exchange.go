// Package lualib is what Lua code sees: Kong's PDK (kong.*), the ngx.* API,
// cjson, resty.* and LuaJIT extras, implemented on gopher-lua.
//
// lualib never imports the gateway. It defines Exchange, the per-request view
// it needs, and the gateway's request type implements it. Everything in this
// file is the contract between the two; keep it small and allocation-free.
package lualib

import "time"

// Phase is one of Kong's request phases. The values are bits in Kong's order,
// so a set of phases is a Phase mask and messages list them in bit order.
type Phase uint16

const (
	PhaseInitWorker Phase = 1 << iota
	PhaseCertificate
	PhaseClientHello
	PhaseRewrite
	PhaseAccess
	PhaseBalancer
	PhaseResponse
	PhaseClusterListener
	PhaseHeaderFilter
	PhaseBodyFilter
	PhaseLog
	PhasePreread
	PhaseError
	PhaseAdminAPI
)

// Source tells where the response came from (kong.response.get_source).
type Source uint8

const (
	SourceNone    Source = iota
	SourceService        // proxied: "service"
	SourceExit           // kong.response.exit/error: "exit"
	SourceError          // Kong error, plugin runtime error, ngx.exit: "error"
)

// Exchange is one request as the PDK sees it. The gateway implements it on
// its request type; every method is called only from the goroutine serving
// the request. Header names are case-insensitive everywhere.
type Exchange interface {
	// ---- identity and phase
	RequestID() string // 32 hex characters, also X-Kong-Request-Id
	Phase() Phase      // the phase being run now
	StartTime() time.Time

	// ---- the client request (kong.request.*, ngx.var.*, ngx.req.*)
	Scheme() string       // "http" or "https" of the listener
	Host() string         // lowercased, without port (nginx $host)
	ListenerPort() int    // $server_port
	HTTPVersion() float64 // 1.0, 1.1 or 2
	Method() string
	RawPath() string  // as received, no query
	Path() string     // normalized (Kong's rules)
	RawQuery() string // without "?"; "" when none
	HasQuery() bool   // the request URI had a "?"
	// RequestHeader returns the first value of a header ("-" and "_" alike).
	RequestHeader(name string) (string, bool)
	// RequestHeaderValues returns every value of a header, in order.
	RequestHeaderValues(name string) []string
	// VisitRequestHeaders calls fn for each header line in order; names as received.
	VisitRequestHeaders(fn func(name, value string))
	// RequestBody returns the whole client body (read once, then cached).
	RequestBody() ([]byte, error)
	ClientIP() string // the directly connected peer
	ClientPort() int
	ForwardedIP() string // after real_ip_header / trusted_ips
	ForwardedPort() int
	IsTrusted(ip string) bool // trusted_ips check
	TLSServerName() string    // SNI, "" on plain HTTP

	// ---- what the router matched (nil values when no route matched)
	RouteInfo() map[string]any   // route entity as a Kong-shaped table source
	ServiceInfo() map[string]any // service entity, nil for a serviceless route
	URICaptures() (unnamed []string, named map[string]string)

	// ---- the upstream request (kong.service.request.*, kong.service.*)
	SetUpstreamHeader(name, value string)
	AddUpstreamHeader(name, value string)
	ClearUpstreamHeader(name string)
	SetUpstreamPath(path string) // already escaped
	SetUpstreamRawQuery(query string)
	SetUpstreamMethod(method string)
	SetUpstreamScheme(scheme string)
	SetUpstreamBody(body []byte)
	EnableBuffering()
	SetTarget(host string, port int)
	SetUpstream(name string) error
	SetTimeouts(connect, write, read time.Duration)
	SetRetries(n int)
	// UpstreamHeader reads the header as it will be sent upstream.
	UpstreamHeader(name string) (string, bool)
	UpstreamURI() string // path + "?" + query as it will be sent ($upstream_uri)

	// ---- the response to the client (kong.response.*)
	HeadersSent() bool
	ResponseStatus() int
	SetResponseStatus(code int)
	ResponseHeader(name string) (string, bool)
	ResponseHeaderValues(name string) []string
	VisitResponseHeaders(fn func(name, value string))
	SetResponseHeader(name, value string)
	AddResponseHeader(name, value string)
	ClearResponseHeader(name string)
	// ResponseBody is the whole (buffered) response body, for body_filter.
	ResponseBody() []byte
	SetResponseBody(body []byte)
	// Exit records a short-circuit answer (kong.response.exit/error, ngx.exit);
	// the gateway sends it once the current plugin stops. body may be nil.
	// body and headers are only valid during the call (the PDK reuses them
	// for the next exit, and body may share a Lua string's bytes): Exit
	// must copy what it keeps and never write to them.
	Exit(status int, body []byte, headers [][2]string, source Source)
	Exited() bool
	Source() Source

	// ---- the upstream response as received (kong.service.response.*)
	ServiceStatus() int // 0 when there was no upstream response
	ServiceHeader(name string) (string, bool)
	VisitServiceHeaders(fn func(name, value string))
	ServiceBody() ([]byte, error) // error when not buffered

	// ---- consumer (kong.client.*)
	Consumer() map[string]any
	Credential() map[string]any
	Authenticate(consumer, credential map[string]any)
	LoadConsumer(idOrName string, byUsername bool) (map[string]any, bool)

	// ---- logging (kong.log.*): lines carry plugin, phase, route, request id
	Log(level Level, plugin string, msg string)
	// Serialize returns kong.log.serialize()'s table source (log phase).
	Serialize() map[string]any
	// Latencies in ms (for kong.log.serialize and ngx.var).
	Latencies() (kong, proxy, request int64)
}

// Level is a Kong/nginx log level, ordered from most to least severe, with
// the same numbers as ngx.* constants (ngx.EMERG = 1 ... ngx.DEBUG = 8).
type Level int

const (
	LevelStderr Level = iota
	LevelEmerg
	LevelAlert
	LevelCrit
	LevelErr
	LevelWarn
	LevelNotice
	LevelInfo
	LevelDebug
)
