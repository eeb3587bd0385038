package gateway

import (
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSettingsFromEnvDefaults(t *testing.T) {
	s, err := SettingsFromEnv(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"proxy_listen", strings.Join(s.ProxyListen, ","), "0.0.0.0:8000 reuseport backlog=16384"},
		{"admin_listen", strings.Join(s.AdminListen, ","), "127.0.0.1:8001 reuseport backlog=16384"},
		{"status_listen", strings.Join(s.StatusListen, ","), "127.0.0.1:8007 reuseport backlog=16384"},
		{"log_level", s.LogLevel, "notice"},
		{"real_ip_header", s.RealIPHeader, "X-Real-IP"},
		{"headers", strings.Join(s.Headers, ","), "server_tokens,latency_tokens,x-kong-request-id"},
		{"untrusted_lua", s.UntrustedLua, "sandbox"},
		{"error_default_type", s.ErrorDefaultType, "text/plain"},
		{"lua_max_execution_time", s.LuaMaxExecutionTime, 5 * time.Second},
		{"client_max_body_size", s.ClientMaxBodySize, int64(0)},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestSettingsFromEnv(t *testing.T) {
	s, err := SettingsFromEnv(envOf(map[string]string{
		"KONG_PROXY_LISTEN":                       "0.0.0.0:9000, 127.0.0.1:9001 reuseport",
		"KONG_ADMIN_LISTEN":                       "off",
		"KONG_LOG_LEVEL":                          "debug",
		"KONG_TRUSTED_IPS":                        "10.0.0.0/8, 192.168.1.1",
		"KONG_REAL_IP_RECURSIVE":                  "on",
		"KONG_HEADERS":                            "off",
		"KONG_UNTRUSTED_LUA_SANDBOX_REQUIRES":     "resty.http, pl.stringx",
		"KONG_LUA_MAX_EXECUTION_TIME":             "0.5",
		"KONG_NGINX_HTTP_CLIENT_MAX_BODY_SIZE":    "10m",
		"KONG_NGINX_WORKER_PROCESSES":             "4",
		"KONG_NGINX_HTTP_LUA_SHARED_DICT":         "my_cache 12m; other 1k",
		"KONG_DECLARATIVE_CONFIG":                 "/etc/kong/kong.yml",
		"KONG_UPSTREAM_KEEPALIVE_IDLE_TIMEOUT":    "30",
		"KONG_NGINX_HTTP_CLIENT_BODY_BUFFER_SIZE": "16k",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ProxyListen) != 2 || s.AdminListen[0] != "off" || s.LogLevel != "debug" || len(s.TrustedIPs) != 2 ||
		!s.RealIPRecursive || s.Headers[0] != "off" || len(s.UntrustedLuaSandboxRequires) != 2 ||
		s.LuaMaxExecutionTime != 500*time.Millisecond || s.ClientMaxBodySize != 10<<20 || s.LuaStates != 4 ||
		s.LuaSharedDicts["my_cache"] != 12<<20 || s.LuaSharedDicts["other"] != 1024 || s.DeclarativeConfig != "/etc/kong/kong.yml" ||
		s.UpstreamKeepaliveIdleTimeout != 30*time.Second || s.ClientBodyBufferSize != 16<<10 {
		t.Errorf("settings: %+v", s)
	}
	ls, err := ParseListen("admin_listen", s.AdminListen)
	if err != nil || len(ls) != 0 {
		t.Errorf("off: %v %v", ls, err)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KONG_LOG_LEVEL": "verbose"}, `log_level: "verbose" is not one of`},
		{map[string]string{"KONG_PROXY_LISTEN": "0.0.0.0:8443 proxy_protocol"}, `the "proxy_protocol" flag is not supported`},
		{map[string]string{"KONG_PROXY_LISTEN": "0.0.0.0:8443 http2"}, `http2 needs ssl`},
		{map[string]string{"KONG_PROXY_LISTEN": "8000"}, `invalid address "8000"`},
		{map[string]string{"KONG_STATUS_LISTEN": "127.0.0.1:99999"}, `invalid port "99999"`},
		{map[string]string{"KONG_ADMIN_LISTEN": "127.0.0.1:8001 fancy"}, `unknown flag "fancy"`},
		{map[string]string{"KONG_TRUSTED_IPS": "10.0.0.0/33"}, `trusted_ips: "10.0.0.0/33"`},
		{map[string]string{"KONG_REAL_IP_RECURSIVE": "maybe"}, `KONG_REAL_IP_RECURSIVE: "maybe" is not a boolean`},
		{map[string]string{"KONG_NGINX_HTTP_CLIENT_MAX_BODY_SIZE": "ten"}, `KONG_NGINX_HTTP_CLIENT_MAX_BODY_SIZE: "ten" is not a size`},
		{map[string]string{"KONG_UNTRUSTED_LUA": "maybe"}, `untrusted_lua: "maybe"`},
		{map[string]string{"KONG_DATABASE": "postgres"}, `database: "postgres" is not supported`},
		{map[string]string{"KONG_HEADERS": "server_tokens,x-powered-by"}, `headers: "x-powered-by"`},
		{map[string]string{"KONG_NGINX_WORKER_PROCESSES": "0"}, `KONG_NGINX_WORKER_PROCESSES`},
		{map[string]string{"KONG_NGINX_HTTP_LUA_SHARED_DICT": "justname"}, `"justname" is not "<name> <size>"`},
	} {
		_, err := SettingsFromEnv(envOf(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want it to contain %q", tt.env, err, tt.want)
		}
	}
	// every problem is reported at once
	_, err := SettingsFromEnv(envOf(map[string]string{"KONG_LOG_LEVEL": "x", "KONG_UNTRUSTED_LUA": "y"}))
	if err == nil || !strings.Contains(err.Error(), "log_level") || !strings.Contains(err.Error(), "untrusted_lua") {
		t.Errorf("joined errors: %v", err)
	}
}

func TestHeaderFlags(t *testing.T) {
	f, err := parseHeaderFlags([]string{"server_tokens", "off", "X-Kong-Request-Id", "latency_tokens"}, []string{"off"})
	if err != nil {
		t.Fatal(err)
	}
	want := headerFlags{proxyLatency: true, upstreamLatency: true, respLatency: true, requestID: true}
	if f != want {
		t.Errorf("flags = %+v, want %+v", f, want)
	}
}
