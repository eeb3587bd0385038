package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Settings are the node settings, named after kong.conf keys and read from
// KONG_* environment variables by SettingsFromEnv.
type Settings struct {
	// DeclarativeConfig is the path of kong.yml (declarative_config).
	DeclarativeConfig string
	// Database must be "off" (DB-less); kept so a KONG_DATABASE=postgres
	// deployment fails clearly instead of silently running without its DB.
	Database string

	// ProxyListen, AdminListen and StatusListen use kong.conf syntax:
	// "0.0.0.0:8000 reuseport backlog=16384"; "off" (or no entry) disables.
	ProxyListen  []string
	AdminListen  []string
	StatusListen []string

	LogLevel  string // debug, info, notice (default), warn, error, crit, alert, emerg
	LogFormat string // text (default) or json
	// AccessLog is where one line per proxied request goes
	// (KONG_PROXY_ACCESS_LOG): "off" (default), "on" or "stdout", "stderr",
	// or a file path. With log_format json a line is kong.log.serialize().
	AccessLog string

	TrustedIPs      []string // trusted_ips: CIDRs or IPs; "unix:" is ignored
	RealIPHeader    string   // real_ip_header, default X-Real-IP
	RealIPRecursive bool     // real_ip_recursive
	// Headers lists the response headers luagate adds (headers): server_tokens,
	// latency_tokens, x-kong-request-id, or single names (server, via,
	// x-kong-proxy-latency, x-kong-upstream-latency, x-kong-response-latency,
	// x-kong-upstream-status); "off" disables all.
	Headers []string
	// HeadersUpstream lists the request headers added upstream
	// (headers_upstream): x-kong-request-id, or "off".
	HeadersUpstream  []string
	ErrorDefaultType string // error_default_type, default text/plain
	AllowDebugHeader bool   // allow_debug_header

	UntrustedLua                   string   // untrusted_lua: sandbox (default), on, off
	UntrustedLuaSandboxRequires    []string // untrusted_lua_sandbox_requires
	UntrustedLuaSandboxEnvironment []string // untrusted_lua_sandbox_environment
	// LuaMaxExecutionTime bounds each Lua call (DECISIONS row 10;
	// KONG_LUA_MAX_EXECUTION_TIME in seconds or a Go duration; default 5s).
	LuaMaxExecutionTime time.Duration
	// LuaStates is how many Lua states ngx.worker.count() reports and the
	// pool keeps idle (the nginx_worker_processes equivalent; "auto" = 0 =
	// runtime.GOMAXPROCS).
	LuaStates int

	// ClientMaxBodySize limits request bodies (nginx_http_client_max_body_size;
	// 0 = unlimited, Kong's default).
	ClientMaxBodySize int64
	// ClientBodyBufferSize is how much of a request body is read before the
	// proxy starts streaming it (nginx_http_client_body_buffer_size, 8k).
	ClientBodyBufferSize int

	UpstreamKeepaliveIdleTimeout time.Duration // upstream_keepalive_idle_timeout (60s)
	// UpstreamKeepalivePoolSize is accepted (upstream_keepalive_pool_size,
	// 512) but not enforced: fasthttp keeps idle connections until
	// UpstreamKeepaliveIdleTimeout rather than capping their number.
	UpstreamKeepalivePoolSize int

	// LuaSharedDicts are extra ngx.shared zones (nginx_http_lua_shared_dict:
	// "name size; name size"), added to Kong's own.
	LuaSharedDicts map[string]int

	// AdminWrites enables DECISIONS row 7 (default on).
	AdminWrites bool
	// AdminToken, when set, makes every Admin API request need
	// "Authorization: Bearer <token>" (KONG_ADMIN_TOKEN).
	AdminToken string
	// AdminMaxBodySize limits Admin API request bodies
	// (nginx_admin_client_max_body_size, default 10m).
	AdminMaxBodySize int64

	// DrainTimeout bounds how long SIGTERM waits for in-flight requests
	// (KONG_DRAIN_TIMEOUT in seconds or a Go duration, default 10s; like
	// nginx_main_worker_shutdown_timeout). /status/ready answers 503 while
	// the node drains.
	DrainTimeout time.Duration

	// SSLCert and SSLCertKey are the default certificate of the TLS proxy
	// listeners (ssl_cert, ssl_cert_key): PEM text or file paths, one pair
	// per entry (an RSA and an ECDSA pair may both be given). Empty means a
	// self-signed certificate generated at start, as Kong does. kong.yml
	// certificates/snis take precedence by SNI (tls.go).
	SSLCert, SSLCertKey []string
	// AdminSSLCert/AdminSSLCertKey and StatusSSLCert/StatusSSLCertKey are
	// the certificates of ssl admin and status listeners (admin_ssl_cert,
	// status_ssl_cert, ...); empty means the generated one.
	AdminSSLCert, AdminSSLCertKey   []string
	StatusSSLCert, StatusSSLCertKey []string

	// Edge limits (SECURITY.md lists them with what a client gets).
	// ClientHeaderTimeout bounds reading a request's line and headers
	// (nginx_http_client_header_timeout, 60s); ClientBodyTimeout bounds the
	// wait between two reads of a request body (nginx_http_client_body_timeout,
	// 60s); both close the connection with 408.
	ClientHeaderTimeout time.Duration
	ClientBodyTimeout   time.Duration
	// SendTimeout bounds the wait between two successful writes to a
	// client (nginx_http_send_timeout, nginx's send_timeout, 60s): a client
	// that stops reading its response loses the connection, one that reads
	// slowly but steadily keeps it however long the transfer takes.
	SendTimeout time.Duration
	// LargeClientHeaderBuffers is nginx's large_client_header_buffers
	// ("4 8k"): a request line longer than the size gets 414, a header line
	// longer than it or headers beyond number*size get 400 "Request header
	// or cookie too large" (nginx_http_large_client_header_buffers).
	LargeClientHeaderBuffers string
	// MaxConnections caps concurrent client connections per listener
	// (nginx_events_worker_connections; 0 or "auto" = 16384); connections
	// beyond it are closed at once.
	MaxConnections int
}

// drainTimeout is DrainTimeout, or the default when unset.
func (s *Settings) drainTimeout() time.Duration {
	if s.DrainTimeout > 0 {
		return s.DrainTimeout
	}
	return shutdownGrace
}

// DefaultSettings returns Kong's defaults for every setting luagate honours.
func DefaultSettings() Settings {
	return Settings{
		Database:                     "off",
		ProxyListen:                  []string{"0.0.0.0:8000 reuseport backlog=16384"},
		AdminListen:                  []string{"127.0.0.1:8001 reuseport backlog=16384"},
		StatusListen:                 []string{"127.0.0.1:8007 reuseport backlog=16384"},
		LogLevel:                     "notice",
		LogFormat:                    "text",
		AccessLog:                    "off",
		RealIPHeader:                 "X-Real-IP",
		Headers:                      []string{"server_tokens", "latency_tokens", "x-kong-request-id"},
		HeadersUpstream:              []string{"x-kong-request-id"},
		ErrorDefaultType:             "text/plain",
		UntrustedLua:                 "sandbox",
		LuaMaxExecutionTime:          5 * time.Second,
		ClientBodyBufferSize:         8 << 10,
		UpstreamKeepaliveIdleTimeout: 60 * time.Second,
		UpstreamKeepalivePoolSize:    512,
		AdminWrites:                  true,
		AdminMaxBodySize:             10 << 20,
		DrainTimeout:                 shutdownGrace,
		ClientHeaderTimeout:          60 * time.Second,
		ClientBodyTimeout:            60 * time.Second,
		SendTimeout:                  60 * time.Second,
		LargeClientHeaderBuffers:     "4 8k",
	}
}

// SettingsFromEnv starts from DefaultSettings and applies every KONG_*
// variable getenv returns (os.Getenv in production). All bad values are
// reported together, each naming its variable.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	var errs []error
	str := func(key string, dst *string) {
		if v := strings.TrimSpace(getenv("KONG_" + key)); v != "" {
			*dst = v
		}
	}
	list := func(key string, dst *[]string) {
		if v := strings.TrimSpace(getenv("KONG_" + key)); v != "" {
			*dst = splitList(v)
		}
	}
	boolean := func(key string, dst *bool) {
		if v := strings.TrimSpace(getenv("KONG_" + key)); v != "" {
			b, err := parseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("KONG_%s: %w", key, err))
				return
			}
			*dst = b
		}
	}
	size := func(key string, dst *int64) {
		if v := strings.TrimSpace(getenv("KONG_" + key)); v != "" {
			n, err := parseSize(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("KONG_%s: %w", key, err))
				return
			}
			*dst = n
		}
	}
	seconds := func(key string, dst *time.Duration) {
		if v := strings.TrimSpace(getenv("KONG_" + key)); v != "" {
			d, err := parseSeconds(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("KONG_%s: %w", key, err))
				return
			}
			*dst = d
		}
	}

	str("DECLARATIVE_CONFIG", &s.DeclarativeConfig)
	str("DATABASE", &s.Database)
	list("PROXY_LISTEN", &s.ProxyListen)
	list("ADMIN_LISTEN", &s.AdminListen)
	list("STATUS_LISTEN", &s.StatusListen)
	str("LOG_LEVEL", &s.LogLevel)
	str("LOG_FORMAT", &s.LogFormat)
	str("PROXY_ACCESS_LOG", &s.AccessLog)
	list("TRUSTED_IPS", &s.TrustedIPs)
	str("REAL_IP_HEADER", &s.RealIPHeader)
	boolean("REAL_IP_RECURSIVE", &s.RealIPRecursive)
	list("HEADERS", &s.Headers)
	list("HEADERS_UPSTREAM", &s.HeadersUpstream)
	str("ERROR_DEFAULT_TYPE", &s.ErrorDefaultType)
	boolean("ALLOW_DEBUG_HEADER", &s.AllowDebugHeader)
	str("UNTRUSTED_LUA", &s.UntrustedLua)
	list("UNTRUSTED_LUA_SANDBOX_REQUIRES", &s.UntrustedLuaSandboxRequires)
	list("UNTRUSTED_LUA_SANDBOX_ENVIRONMENT", &s.UntrustedLuaSandboxEnvironment)
	seconds("LUA_MAX_EXECUTION_TIME", &s.LuaMaxExecutionTime)
	if v := strings.TrimSpace(getenv("KONG_NGINX_WORKER_PROCESSES")); v != "" && v != "auto" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("KONG_NGINX_WORKER_PROCESSES: %q is not \"auto\" or a positive integer", v))
		} else {
			s.LuaStates = n
		}
	}
	size("NGINX_HTTP_CLIENT_MAX_BODY_SIZE", &s.ClientMaxBodySize)
	var buf int64 = int64(s.ClientBodyBufferSize)
	size("NGINX_HTTP_CLIENT_BODY_BUFFER_SIZE", &buf)
	s.ClientBodyBufferSize = int(buf)
	seconds("UPSTREAM_KEEPALIVE_IDLE_TIMEOUT", &s.UpstreamKeepaliveIdleTimeout)
	if v := strings.TrimSpace(getenv("KONG_UPSTREAM_KEEPALIVE_POOL_SIZE")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("KONG_UPSTREAM_KEEPALIVE_POOL_SIZE: %q is not a non-negative integer", v))
		} else {
			s.UpstreamKeepalivePoolSize = n
		}
	}
	boolean("ADMIN_WRITES", &s.AdminWrites)
	str("ADMIN_TOKEN", &s.AdminToken)
	size("NGINX_ADMIN_CLIENT_MAX_BODY_SIZE", &s.AdminMaxBodySize)
	seconds("DRAIN_TIMEOUT", &s.DrainTimeout)
	list("SSL_CERT", &s.SSLCert)
	list("SSL_CERT_KEY", &s.SSLCertKey)
	list("ADMIN_SSL_CERT", &s.AdminSSLCert)
	list("ADMIN_SSL_CERT_KEY", &s.AdminSSLCertKey)
	list("STATUS_SSL_CERT", &s.StatusSSLCert)
	list("STATUS_SSL_CERT_KEY", &s.StatusSSLCertKey)
	seconds("NGINX_HTTP_CLIENT_HEADER_TIMEOUT", &s.ClientHeaderTimeout)
	seconds("NGINX_HTTP_CLIENT_BODY_TIMEOUT", &s.ClientBodyTimeout)
	seconds("NGINX_HTTP_SEND_TIMEOUT", &s.SendTimeout)
	str("NGINX_HTTP_LARGE_CLIENT_HEADER_BUFFERS", &s.LargeClientHeaderBuffers)
	if v := strings.TrimSpace(getenv("KONG_NGINX_EVENTS_WORKER_CONNECTIONS")); v != "" && v != "auto" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("KONG_NGINX_EVENTS_WORKER_CONNECTIONS: %q is not \"auto\" or a positive integer", v))
		} else {
			s.MaxConnections = n
		}
	}
	if v := strings.TrimSpace(getenv("KONG_NGINX_HTTP_LUA_SHARED_DICT")); v != "" {
		d, err := parseSharedDicts(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("KONG_NGINX_HTTP_LUA_SHARED_DICT: %w", err))
		} else {
			s.LuaSharedDicts = d
		}
	}

	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// Validate checks values that have a fixed set of choices and the listen
// syntax; every problem is reported.
func (s *Settings) Validate() error {
	var errs []error
	if s.Database != "" && s.Database != "off" {
		errs = append(errs, fmt.Errorf("database: %q is not supported, luagate runs DB-less (database = off)", s.Database))
	}
	if _, ok := parseLevel(s.LogLevel); !ok {
		errs = append(errs, fmt.Errorf("log_level: %q is not one of debug, info, notice, warn, error, crit, alert, emerg", s.LogLevel))
	}
	if s.LogFormat != "text" && s.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format: %q is not one of text, json", s.LogFormat))
	}
	switch s.UntrustedLua {
	case "sandbox", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("untrusted_lua: %q is not one of on, off, sandbox", s.UntrustedLua))
	}
	if _, err := parseTrusted(s.TrustedIPs); err != nil {
		errs = append(errs, err)
	}
	for _, l := range []struct {
		key string
		v   []string
	}{{"proxy_listen", s.ProxyListen}, {"admin_listen", s.AdminListen}, {"status_listen", s.StatusListen}} {
		if _, err := ParseListen(l.key, l.v); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := parseHeaderFlags(s.Headers, s.HeadersUpstream); err != nil {
		errs = append(errs, err)
	}
	if s.DrainTimeout < 0 {
		errs = append(errs, errors.New("drain_timeout: must not be negative"))
	}
	if s.LuaMaxExecutionTime < 0 {
		errs = append(errs, errors.New("lua_max_execution_time: must not be negative"))
	}
	if err := s.validateEdge(); err != nil { // tls.go
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Listen is one parsed listen entry.
type Listen struct {
	Addr      string // host:port
	ReusePort bool
	Backlog   int
	SSL       bool // terminate TLS (tls.go)
	HTTP2     bool // also offer HTTP/2 by ALPN (needs SSL; h2.go)
}

// ParseListen parses kong.conf listen entries ("ip:port flag flag=value").
// "off" gives none. ssl terminates TLS, http2 (only with ssl) adds HTTP/2;
// proxy_protocol is rejected.
func ParseListen(key string, entries []string) ([]Listen, error) {
	var out []Listen
	for _, e := range entries {
		fields := strings.Fields(e)
		if len(fields) == 0 {
			continue
		}
		if len(fields) == 1 && fields[0] == "off" {
			continue
		}
		addr := fields[0]
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: invalid address %q: %w", key, e, addr, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("%s: %q: invalid port %q", key, e, port)
		}
		if host != "" && host != "*" {
			if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
				return nil, fmt.Errorf("%s: %q: %q is not an IP address", key, e, host)
			}
		}
		if host == "*" {
			addr = net.JoinHostPort("0.0.0.0", port)
		}
		l := Listen{Addr: addr}
		for _, f := range fields[1:] {
			name, val, _ := strings.Cut(f, "=")
			switch name {
			case "proxy_protocol":
				return nil, fmt.Errorf("%s: %q: the %q flag is not supported", key, e, name)
			case "ssl":
				l.SSL = true
			case "http2":
				l.HTTP2 = true
			case "reuseport":
				l.ReusePort = true
			case "backlog":
				n, err := strconv.Atoi(val)
				if err != nil || n < 1 {
					return nil, fmt.Errorf("%s: %q: invalid backlog %q", key, e, val)
				}
				l.Backlog = n
			case "deferred", "bind", "ipv6only", "so_keepalive":
				// accepted and ignored: the Go runtime picks these
			default:
				return nil, fmt.Errorf("%s: %q: unknown flag %q", key, e, f)
			}
		}
		if l.HTTP2 && !l.SSL {
			return nil, fmt.Errorf("%s: %q: http2 needs ssl (luagate speaks HTTP/2 over TLS only)", key, e)
		}
		out = append(out, l)
	}
	return out, nil
}

// splitList splits a kong.conf list value at commas, trimming each item
// and dropping empty ones.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (on/off)", v)
}

// parseSize parses an nginx size: a number optionally followed by k or m.
func parseSize(v string) (int64, error) {
	s := strings.ToLower(v)
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (like 0, 8k or 10m)", v)
	}
	return n * mult, nil
}

// parseSeconds accepts a number of seconds ("5", "0.5") or a Go duration ("500ms").
func parseSeconds(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a number of seconds or a duration", v)
}

// parseTrusted parses trusted_ips ("0.0.0.0/0,::/0", single IPs, "unix:").
func parseTrusted(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if s == "unix:" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_ips: %q is not an IP address or CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// headerFlags says which headers luagate adds (the headers and
// headers_upstream settings).
type headerFlags struct {
	server, via                                bool
	proxyLatency, upstreamLatency, respLatency bool
	requestID, upstreamStatus                  bool
	upstreamRequestID                          bool
}

func parseHeaderFlags(down, up []string) (headerFlags, error) {
	var f headerFlags
	for _, h := range down {
		switch strings.ToLower(h) {
		case "off":
			f = headerFlags{}
		case "server_tokens":
			f.server, f.via = true, true
		case "latency_tokens":
			f.proxyLatency, f.upstreamLatency, f.respLatency = true, true, true
		case "server":
			f.server = true
		case "via":
			f.via = true
		case "x-kong-proxy-latency":
			f.proxyLatency = true
		case "x-kong-upstream-latency":
			f.upstreamLatency = true
		case "x-kong-response-latency":
			f.respLatency = true
		case "x-kong-request-id":
			f.requestID = true
		case "x-kong-upstream-status":
			f.upstreamStatus = true
		case "x-kong-admin-latency", "x-kong-total-latency":
		default:
			return f, fmt.Errorf("headers: %q is not a known header or token", h)
		}
	}
	for _, h := range up {
		switch strings.ToLower(h) {
		case "off":
			f.upstreamRequestID = false
		case "x-kong-request-id":
			f.upstreamRequestID = true
		default:
			return f, fmt.Errorf("headers_upstream: %q is not x-kong-request-id or off", h)
		}
	}
	return f, nil
}
