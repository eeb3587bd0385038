package lualib

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// kong.request: the client request, read-only (spec §2.1).

const (
	defaultMaxArgs    = 100 // lua_max_uri_args, lua_max_post_args
	defaultMaxHeaders = 100 // lua_max_req_headers, lua_max_resp_headers

	mimeForm      = "application/x-www-form-urlencoded"
	mimeJSON      = "application/json"
	mimeMultipart = "multipart/form-data"
)

func (p *pdk) openRequest() {
	t := p.sub(p.kong, "request")
	p.set(t, "get_scheme", p.reqGetScheme)
	p.set(t, "get_host", p.reqGetHost)
	p.set(t, "get_port", p.reqGetPort)
	p.set(t, "get_forwarded_scheme", p.reqGetForwardedScheme)
	p.set(t, "get_forwarded_host", p.reqGetForwardedHost)
	p.set(t, "get_forwarded_port", p.reqGetForwardedPort)
	p.set(t, "get_forwarded_path", p.reqGetForwardedPath)
	p.set(t, "get_forwarded_prefix", p.reqGetForwardedPrefix)
	p.set(t, "get_http_version", p.reqGetHTTPVersion)
	p.set(t, "get_method", p.reqGetMethod)
	p.set(t, "get_path", p.reqGetPath)
	p.set(t, "get_raw_path", p.reqGetRawPath)
	p.set(t, "get_path_with_query", p.reqGetPathWithQuery)
	p.set(t, "get_raw_query", p.reqGetRawQuery)
	p.set(t, "get_query_arg", p.reqGetQueryArg)
	p.set(t, "get_query", p.reqGetQuery)
	p.set(t, "get_header", p.reqGetHeader)
	p.set(t, "get_headers", p.reqGetHeaders)
	p.set(t, "get_raw_body", p.reqGetRawBody)
	p.set(t, "get_body", p.reqGetBody)
	p.set(t, "get_start_time", p.reqGetStartTime)
	p.set(t, "get_uri_captures", p.reqGetURICaptures)
}

func (p *pdk) reqGetScheme(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LString(p.exchange(L).Scheme()))
	return 1
}

func (p *pdk) reqGetHost(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LString(p.exchange(L).Host()))
	return 1
}

func (p *pdk) reqGetPort(L *lua.LState) int {
	p.check(L, phasesNotIW)
	L.Push(lua.LNumber(p.exchange(L).ListenerPort()))
	return 1
}

func (p *pdk) trustedClient(ex Exchange) bool {
	return ex.IsTrusted(ex.ClientIP())
}

func (p *pdk) reqGetForwardedScheme(L *lua.LState) int {
	p.check(L, phasesREQ)
	ex := p.exchange(L)
	if p.trustedClient(ex) {
		if v, ok := ex.RequestHeader("X-Forwarded-Proto"); ok {
			L.Push(lua.LString(strings.ToLower(v)))
			return 1
		}
	}
	L.Push(lua.LString(ex.Scheme()))
	return 1
}

func (p *pdk) reqGetForwardedHost(L *lua.LState) int {
	p.check(L, phasesREQ)
	ex := p.exchange(L)
	if p.trustedClient(ex) {
		if h, ok := ex.RequestHeader("X-Forwarded-Host"); ok {
			if i := strings.IndexByte(h, '@'); i >= 0 {
				h = h[i+1:]
			}
			if i := strings.IndexByte(h, ':'); i >= 0 {
				h = h[:i]
			}
			L.Push(lua.LString(strings.ToLower(h)))
			return 1
		}
	}
	L.Push(lua.LString(ex.Host()))
	return 1
}

func (p *pdk) reqGetForwardedPort(L *lua.LState) int {
	p.check(L, phasesREQ)
	ex := p.exchange(L)
	if p.trustedClient(ex) {
		if v, ok := ex.RequestHeader("X-Forwarded-Port"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 1 && n <= 65535 {
				L.Push(lua.LNumber(n))
				return 1
			}
		}
		if h, ok := ex.RequestHeader("X-Forwarded-Host"); ok {
			if i := strings.LastIndexByte(h, ':'); i >= 0 {
				if n, err := strconv.Atoi(h[i+1:]); err == nil && n >= 1 && n <= 65535 {
					L.Push(lua.LNumber(n))
					return 1
				}
			}
		}
	}
	L.Push(lua.LNumber(ex.ListenerPort()))
	return 1
}

func (p *pdk) reqGetForwardedPath(L *lua.LState) int {
	p.check(L, phasesREQ)
	ex := p.exchange(L)
	if p.trustedClient(ex) {
		if v, ok := ex.RequestHeader("X-Forwarded-Path"); ok {
			L.Push(lua.LString(v))
			return 1
		}
	}
	L.Push(lua.LString(ex.Path()))
	return 1
}

func (p *pdk) reqGetForwardedPrefix(L *lua.LState) int {
	p.check(L, phasesREQ)
	ex := p.exchange(L)
	if p.trustedClient(ex) {
		if v, ok := ex.RequestHeader("X-Forwarded-Prefix"); ok {
			L.Push(lua.LString(v))
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

func (p *pdk) reqGetHTTPVersion(L *lua.LState) int {
	p.check(L, phasesREQ)
	v := p.exchange(L).HTTPVersion()
	if v == 0 {
		L.Push(lua.LNil)
	} else {
		L.Push(lua.LNumber(v))
	}
	return 1
}

func (p *pdk) reqGetMethod(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LString(p.exchange(L).Method()))
	return 1
}

func (p *pdk) reqGetPath(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LString(p.exchange(L).Path()))
	return 1
}

func (p *pdk) reqGetRawPath(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LString(p.exchange(L).RawPath()))
	return 1
}

func requestURI(ex Exchange) string {
	if ex.HasQuery() {
		return ex.RawPath() + "?" + ex.RawQuery()
	}
	return ex.RawPath()
}

func (p *pdk) reqGetPathWithQuery(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LString(requestURI(p.exchange(L))))
	return 1
}

func (p *pdk) reqGetRawQuery(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LString(p.exchange(L).RawQuery()))
	return 1
}

func (p *pdk) reqGetQueryArg(L *lua.LState) int {
	p.check(L, phasesREQ)
	name, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "query argument name must be a string")
	}
	v := queryArg(p.exchange(L).RawQuery(), string(name), defaultMaxArgs)
	L.Push(v)
	return 1
}

func (p *pdk) reqGetQuery(L *lua.LState) int {
	p.check(L, phasesREQ)
	max := checkMax(L, 1, "max_args", defaultMaxArgs)
	t, truncated := p.argsTable(p.exchange(L).RawQuery(), max)
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

func (p *pdk) reqGetHeader(L *lua.LState) int {
	p.check(L, phasesREQ)
	name, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "header name must be a string")
	}
	if v, ok := p.exchange(L).RequestHeader(string(name)); ok {
		L.Push(lua.LString(v))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

func (p *pdk) reqGetHeaders(L *lua.LState) int {
	p.check(L, phasesREQ)
	max := checkMax(L, 1, "max_headers", defaultMaxHeaders)
	t, truncated := p.headerTable(p.exchange(L).VisitRequestHeaders, max)
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

// rawBody implements get_raw_body's max_file_size argument on top of the
// Exchange's (already bounded) body.
func (p *pdk) rawBody(L *lua.LState, argN int) ([]byte, string) {
	maxSize := -1
	if v := L.Get(argN); v != lua.LNil {
		n, ok := v.(lua.LNumber)
		if !ok {
			raise(L, "max_file_size must be a number")
		}
		maxSize = int(n)
	}
	body, err := p.exchange(L).RequestBody()
	if err != nil {
		return nil, err.Error()
	}
	if maxSize > 0 && len(body) > maxSize {
		return nil, "request body file too big: " + strconv.Itoa(len(body)) + " > " + strconv.Itoa(maxSize)
	}
	return body, ""
}

func (p *pdk) reqGetRawBody(L *lua.LState) int {
	p.check(L, phasesBeforeContent)
	body, err := p.rawBody(L, 1)
	if err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(err))
		return 2
	}
	L.Push(lua.LString(body))
	return 1
}

func (p *pdk) reqGetBody(L *lua.LState) int {
	p.check(L, phasesBeforeContent)
	ex := p.exchange(L)
	var ct string
	switch v := L.Get(1).(type) {
	case lua.LString:
		ct = string(v)
	case *lua.LNilType:
		h, ok := ex.RequestHeader("Content-Type")
		if !ok {
			L.Push(lua.LNil)
			L.Push(lua.LString("missing content type"))
			return 2
		}
		ct = h
	default:
		raise(L, "mimetype must be a string")
	}
	return p.decodeBody(L, ct, 2, func() ([]byte, string) { return p.rawBody(L, 3) })
}

// decodeBody implements the content-type switch shared by
// kong.request.get_body and kong.service.response.get_body. maxArgN is the
// stack index of max_args.
func (p *pdk) decodeBody(L *lua.LState, ct string, maxArgN int, body func() ([]byte, string)) int {
	lower := strings.ToLower(ct)
	if i := strings.IndexByte(lower, ';'); i >= 0 {
		lower = lower[:i]
	}
	ret := func(v lua.LValue, err string, mime string) int {
		L.Push(v)
		if err == "" {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(err))
		}
		L.Push(lua.LString(mime))
		return 3
	}
	switch {
	case strings.HasPrefix(lower, mimeForm):
		max := checkMax(L, maxArgN, "max_args", defaultMaxArgs)
		b, err := body()
		if err != "" {
			return ret(lua.LNil, err, mimeForm)
		}
		t, _ := p.argsTable(string(b), max)
		return ret(t, "", mimeForm)
	case strings.HasPrefix(lower, mimeJSON):
		b, err := body()
		if err != "" {
			return ret(lua.LNil, err, mimeJSON)
		}
		v, jerr := p.decodeJSON(b)
		if _, ok := v.(*lua.LTable); !ok || jerr != nil {
			return ret(lua.LNil, "invalid json body", mimeJSON)
		}
		return ret(v, "", mimeJSON)
	case strings.HasPrefix(lower, mimeMultipart):
		b, err := body()
		if err != "" {
			return ret(lua.LNil, err, mimeMultipart)
		}
		t, merr := p.multipartTable(b, ct)
		if merr != "" {
			return ret(lua.LNil, merr, mimeMultipart)
		}
		return ret(t, "", mimeMultipart)
	}
	return ret(lua.LNil, "unsupported content type '"+ct+"'", lower)
}

func (p *pdk) multipartTable(body []byte, ct string) (*lua.LTable, string) {
	_, params, err := mime.ParseMediaType(ct)
	boundary := params["boundary"]
	if err != nil || boundary == "" {
		return nil, "unable to decode multipart body"
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	t := p.L.CreateTable(0, 4)
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "unable to decode multipart body"
		}
		name := part.FormName()
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, "unable to read multipart values"
		}
		if name == "" {
			continue
		}
		p.addArg(t, name, lua.LString(data))
	}
	return t, ""
}

func (p *pdk) reqGetStartTime(L *lua.LState) int {
	p.check(L, phasesREQ)
	L.Push(lua.LNumber(p.exchange(L).StartTime().UnixMilli()))
	return 1
}

// reqGetURICaptures returns {unnamed = {[0]=whole, g1, ...}, named = {...}};
// the unnamed list carries the array metatable so it encodes as an array.
func (p *pdk) reqGetURICaptures(L *lua.LState) int {
	p.check(L, phasesREQ)
	unnamed, named := p.exchange(L).URICaptures()
	u := L.CreateTable(len(unnamed), 0)
	for i, v := range unnamed {
		u.RawSetInt(i, lua.LString(v))
	}
	L.SetMetatable(u, p.arrayMT)
	n := L.CreateTable(0, len(named))
	for k, v := range named {
		n.RawSetString(k, lua.LString(v))
	}
	t := L.CreateTable(0, 2)
	t.RawSetString("unnamed", u)
	t.RawSetString("named", n)
	L.Push(t)
	return 1
}

// ---- query and form arguments (ngx.decode_args semantics)

// unescapeArg decodes %XX and "+" (a malformed escape is kept as is).
func unescapeArg(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func ishex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// visitArgs calls fn for each argument of an "a=1&b&c=" string, at most max
// of them; it reports whether there were more.
func visitArgs(raw string, max int, fn func(key string, value lua.LValue)) bool {
	n := 0
	for raw != "" {
		var seg string
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			seg, raw = raw[:i], raw[i+1:]
		} else {
			seg, raw = raw, ""
		}
		if seg == "" {
			continue
		}
		var key string
		var val lua.LValue
		if i := strings.IndexByte(seg, '='); i >= 0 {
			key, val = unescapeArg(seg[:i]), lua.LString(unescapeArg(seg[i+1:]))
		} else {
			key, val = unescapeArg(seg), lua.LTrue
		}
		if key == "" {
			continue
		}
		if n >= max {
			return true
		}
		n++
		fn(key, val)
	}
	return false
}

// addArg stores a value, turning repeated keys into arrays.
func (p *pdk) addArg(t *lua.LTable, key string, val lua.LValue) {
	switch old := t.RawGetString(key).(type) {
	case *lua.LNilType:
		t.RawSetString(key, val)
	case *lua.LTable:
		old.Append(val)
	default:
		arr := p.L.CreateTable(2, 0)
		arr.Append(old)
		arr.Append(val)
		t.RawSetString(key, arr)
	}
}

func (p *pdk) argsTable(raw string, max int) (*lua.LTable, bool) {
	t := p.L.CreateTable(0, 4)
	truncated := visitArgs(raw, max, func(k string, v lua.LValue) { p.addArg(t, k, v) })
	return t, truncated
}

// queryArg returns the first value of one argument without building a table.
func queryArg(raw, name string, max int) lua.LValue {
	var found lua.LValue = lua.LNil
	visitArgs(raw, max, func(k string, v lua.LValue) {
		if found == lua.LNil && k == name {
			found = v
		}
	})
	return found
}
