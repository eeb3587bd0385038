package lualib

import (
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// ngx.* as user functions use it (spec §3): ngx.var, ngx.req.*, ngx.say,
// ngx.print, ngx.exit, ngx.status, ngx.header, ngx.arg, ngx.ctx, ngx.log,
// ngx.worker.*, ngx.sleep, ngx.get_phase, ngx.config and the constants.

// maxSleepNoContext bounds ngx.sleep when the state has no context (the
// functions runtime normally sets one carrying the per-call time limit).
const maxSleepNoContext = 10 * time.Second

var ngxMethods = []struct {
	name string
	num  int
}{
	{"GET", 2}, {"HEAD", 4}, {"POST", 8}, {"PUT", 16}, {"DELETE", 32}, {"MKCOL", 64}, {"COPY", 128},
	{"MOVE", 256}, {"OPTIONS", 512}, {"PROPFIND", 1024}, {"PROPPATCH", 2048}, {"LOCK", 4096},
	{"UNLOCK", 8192}, {"PATCH", 16384}, {"TRACE", 32768},
}

var ngxStatusConsts = []struct {
	name string
	code int
}{
	{"HTTP_CONTINUE", 100}, {"HTTP_SWITCHING_PROTOCOLS", 101}, {"HTTP_OK", 200}, {"HTTP_CREATED", 201},
	{"HTTP_ACCEPTED", 202}, {"HTTP_NO_CONTENT", 204}, {"HTTP_PARTIAL_CONTENT", 206},
	{"HTTP_SPECIAL_RESPONSE", 300}, {"HTTP_MOVED_PERMANENTLY", 301}, {"HTTP_MOVED_TEMPORARILY", 302},
	{"HTTP_SEE_OTHER", 303}, {"HTTP_NOT_MODIFIED", 304}, {"HTTP_TEMPORARY_REDIRECT", 307},
	{"HTTP_PERMANENT_REDIRECT", 308}, {"HTTP_BAD_REQUEST", 400}, {"HTTP_UNAUTHORIZED", 401},
	{"HTTP_PAYMENT_REQUIRED", 402}, {"HTTP_FORBIDDEN", 403}, {"HTTP_NOT_FOUND", 404},
	{"HTTP_NOT_ALLOWED", 405}, {"HTTP_NOT_ACCEPTABLE", 406}, {"HTTP_REQUEST_TIMEOUT", 408},
	{"HTTP_CONFLICT", 409}, {"HTTP_GONE", 410}, {"HTTP_UPGRADE_REQUIRED", 426},
	{"HTTP_TOO_MANY_REQUESTS", 429}, {"HTTP_CLOSE", 444}, {"HTTP_ILLEGAL", 451},
	{"HTTP_INTERNAL_SERVER_ERROR", 500}, {"HTTP_METHOD_NOT_IMPLEMENTED", 501},
	{"HTTP_NOT_IMPLEMENTED", 501}, {"HTTP_BAD_GATEWAY", 502}, {"HTTP_SERVICE_UNAVAILABLE", 503},
	{"HTTP_GATEWAY_TIMEOUT", 504}, {"HTTP_VERSION_NOT_SUPPORTED", 505}, {"HTTP_INSUFFICIENT_STORAGE", 507},
}

func (p *pdk) openNgx() {
	L := p.L
	n := p.ngx
	for _, c := range []struct {
		name string
		v    int
	}{{"OK", 0}, {"ERROR", -1}, {"AGAIN", -2}, {"DONE", -4}, {"DECLINED", -5}} {
		n.RawSetString(c.name, lua.LNumber(c.v))
	}
	for _, m := range ngxMethods {
		n.RawSetString("HTTP_"+m.name, lua.LNumber(m.num))
	}
	for _, s := range ngxStatusConsts {
		n.RawSetString(s.name, lua.LNumber(s.code))
	}
	for l := LevelStderr; l <= LevelDebug; l++ {
		n.RawSetString(strings.ToUpper(l.String()), lua.LNumber(l))
	}
	n.RawSetString("null", p.null)
	n.RawSetString("is_subrequest", lua.LFalse)

	p.set(n, "say", p.ngxSay)
	p.set(n, "print", p.ngxPrint)
	p.set(n, "flush", func(L *lua.LState) int { L.Push(lua.LNumber(1)); return 1 })
	p.set(n, "eof", func(L *lua.LState) int { L.Push(lua.LNumber(1)); return 1 })
	p.set(n, "exit", p.ngxExit)
	p.set(n, "log", p.ngxLog)
	p.set(n, "sleep", p.ngxSleep)
	p.set(n, "get_phase", func(L *lua.LState) int { L.Push(lua.LString(ngxPhaseName(p.curPhase()))); return 1 })

	cfg := p.sub(n, "config")
	cfg.RawSetString("subsystem", lua.LString("http"))
	cfg.RawSetString("debug", lua.LFalse)
	cfg.RawSetString("nginx_version", lua.LNumber(1025003))
	cfg.RawSetString("ngx_lua_version", lua.LNumber(10026))
	p.set(cfg, "prefix", func(L *lua.LState) int { L.Push(lua.LString("")); return 1 })
	p.set(cfg, "nginx_configure", func(L *lua.LState) int { L.Push(lua.LString("")); return 1 })

	w := p.sub(n, "worker")
	p.set(w, "pid", func(L *lua.LState) int { L.Push(lua.LNumber(p.opts.WorkerPID)); return 1 })
	p.set(w, "id", func(L *lua.LState) int { L.Push(lua.LNumber(p.opts.WorkerID)); return 1 })
	p.set(w, "count", func(L *lua.LState) int { L.Push(lua.LNumber(p.opts.WorkerCount)); return 1 })
	p.set(w, "exiting", func(L *lua.LState) int { L.Push(lua.LFalse); return 1 })

	p.openNgxReq()
	p.openNgxVar()
	p.openNgxHeader()
	p.openNgxArg()

	// dynamic fields: ngx.ctx, ngx.status, ngx.headers_sent
	mt := L.CreateTable(0, 4)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		switch k, _ := L.Get(2).(lua.LString); k {
		case "ctx":
			L.Push(p.ngxCtxTable())
		case "status":
			if p.ex == nil {
				L.Push(lua.LNumber(0))
			} else {
				L.Push(lua.LNumber(p.ex.ResponseStatus()))
			}
		case "headers_sent":
			L.Push(lua.LBool(p.ex != nil && p.ex.HeadersSent()))
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		k, v := L.Get(2), L.Get(3)
		switch k {
		case lua.LString("ctx"):
			t, ok := v.(*lua.LTable)
			if !ok {
				raise(L, "ctx should be a table while getting a %s", v.Type())
			}
			if p.ex == nil {
				raise(L, "no request found")
			}
			p.ngxCtx = t
		case lua.LString("status"):
			code, ok := v.(lua.LNumber)
			if !ok {
				if s, isStr := v.(lua.LString); isStr {
					if f, err := strconv.Atoi(string(s)); err == nil {
						code, ok = lua.LNumber(f), true
					}
				}
			}
			if !ok {
				raise(L, "attempt to set ngx.status to a non-number value")
			}
			ex := p.exchange(L)
			if ex.HeadersSent() {
				p.log(L, LevelErr, "attempt to set ngx.status after sending out response headers")
				return 0
			}
			ex.SetResponseStatus(int(code))
		default:
			n.RawSet(k, v)
		}
		return 0
	}))
	L.SetMetatable(n, mt)

	// print() writes to the error log at notice level, as in OpenResty.
	L.G.Global.RawSetString("print", L.NewFunction(func(L *lua.LState) int {
		if p.enabled(LevelNotice) {
			p.log(L, LevelNotice, p.concatArgs(L, 1))
		}
		return 0
	}))
	// os functions that would affect the whole process are never available.
	if os, ok := L.G.Global.RawGetString("os").(*lua.LTable); ok {
		for _, k := range []string{"exit", "execute", "remove", "rename", "tmpname", "setenv", "setlocale"} {
			os.RawSetString(k, lua.LNil)
		}
	}
}

// disabled raises OpenResty's message for an API used in the wrong phase.
func (p *pdk) ngxCheck(L *lua.LState, allowed Phase) {
	ph := p.curPhase()
	if ph&allowed == 0 {
		raise(L, "API disabled in the context of %s", ngxContextName(ph))
	}
}

func ngxContextName(ph Phase) string {
	switch ph {
	case PhaseHeaderFilter:
		return "header_filter_by_lua*"
	case PhaseBodyFilter:
		return "body_filter_by_lua*"
	case PhaseLog:
		return "log_by_lua*"
	case PhaseInitWorker:
		return "init_worker_by_lua*"
	case PhaseBalancer:
		return "balancer_by_lua*"
	case PhaseCertificate:
		return "ssl_certificate_by_lua*"
	case PhaseClientHello:
		return "ssl_client_hello_by_lua*"
	}
	return ngxPhaseName(ph) + "_by_lua*"
}

// ---- output: ngx.say, ngx.print, ngx.exit

func (p *pdk) appendOut(L *lua.LState, fn string, b []byte, v lua.LValue, depth int) []byte {
	switch x := v.(type) {
	case lua.LString:
		return append(b, x...)
	case lua.LNumber:
		return append(b, formatNumber(float64(x))...)
	case *lua.LNilType:
		return append(b, "nil"...)
	case lua.LBool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case *lua.LTable:
		if depth > 100 {
			raise(L, "bad argument #1 to '%s' (table too deep)", fn)
		}
		for i := 1; i <= seqLen(x); i++ {
			b = p.appendOut(L, fn, b, x.RawGetInt(i), depth+1)
		}
		return b
	}
	if v == p.null {
		return append(b, "null"...)
	}
	raise(L, "bad argument #1 to '%s' (string, number, boolean, nil, ngx.null, or array table expected, got %s)", fn, v.Type())
	return b
}

func (p *pdk) output(L *lua.LState, fn string, newline bool) int {
	p.ngxCheck(L, phasesNgxOutput)
	ex := p.exchange(L)
	for i := 1; i <= L.GetTop(); i++ {
		p.out = p.appendOut(L, fn, p.out, L.Get(i), 0)
	}
	if newline {
		p.out = append(p.out, '\n')
	}
	// The output is the response: record it now (the Lua code may go on).
	// p.out is append-only for the request, so the slice stays valid.
	ex.Exit(p.outStatus(ex), p.out[:len(p.out):len(p.out)], nil, SourceError)
	L.Push(lua.LNumber(1))
	return 1
}

func (p *pdk) outStatus(ex Exchange) int {
	if s := ex.ResponseStatus(); s >= 100 {
		return s
	}
	return 200
}

func (p *pdk) ngxSay(L *lua.LState) int   { return p.output(L, "say", true) }
func (p *pdk) ngxPrint(L *lua.LState) int { return p.output(L, "print", false) }

// Kong's error handler messages (kong/error_handlers.lua), used by ngx.exit.
func errorHandlerMessage(status int) (string, bool) {
	switch status {
	case 400:
		return "Bad request", true
	case 404:
		return "Not found", true
	case 405:
		return "Method not allowed", true
	case 408:
		return "Request timeout", true
	case 411:
		return "Length required", true
	case 412:
		return "Precondition failed", true
	case 413:
		return "Payload too large", true
	case 414:
		return "URI too long", true
	case 417:
		return "Expectation failed", true
	case 494:
		return "Request header or cookie too large", true
	case 500:
		return "An unexpected error occurred", true
	case 502:
		return "An invalid response was received from the upstream server", true
	case 503:
		return "The upstream server is currently unavailable", true
	case 504:
		return "The upstream server is timing out", true
	}
	return "", false
}

// nginxReason is nginx's status line text for its default error pages.
func nginxReason(status int) string {
	switch status {
	case 401:
		return "Authorization Required"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 406:
		return "Not Acceptable"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Requested Range Not Satisfiable"
	case 421:
		return "Misdirected Request"
	case 429:
		return "Too Many Requests"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	case 507:
		return "Insufficient Storage"
	}
	return ""
}

// errorPage renders what the client gets for ngx.exit(status >= 400) with
// nothing sent: Kong's error handler for the statuses it knows, nginx's
// default page otherwise.
func (p *pdk) errorPage(ex Exchange, status int) (int, []byte, [][2]string) {
	if msg, ok := errorHandlerMessage(status); ok {
		accept, _ := ex.RequestHeader("Accept") // Kong's handler reads the first one
		if accept == "" {
			if ct, ok := ex.RequestHeader("Content-Type"); ok {
				accept = ct
			} else {
				accept = "text/plain"
			}
		}
		ct := negotiate(accept)
		if status == 494 {
			status = 400
		}
		return status, []byte(errorBody(ct, msg, ex.RequestID())), [][2]string{{"Content-Type", ct}}
	}
	line := strconv.Itoa(status)
	if r := nginxReason(status); r != "" {
		line += " " + r
	}
	body := "<html>\r\n<head><title>" + line + "</title></head>\r\n<body>\r\n<center><h1>" + line +
		"</h1></center>\r\n<hr><center>luagate</center>\r\n</body>\r\n</html>\r\n"
	return status, []byte(body), [][2]string{{"Content-Type", "text/html"}}
}

func (p *pdk) ngxExit(L *lua.LState) int {
	p.ngxCheck(L, phasesNgxExit)
	v, ok := L.Get(1).(lua.LNumber)
	if !ok {
		raise(L, "bad argument #1 to 'exit' (number expected, got %s)", L.Get(1).Type())
	}
	status := int(v)
	ex := p.exchange(L)
	switch {
	case len(p.out) > 0:
		ex.Exit(p.outStatus(ex), p.out[:len(p.out):len(p.out)], nil, SourceError)
	case ex.HeadersSent():
	case status >= 400:
		st, body, hdrs := p.errorPage(ex, status)
		ex.Exit(st, body, hdrs, SourceError)
	case status >= 100:
		ex.Exit(status, nil, nil, SourceError)
	}
	p.raiseExit(L)
	return 0
}

// ---- ngx.log and ngx.sleep

func (p *pdk) ngxLog(L *lua.LState) int {
	lv, ok := L.Get(1).(lua.LNumber)
	if !ok {
		raise(L, "bad argument #1 to 'log' (number expected, got %s)", L.Get(1).Type())
	}
	if lv < 0 || lv > lua.LNumber(LevelDebug) {
		raise(L, "bad log level")
	}
	l := Level(lv)
	if !p.enabled(l) {
		return 0
	}
	msg := ""
	if L.GetTop() >= 2 {
		msg = p.concatArgs(L, 2)
	}
	p.log(L, l, msg)
	return 0
}

func (p *pdk) ngxSleep(L *lua.LState) int {
	p.ngxCheck(L, phasesNgxOutput|PhaseBalancer)
	s, ok := L.Get(1).(lua.LNumber)
	if !ok {
		raise(L, "bad argument #1 to 'sleep' (number expected, got %s)", L.Get(1).Type())
	}
	if s < 0 {
		raise(L, "bad argument #1 to 'sleep' (invalid sleep duration \"%s\")", formatNumber(float64(s)))
	}
	d := time.Duration(float64(s) * float64(time.Second))
	ctx := L.Context()
	if ctx == nil {
		if d > maxSleepNoContext {
			d = maxSleepNoContext
		}
		time.Sleep(d)
		return 0
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		raise(L, "%s", ctx.Err().Error())
	}
	return 0
}

// ---- ngx.req

func (p *pdk) openNgxReq() {
	r := p.sub(p.ngx, "req")
	p.set(r, "get_headers", func(L *lua.LState) int {
		p.ngxCheck(L, phasesREQ)
		max := defaultMaxHeaders
		if n, ok := L.Get(1).(lua.LNumber); ok {
			max = int(n)
			if max <= 0 {
				max = 1 << 30
			}
		}
		t, truncated := p.headerTable(p.exchange(L).VisitRequestHeaders, max)
		L.Push(t)
		if truncated {
			L.Push(lua.LString("truncated"))
			return 2
		}
		return 1
	})
	p.set(r, "set_header", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxReqWrite)
		name, ok := L.Get(1).(lua.LString)
		if !ok {
			raise(L, "bad argument #1 to 'set_header' (string expected, got %s)", L.Get(1).Type())
		}
		ex := p.exchange(L)
		switch v := L.Get(2).(type) {
		case *lua.LNilType:
			ex.ClearUpstreamHeader(string(name))
		case *lua.LTable:
			ex.ClearUpstreamHeader(string(name))
			for i := 1; i <= seqLen(v); i++ {
				ex.AddUpstreamHeader(string(name), p.tostring(v.RawGetInt(i)))
			}
		default:
			ex.SetUpstreamHeader(string(name), p.tostring(v))
		}
		return 0
	})
	p.set(r, "clear_header", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxReqWrite)
		name, ok := L.Get(1).(lua.LString)
		if !ok {
			raise(L, "bad argument #1 to 'clear_header' (string expected, got %s)", L.Get(1).Type())
		}
		p.exchange(L).ClearUpstreamHeader(string(name))
		return 0
	})
	p.set(r, "read_body", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxOutput)
		_, _ = p.exchange(L).RequestBody()
		return 0
	})
	p.set(r, "discard_body", func(L *lua.LState) int { return 0 })
	p.set(r, "get_body_data", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxOutput|PhaseLog)
		b, err := p.exchange(L).RequestBody()
		if err != nil || len(b) == 0 {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(b))
		}
		return 1
	})
	p.set(r, "get_body_file", func(L *lua.LState) int { L.Push(lua.LNil); return 1 })
	p.set(r, "set_body_data", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxReqWrite)
		s, ok := L.Get(1).(lua.LString)
		if !ok {
			raise(L, "bad argument #1 to 'set_body_data' (string expected, got %s)", L.Get(1).Type())
		}
		p.exchange(L).SetUpstreamBody([]byte(s))
		return 0
	})
	p.set(r, "get_uri_args", func(L *lua.LState) int {
		p.ngxCheck(L, phasesREQ)
		max := defaultMaxArgs
		if n, ok := L.Get(1).(lua.LNumber); ok {
			max = int(n)
			if max <= 0 {
				max = 1 << 30
			}
		}
		ex := p.exchange(L)
		q := ex.RawQuery()
		if _, uq, ok := strings.Cut(ex.UpstreamURI(), "?"); ok {
			q = uq
		}
		t, truncated := p.argsTable(q, max)
		L.Push(t)
		if truncated {
			L.Push(lua.LString("truncated"))
			return 2
		}
		return 1
	})
	p.set(r, "set_uri_args", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxReqWrite)
		ex := p.exchange(L)
		switch v := L.Get(1).(type) {
		case lua.LString:
			ex.SetUpstreamRawQuery(string(v))
		case *lua.LTable:
			ex.SetUpstreamRawQuery(p.encodeArgs(L, v))
		default:
			raise(L, "bad argument #1 to 'set_uri_args' (string or table expected, got %s)", L.Get(1).Type())
		}
		return 0
	})
	p.set(r, "get_post_args", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxOutput)
		max := defaultMaxArgs
		if n, ok := L.Get(1).(lua.LNumber); ok {
			max = int(n)
			if max <= 0 {
				max = 1 << 30
			}
		}
		b, err := p.exchange(L).RequestBody()
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		t, truncated := p.argsTable(string(b), max)
		L.Push(t)
		if truncated {
			L.Push(lua.LString("truncated"))
			return 2
		}
		return 1
	})
	p.set(r, "get_method", func(L *lua.LState) int {
		p.ngxCheck(L, phasesREQ)
		L.Push(lua.LString(p.exchange(L).Method()))
		return 1
	})
	p.set(r, "set_method", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxReqWrite)
		n, ok := L.Get(1).(lua.LNumber)
		if !ok {
			raise(L, "bad argument #1 to 'set_method' (number expected, got %s)", L.Get(1).Type())
		}
		for _, m := range ngxMethods {
			if m.num == int(n) {
				p.exchange(L).SetUpstreamMethod(m.name)
				return 0
			}
		}
		raise(L, "unsupported HTTP method: %d", int(n))
		return 0
	})
	p.set(r, "set_uri", func(L *lua.LState) int {
		p.ngxCheck(L, phasesNgxReqWrite)
		s, ok := L.Get(1).(lua.LString)
		if !ok || s == "" {
			raise(L, "bad argument #1 to 'set_uri' (non-empty string expected)")
		}
		p.exchange(L).SetUpstreamPath(escapePath(string(s)))
		return 0
	})
	p.set(r, "start_time", func(L *lua.LState) int {
		p.ngxCheck(L, phasesREQ)
		L.Push(lua.LNumber(float64(p.exchange(L).StartTime().UnixMilli()) / 1000))
		return 1
	})
	p.set(r, "http_version", func(L *lua.LState) int {
		p.ngxCheck(L, phasesREQ)
		if v := p.exchange(L).HTTPVersion(); v != 0 {
			L.Push(lua.LNumber(v))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	})
	p.set(r, "is_internal", func(L *lua.LState) int { L.Push(lua.LFalse); return 1 })
	p.set(r, "raw_header", func(L *lua.LState) int {
		p.ngxCheck(L, phasesREQ)
		ex := p.exchange(L)
		var b strings.Builder
		if !lua.LVAsBool(L.Get(1)) {
			b.WriteString(ex.Method() + " " + requestURI(ex) + " HTTP/" + strconv.FormatFloat(ex.HTTPVersion(), 'f', 1, 64) + "\r\n")
		}
		ex.VisitRequestHeaders(func(n, v string) { b.WriteString(n + ": " + v + "\r\n") })
		b.WriteString("\r\n")
		L.Push(lua.LString(b.String()))
		return 1
	})
}

// ---- ngx.var

func (p *pdk) openNgxVar() {
	L := p.L
	v := p.sub(p.ngx, "var")
	mt := L.CreateTable(0, 4)
	mt.RawSetString("__index", L.NewFunction(p.ngxVarGet))
	mt.RawSetString("__newindex", L.NewFunction(p.ngxVarSet))
	L.SetMetatable(v, mt)
}

func cookieValue(header, name string) (string, bool) {
	for _, part := range strings.Split(header, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			return v, true
		}
	}
	return "", false
}

func (p *pdk) ngxVarGet(L *lua.LState) int {
	p.ngxCheck(L, phasesNotIW)
	name, ok := L.Get(2).(lua.LString)
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	ex := p.exchange(L)
	s, found := p.ngxVar(ex, string(name))
	if found {
		L.Push(lua.LString(s))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

func (p *pdk) ngxVar(ex Exchange, name string) (string, bool) {
	switch name {
	case "request_uri":
		return requestURI(ex), true
	case "uri", "document_uri":
		return ex.Path(), true
	case "args", "query_string":
		q := ex.RawQuery()
		return q, q != ""
	case "is_args":
		if ex.HasQuery() {
			return "?", true
		}
		return "", true
	case "host":
		return ex.Host(), true
	case "hostname":
		return p.opts.Hostname, true
	case "remote_addr":
		return ex.ForwardedIP(), true
	case "remote_port":
		return strconv.Itoa(ex.ForwardedPort()), true
	case "realip_remote_addr":
		return ex.ClientIP(), true
	case "realip_remote_port":
		return strconv.Itoa(ex.ClientPort()), true
	case "binary_remote_addr":
		return ex.ForwardedIP(), true
	case "server_port":
		return strconv.Itoa(ex.ListenerPort()), true
	case "server_addr":
		return "127.0.0.1", true
	case "server_name":
		return ex.Host(), true
	case "scheme":
		return ex.Scheme(), true
	case "https":
		if ex.Scheme() == "https" {
			return "on", true
		}
		return "", true
	case "request_method":
		return ex.Method(), true
	case "server_protocol":
		v := ex.HTTPVersion()
		if v == 2 {
			return "HTTP/2.0", true
		}
		return "HTTP/" + strconv.FormatFloat(v, 'f', 1, 64), true
	case "request_id", "kong_request_id":
		return ex.RequestID(), true
	case "content_type":
		return ex.RequestHeader("Content-Type")
	case "content_length":
		return ex.RequestHeader("Content-Length")
	case "cookie":
		return ex.RequestHeader("Cookie")
	case "upstream_uri":
		return ex.UpstreamURI(), true
	case "upstream_host":
		if h, ok := ex.UpstreamHeader("Host"); ok {
			return h, true
		}
		return ex.Host(), true
	case "upstream_scheme":
		return ex.Scheme(), true
	case "upstream_status":
		if s := ex.ServiceStatus(); s != 0 {
			return strconv.Itoa(s), true
		}
		return "", false
	case "status":
		return strconv.Itoa(ex.ResponseStatus()), true
	case "request_time":
		_, _, req := ex.Latencies()
		if req == 0 {
			req = time.Since(ex.StartTime()).Milliseconds()
		}
		return strconv.FormatFloat(float64(req)/1000, 'f', 3, 64), true
	case "upstream_response_time":
		_, proxy, _ := ex.Latencies()
		return strconv.FormatFloat(float64(proxy)/1000, 'f', 3, 64), true
	case "msec":
		return strconv.FormatFloat(float64(time.Now().UnixMilli())/1000, 'f', 3, 64), true
	case "time_iso8601":
		return time.Now().Format("2006-01-02T15:04:05-07:00"), true
	case "time_local":
		return time.Now().Format("02/Jan/2006:15:04:05 -0700"), true
	case "ssl_server_name":
		return ex.TLSServerName(), ex.TLSServerName() != ""
	case "bytes_sent", "body_bytes_sent":
		return strconv.Itoa(len(ex.ResponseBody())), true
	case "request_length":
		b, _ := ex.RequestBody()
		return strconv.Itoa(len(b)), true
	case "upstream_x_forwarded_prefix":
		return "", false
	}
	switch {
	case strings.HasPrefix(name, "http_"):
		return ex.RequestHeader(name[5:])
	case strings.HasPrefix(name, "sent_http_"):
		return ex.ResponseHeader(name[10:])
	case strings.HasPrefix(name, "upstream_http_"):
		return ex.ServiceHeader(name[14:])
	case strings.HasPrefix(name, "cookie_"):
		for _, c := range ex.RequestHeaderValues("Cookie") {
			if v, ok := cookieValue(c, name[7:]); ok {
				return v, true
			}
		}
		return "", false
	case strings.HasPrefix(name, "arg_"):
		var val string
		found := false
		want := strings.ToLower(name[4:])
		for _, seg := range strings.Split(ex.RawQuery(), "&") {
			k, v, _ := strings.Cut(seg, "=")
			if strings.ToLower(k) == want {
				val, found = v, true
				break
			}
		}
		return val, found
	}
	return "", false
}

func (p *pdk) ngxVarSet(L *lua.LState) int {
	name, _ := L.Get(2).(lua.LString)
	val := L.Get(3)
	ex := p.exchange(L)
	str := func() string {
		if val == lua.LNil {
			return ""
		}
		return p.tostring(val)
	}
	switch name {
	case "upstream_uri":
		p.ngxCheck(L, phasesNgxReqWrite)
		path, q, hasQ := strings.Cut(str(), "?")
		ex.SetUpstreamPath(path)
		if hasQ {
			ex.SetUpstreamRawQuery(q)
		} else {
			ex.SetUpstreamRawQuery("")
		}
	case "upstream_host":
		p.ngxCheck(L, phasesNgxReqWrite)
		ex.SetUpstreamHeader("Host", str())
	case "upstream_scheme":
		p.ngxCheck(L, phasesNgxReqWrite)
		ex.SetUpstreamScheme(str())
	case "args", "query_string":
		p.ngxCheck(L, phasesNgxReqWrite)
		ex.SetUpstreamRawQuery(str())
	default:
		raise(L, "variable \"%s\" not found for writing; maybe it is a built-in variable that is not changeable or you forgot to use \"set $%s '';\" in the config file to define it first", string(name), string(name))
	}
	return 0
}

// ---- ngx.header and ngx.arg

func (p *pdk) openNgxHeader() {
	L := p.L
	h := p.sub(p.ngx, "header")
	mt := L.CreateTable(0, 4)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		name, ok := L.Get(2).(lua.LString)
		if !ok || p.ex == nil {
			L.Push(lua.LNil)
			return 1
		}
		n := strings.ReplaceAll(string(name), "_", "-")
		vals := p.ex.ResponseHeaderValues(n)
		switch len(vals) {
		case 0:
			L.Push(lua.LNil)
		case 1:
			L.Push(lua.LString(vals[0]))
		default:
			t := L.CreateTable(len(vals), 0)
			for _, v := range vals {
				t.Append(lua.LString(v))
			}
			L.Push(t)
		}
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		p.ngxCheck(L, phasesRespSet)
		name, ok := L.Get(2).(lua.LString)
		if !ok {
			raise(L, "bad argument #2 to '__newindex' (string expected, got %s)", L.Get(2).Type())
		}
		ex := p.exchange(L)
		if ex.HeadersSent() {
			raise(L, "attempt to set ngx.header.HEADER after sending out response headers")
		}
		n := strings.ReplaceAll(string(name), "_", "-")
		switch v := L.Get(3).(type) {
		case *lua.LNilType:
			ex.ClearResponseHeader(n)
		case *lua.LTable:
			ex.ClearResponseHeader(n)
			for i := 1; i <= seqLen(v); i++ {
				ex.AddResponseHeader(n, p.tostring(v.RawGetInt(i)))
			}
		default:
			ex.SetResponseHeader(n, p.tostring(v))
		}
		return 0
	}))
	L.SetMetatable(h, mt)
}

// ngx.arg in body_filter: [1] is the whole body (DECISIONS row 9), [2] is true.
func (p *pdk) openNgxArg() {
	L := p.L
	a := p.sub(p.ngx, "arg")
	mt := L.CreateTable(0, 4)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if p.curPhase() != PhaseBodyFilter || p.ex == nil {
			L.Push(lua.LNil)
			return 1
		}
		switch L.Get(2) {
		case lua.LNumber(1):
			L.Push(lua.LString(p.ex.ResponseBody()))
		case lua.LNumber(2):
			L.Push(lua.LTrue)
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		p.ngxCheck(L, PhaseBodyFilter)
		if L.Get(2) == lua.LNumber(1) {
			switch v := L.Get(3).(type) {
			case lua.LString:
				p.exchange(L).SetResponseBody([]byte(v))
			case *lua.LNilType:
				p.exchange(L).SetResponseBody(nil)
			default:
				p.exchange(L).SetResponseBody(p.appendOut(L, "ngx.arg", nil, v, 0))
			}
		}
		return 0
	}))
	L.SetMetatable(a, mt)
}
