package lualib_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
)

// echoServer answers /echo with the request as JSON-ish text, /slow after
// a delay, /empty with 204, /close with Connection: close, /big with 1 MiB;
// it counts new connections.
func echoServer(t *testing.T, tlsServer bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		fmt.Fprintf(w, "%s %s ua=%s host=%s x=%s ct=%s conn=%s body=%s", r.Method, r.URL.RequestURI(),
			r.UserAgent(), r.Host, strings.Join(r.Header.Values("X-Test"), ","), r.Header.Get("Content-Type"),
			r.Header.Get("Connection"), body)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		w.Write([]byte("late"))
	})
	mux.HandleFunc("/slowbody", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tlsServer {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestHTTPRequests(t *testing.T) {
	srv, conns := echoServer(t, false)
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	var ioCalls atomic.Int64
	L := newIOState(t, nets, lualib.PhaseAccess, func(kind string, d time.Duration, err error) {
		if kind == "http" {
			ioCalls.Add(1)
		}
	})
	L.SetGlobal("BASE", lua.LString(srv.URL))
	L.SetGlobal("HOSTPORT", lua.LString(strings.TrimPrefix(srv.URL, "http://")))
	eval(t, L, `http = require "resty.http"`)
	for _, tc := range []struct{ name, code, want string }{
		{"get", `local res, err = http.new():request_uri(BASE .. "/echo?a=1")
			return res.status, res.reason, res.body, res.has_body`,
			`200|"OK"|"GET /echo?a=1 ua=lua-resty-http/0.17.2 (Lua) ngx_lua/10026 host=` + strings.TrimPrefix(srv.URL, "http://") + ` x= ct= conn= body="|true`},
		{"headers are case-insensitive", `local res = http.new():request_uri(BASE .. "/echo")
			return res.headers["content-type"], res.headers["CONTENT-TYPE"], res.headers["Content-Type"], res.headers["X-Multi"]`,
			`"text/plain"|"text/plain"|"text/plain"|{"a", "b"}`},
		{"post with headers and query table", `local res = http.new():request_uri(BASE .. "/echo", {
				method = "POST", body = "a=b", query = {q = "x y", n = 1},
				headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Test"] = {"1", "2"}},
			})
			return res.body`,
			`"POST /echo?n=1&q=x%20y ua=lua-resty-http/0.17.2 (Lua) ngx_lua/10026 host=` + strings.TrimPrefix(srv.URL, "http://") + ` x=1,2 ct=application/x-www-form-urlencoded conn= body=a=b"`},
		{"query string param", `return http.new():request_uri(BASE .. "/echo", {query = "z=1", headers = {["User-Agent"] = "me", Host = "api.test"}}).body`,
			`"GET /echo?z=1 ua=me host=api.test x= ct= conn= body="`},
		{"body table and iterator", `local a = http.new():request_uri(BASE .. "/echo", {method = "PUT", body = {"x", "y"}}).body
			local chunks, i = {"1", "2", "3"}, 0
			local b = http.new():request_uri(BASE .. "/echo", {method = "POST", body = function() i = i + 1; return chunks[i] end}).body
			return a:match("body=(.*)"), b:match("body=(.*)")`, `"xy"|"123"`},
		{"keepalive false closes", `return http.new():request_uri(BASE .. "/echo", {keepalive = false}).body:match("conn=(%a*)")`, `"close"`},
		{"204 has no body", `local res = http.new():request_uri(BASE .. "/empty"); return res.status, res.has_body, res.body`, `204|false|nil`},
		{"head has no body", `local res = http.new():request_uri(BASE .. "/echo", {method = "HEAD"}); return res.status, res.has_body`, `200|false`},
		{"big body", `return #http.new():request_uri(BASE .. "/big").body`, `1048576`},
		{"bad uri", `return http.new():request_uri("ftp://x/")`, `nil|"bad uri: ftp://x/"`},
		{"connection refused", `return http.new():request_uri("http://127.0.0.1:1/")`, `nil|"connection refused"`},
		{"low level", `local httpc = http.new()
			assert(httpc:connect{scheme = "http", host = "127.0.0.1", port = tonumber(HOSTPORT:match(":(%d+)"))})
			local res = assert(httpc:request{path = "/echo", query = {k = "v"}, headers = {["X-Test"] = "lo"}})
			local body = res:read_body()
			local again = res:read_body()
			return res.status, body:match("^GET /echo%?k=v"), body:match("x=(%w*)"), httpc:set_keepalive(), again`,
			`200|"GET /echo?k=v"|"lo"|1|""`},
		{"body_reader chunks", `local httpc = http.new()
			assert(httpc:connect("127.0.0.1", tonumber(HOSTPORT:match(":(%d+)"))))
			local res = assert(httpc:request{path = "/big"})
			local n, chunks = 0, 0
			repeat
				local chunk = res.body_reader(65536)
				if chunk then n = n + #chunk; chunks = chunks + 1 end
			until not chunk
			return n, chunks >= 16, httpc:close()`, `1048576|true|1`},
		{"connection close from the server", `local httpc = http.new()
			assert(httpc:connect{host = "127.0.0.1", port = tonumber(HOSTPORT:match(":(%d+)"))})
			local res = httpc:request{path = "/close"}
			return res:read_body(), httpc:set_keepalive()`, `"bye"|2|"connection must be closed"`},
		{"request before connect", `return http.new():request{path = "/"}`, `nil|"closed"`},
		{"parse_uri", `local p = http.new():parse_uri("https://user@example.com/a/b?c=d#frag")
			local q = http.new():parse_uri("http://[::1]:8080?x", false)
			return p, q`, `{"https", "example.com", 443, "/a/b?c=d", ""}|{"http", "::1", 8080, "/", "x"}`},
		{"module version", `return http._VERSION`, `"0.17.2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, L, tc.code); got != tc.want {
				t.Errorf("%s\n= %s\nwant %s", tc.code, got, tc.want)
			}
		})
	}
	if ioCalls.Load() == 0 {
		t.Error("OnIO was not called for http")
	}
	_ = conns
}

func TestHTTPKeepalive(t *testing.T) {
	srv, conns := echoServer(t, false)
	nets := lualib.NewNetPools()
	t.Cleanup(nets.Close)
	L := newIOState(t, nets, lualib.PhaseAccess, nil)
	L.SetGlobal("PORT", lua.LNumber(srv.Listener.Addr().(*net.TCPAddr).Port))
	eval(t, L, `http = require "resty.http"
		function once()
			local httpc = http.new()
			assert(httpc:connect("127.0.0.1", PORT))
			local res = assert(httpc:request{path = "/echo"})
			assert(res:read_body())
			local n = httpc:get_reused_times()
			assert(httpc:set_keepalive(10000, 10) == 1)
			return n
		end`)
	if got := eval(t, L, `return once(), once(), once()`); got != `0|1|2` {
		t.Errorf("reused times over three requests = %s, want 0|1|2", got)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
	// request_uri keeps the connection alive too; keepalive = false does not
	eval(t, L, `local h = http.new(); h:request_uri("http://127.0.0.1:" .. PORT .. "/echo")`)
	if n := conns.Load(); n != 1 {
		t.Errorf("server saw %d connections after request_uri, want 1", n)
	}
	eval(t, L, `local h = http.new(); h:request_uri("http://127.0.0.1:" .. PORT .. "/echo", {keepalive = false})`)
	eval(t, L, `local h = http.new(); h:request_uri("http://127.0.0.1:" .. PORT .. "/echo")`)
	if n := conns.Load(); n != 2 {
		t.Errorf("server saw %d connections after keepalive = false, want 2", n)
	}
	// close() drops the connection
	if got := eval(t, L, `local httpc = http.new(); assert(httpc:connect("127.0.0.1", PORT))
		local res = assert(httpc:request{path = "/echo"}); res:read_body(); return httpc:close(), once()`); got != `1|0` {
		t.Errorf("after close = %s, want a fresh connection", got)
	}
}

func TestHTTPTimeouts(t *testing.T) {
	srv, _ := echoServer(t, false)
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	L.SetGlobal("BASE", lua.LString(srv.URL))
	L.SetGlobal("PORT", lua.LNumber(srv.Listener.Addr().(*net.TCPAddr).Port))
	for _, tc := range []struct{ name, code, want string }{
		{"response timeout", `local h = require("resty.http").new(); h:set_timeout(100); return h:request_uri(BASE .. "/slow")`, `nil|"timeout"`},
		{"read timeouts", `local h = require("resty.http").new(); h:set_timeouts(1000, 1000, 100); return h:request_uri(BASE .. "/slow")`, `nil|"timeout"`},
		{"body read timeout", `local h = require("resty.http").new(); h:set_timeout(150); assert(h:connect("127.0.0.1", PORT))
			local res = assert(h:request{path = "/slowbody"})
			local first = res.body_reader()
			return first, res.body_reader()`, `"first"|nil|"timeout"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if got := eval(t, L, tc.code); got != tc.want {
				t.Errorf("%s\n= %s, want %s", tc.code, got, tc.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	srv, _ := echoServer(t, true)
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	L.SetGlobal("BASE", lua.LString(srv.URL))
	if got := eval(t, L, `local res = require("resty.http").new():request_uri(BASE .. "/echo", {ssl_verify = false}); return res.status`); got != `200` {
		t.Errorf("ssl_verify = false: %s", got)
	}
	got := eval(t, L, `local res, err = require("resty.http").new():request_uri(BASE .. "/echo"); return res, err`)
	if !strings.HasPrefix(got, `nil|"`) || !strings.Contains(got, "certificate") {
		t.Errorf("self-signed certificate with ssl_verify on: %s, want nil and a certificate error", got)
	}
}

func TestHTTPUnixSocketAndServerName(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	unixSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "unix %s %s host=%s", r.Method, r.URL.RequestURI(), r.Host)
	})}
	go unixSrv.Serve(l)
	t.Cleanup(func() { unixSrv.Close() })

	tlsSrv, _ := echoServer(t, true) // certificate for 127.0.0.1 and example.com
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, nil)
	L.SetGlobal("SOCK", lua.LString(sock))
	L.SetGlobal("TLSPORT", lua.LNumber(tlsSrv.Listener.Addr().(*net.TCPAddr).Port))
	for _, tc := range []struct{ name, code, want string }{
		{"unix socket", `local httpc = require("resty.http").new(); assert(httpc:connect("unix:" .. SOCK))
			local res = assert(httpc:request{path = "/x", query = "a=1"}); return res:read_body()`, `"unix GET /x?a=1 host=localhost"`},
		{"ssl_server_name without verification", `local httpc = require("resty.http").new()
			assert(httpc:connect{scheme = "https", host = "127.0.0.1", port = TLSPORT, ssl_server_name = "example.com", ssl_verify = false})
			local res = assert(httpc:request{path = "/echo"}); return res.status`, `200`},
		{"ssl_server_name with verification", `local httpc = require("resty.http").new()
			assert(httpc:connect{scheme = "https", host = "127.0.0.1", port = TLSPORT, ssl_server_name = "example.com"})
			local res, err = httpc:request{path = "/echo"}; return res, err:find("certificate signed by unknown authority", 1, true) ~= nil`, `nil|true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, L, tc.code); got != tc.want {
				t.Errorf("%s\n= %s, want %s", tc.code, got, tc.want)
			}
		})
	}
}

// OnIO sees every request once: with a body, without one (204), abandoned
// bodies (at close) and failures.
func TestHTTPOnIO(t *testing.T) {
	srv, _ := echoServer(t, false)
	type call struct {
		kind string
		err  bool
	}
	var calls []call
	L := newIOState(t, lualib.NewNetPools(), lualib.PhaseAccess, func(kind string, d time.Duration, err error) {
		calls = append(calls, call{kind, err != nil})
	})
	L.SetGlobal("BASE", lua.LString(srv.URL))
	L.SetGlobal("PORT", lua.LNumber(srv.Listener.Addr().(*net.TCPAddr).Port))
	eval(t, L, `local http = require "resty.http"
		http.new():request_uri(BASE .. "/echo")
		http.new():request_uri(BASE .. "/empty")
		http.new():request_uri("http://127.0.0.1:1/")
		local h = http.new(); h:set_timeout(100); h:request_uri(BASE .. "/slow")
		local a = http.new(); a:connect("127.0.0.1", PORT); a:request{path = "/big"}; a:close()`)
	want := []call{{"http", false}, {"http", false}, {"http", true}, {"http", true}, {"http", false}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("OnIO calls = %v, want %v", calls, want)
	}
}
