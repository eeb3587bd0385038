package lualib

import (
	"crypto/rand"
	"encoding/hex"
	"mime"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// kong.service, kong.service.request and kong.service.response (spec §2.3, §2.4, §2.7).

func (p *pdk) openService() {
	s := p.sub(p.kong, "service")
	p.set(s, "set_upstream", p.svcSetUpstream)
	p.set(s, "set_target", p.svcSetTarget)
	p.set(s, "set_timeouts", p.svcSetTimeouts)
	p.set(s, "set_retries", p.svcSetRetries)

	r := p.sub(s, "request")
	p.set(r, "enable_buffering", p.sreqEnableBuffering)
	p.set(r, "set_scheme", p.sreqSetScheme)
	p.set(r, "set_path", p.sreqSetPath)
	p.set(r, "set_raw_query", p.sreqSetRawQuery)
	p.set(r, "set_method", p.sreqSetMethod)
	p.set(r, "set_query", p.sreqSetQuery)
	p.set(r, "clear_query_arg", p.sreqClearQueryArg)
	p.set(r, "set_header", p.sreqSetHeader)
	p.set(r, "add_header", p.sreqAddHeader)
	p.set(r, "clear_header", p.sreqClearHeader)
	p.set(r, "set_headers", p.sreqSetHeaders)
	p.set(r, "set_raw_body", p.sreqSetRawBody)
	p.set(r, "set_body", p.sreqSetBody)

	rs := p.sub(s, "response")
	p.set(rs, "get_status", p.sresGetStatus)
	p.set(rs, "get_headers", p.sresGetHeaders)
	p.set(rs, "get_header", p.sresGetHeader)
	p.set(rs, "get_raw_body", p.sresGetRawBody)
	p.set(rs, "get_body", p.sresGetBody)
}

// ---- kong.service

func (p *pdk) svcSetUpstream(L *lua.LState) int {
	p.check(L, PhaseAccess)
	host, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "host must be a string")
	}
	if err := p.exchange(L).SetUpstream(string(host)); err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LTrue)
	return 1
}

func (p *pdk) svcSetTarget(L *lua.LState) int {
	p.check(L, PhaseAccess)
	host, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "host must be a string")
	}
	port, ok := L.Get(2).(lua.LNumber)
	if !ok || !isInt(port) {
		raise(L, "port must be an integer")
	}
	if port < 0 || port > 65535 {
		raise(L, "port must be an integer between 0 and 65535: given %s", formatNumber(float64(port)))
	}
	p.exchange(L).SetTarget(string(host), int(port))
	return 0
}

func (p *pdk) svcSetTimeouts(L *lua.LState) int {
	p.check(L, PhaseAccess)
	var ms [3]time.Duration
	for i, name := range [3]string{"connect_timeout", "write_timeout", "read_timeout"} {
		v, ok := L.Get(i + 1).(lua.LNumber)
		if !ok {
			raise(L, "%s must be a number", name)
		}
		if v < 1 || v > 2147483646 {
			raise(L, "%s must be an integer between 1 and 2147483646: given %s", name, formatNumber(float64(v)))
		}
		ms[i] = time.Duration(float64(v) * float64(time.Millisecond))
	}
	p.exchange(L).SetTimeouts(ms[0], ms[1], ms[2])
	return 0
}

func (p *pdk) svcSetRetries(L *lua.LState) int {
	p.check(L, PhaseAccess)
	n, ok := L.Get(1).(lua.LNumber)
	if !ok || !isInt(n) {
		raise(L, "retries must be an integer")
	}
	if n < 0 || n > 32767 {
		raise(L, "retries must be an integer between 0 and 32767: given %s", formatNumber(float64(n)))
	}
	p.exchange(L).SetRetries(int(n))
	return 0
}

// ---- kong.service.request

func (p *pdk) sreqEnableBuffering(L *lua.LState) int {
	p.check(L, phasesSvcRWBL)
	p.exchange(L).EnableBuffering()
	return 0
}

func (p *pdk) sreqSetScheme(L *lua.LState) int {
	p.check(L, phasesSvcRWBL)
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "scheme must be a string")
	}
	if s != "http" && s != "https" {
		raise(L, "invalid scheme: %s", string(s))
	}
	p.exchange(L).SetUpstreamScheme(string(s))
	return 0
}

// escapePath is Kong's kong.tools.uri escape for set_path: every byte
// outside the reserved and unreserved sets (and "%") is percent-encoded.
func escapePath(s string) string {
	keep := func(c byte) bool {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			return true
		}
		return strings.IndexByte("!#$&'()*+,/:;=?@[]-_.~%", c) >= 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		}
	}
	return string(b)
}

func (p *pdk) sreqSetPath(L *lua.LState) int {
	p.check(L, phasesSvcRWBL)
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "path must be a string")
	}
	if !strings.HasPrefix(string(s), "/") {
		raise(L, "path must start with /")
	}
	p.exchange(L).SetUpstreamPath(escapePath(string(s)))
	return 0
}

func (p *pdk) sreqSetRawQuery(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "query must be a string")
	}
	p.exchange(L).SetUpstreamRawQuery(string(s))
	return 0
}

var validMethods = map[string]bool{
	"GET": true, "HEAD": true, "PUT": true, "POST": true, "DELETE": true, "OPTIONS": true,
	"MKCOL": true, "COPY": true, "MOVE": true, "PROPFIND": true, "PROPPATCH": true,
	"LOCK": true, "UNLOCK": true, "PATCH": true, "TRACE": true,
}

func (p *pdk) sreqSetMethod(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	m, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "method must be a string")
	}
	if !validMethods[string(m)] {
		raise(L, "invalid method: %s", string(m))
	}
	p.exchange(L).SetUpstreamMethod(string(m))
	return 0
}

// escapeArg is ngx.escape_uri for argument components: everything but
// ALPHA / DIGIT / "-" / "." / "_" / "~" is percent-encoded.
func escapeArg(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	return b.String()
}

// encodeArgs is Kong's encode_args for set_query and form bodies: keys
// sorted, arrays keep their order, true is a bare key, false is dropped.
func (p *pdk) encodeArgs(L *lua.LState, t *lua.LTable) string {
	type kv struct {
		key string
		val lua.LValue
	}
	var items []kv
	t.ForEach(func(k, v lua.LValue) {
		ks, ok := k.(lua.LString)
		if !ok {
			raise(L, "arg keys must be strings")
		}
		items = append(items, kv{string(ks), v})
	})
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	var parts []string
	emit := func(key string, v lua.LValue) {
		switch x := v.(type) {
		case lua.LBool:
			if x {
				parts = append(parts, escapeArg(key))
			}
		case lua.LString:
			parts = append(parts, escapeArg(key)+"="+escapeArg(string(x)))
		case lua.LNumber:
			parts = append(parts, escapeArg(key)+"="+escapeArg(formatNumber(float64(x))))
		default:
			if v != p.null && v != lua.LNil {
				parts = append(parts, escapeArg(key)+"="+escapeArg(p.tostring(v)))
			}
		}
	}
	for _, it := range items {
		if arr, ok := it.val.(*lua.LTable); ok {
			for i := 1; i <= seqLen(arr); i++ {
				emit(it.key, arr.RawGetInt(i))
			}
			continue
		}
		emit(it.key, it.val)
	}
	return strings.Join(parts, "&")
}

func (p *pdk) sreqSetQuery(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		raise(L, "args must be a table")
	}
	p.exchange(L).SetUpstreamRawQuery(p.encodeArgs(L, t))
	return 0
}

func (p *pdk) sreqClearQueryArg(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	name, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "query argument name must be a string")
	}
	ex := p.exchange(L)
	uri := ex.UpstreamURI()
	_, q, _ := strings.Cut(uri, "?")
	var kept []string
	for _, seg := range strings.Split(q, "&") {
		if seg == "" {
			continue
		}
		k, _, _ := strings.Cut(seg, "=")
		if unescapeArg(k) == string(name) {
			continue
		}
		kept = append(kept, seg)
	}
	ex.SetUpstreamRawQuery(strings.Join(kept, "&"))
	return 0
}

func (p *pdk) sreqSetHeader(L *lua.LState) int {
	p.check(L, phasesSvcRWBL)
	name := L.Get(1)
	one, many := headerValues(L, name, L.Get(2), false)
	n := string(name.(lua.LString))
	if strings.EqualFold(n, ":authority") {
		L.Push(lua.LNil)
		L.Push(lua.LString("cannot set :authority pseudo-header on non-grpc requests"))
		return 2
	}
	ex := p.exchange(L)
	if many == nil {
		ex.SetUpstreamHeader(n, one)
		return 0
	}
	ex.ClearUpstreamHeader(n)
	for _, v := range many {
		ex.AddUpstreamHeader(n, v)
	}
	return 0
}

func (p *pdk) sreqAddHeader(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	name := L.Get(1)
	one, many := headerValues(L, name, L.Get(2), false)
	n := string(name.(lua.LString))
	ex := p.exchange(L)
	if many == nil {
		ex.AddUpstreamHeader(n, one)
	}
	for _, v := range many {
		ex.AddUpstreamHeader(n, v)
	}
	return 0
}

func (p *pdk) sreqClearHeader(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	name, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "header must be a string")
	}
	p.exchange(L).ClearUpstreamHeader(string(name))
	return 0
}

func (p *pdk) sreqSetHeaders(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		raise(L, "headers must be a table")
	}
	lines := p.headerList(L, t)
	ex := p.exchange(L)
	for _, h := range lines {
		ex.ClearUpstreamHeader(h[0])
	}
	for _, h := range lines {
		ex.AddUpstreamHeader(h[0], h[1])
	}
	return 0
}

func (p *pdk) sreqSetRawBody(L *lua.LState) int {
	p.check(L, phasesSvcRWBL)
	b, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "body must be a string")
	}
	ex := p.exchange(L)
	_, _ = ex.RequestBody() // Kong reads the client body first
	ex.SetUpstreamBody([]byte(b))
	return 0
}

func (p *pdk) sreqSetBody(L *lua.LState) int {
	p.check(L, phasesSvcRW)
	args, ok := L.Get(1).(*lua.LTable)
	if !ok {
		raise(L, "args must be a table")
	}
	ex := p.exchange(L)
	var ct string
	switch m := L.Get(2).(type) {
	case lua.LString:
		ct = string(m)
	case *lua.LNilType:
		h, ok := ex.UpstreamHeader("Content-Type")
		if !ok {
			L.Push(lua.LNil)
			L.Push(lua.LString("content type was neither explicitly given as an argument or received as a header"))
			return 2
		}
		ct = h
	default:
		raise(L, "mime must be a string")
	}
	lower := strings.ToLower(ct)
	if i := strings.IndexByte(lower, ';'); i >= 0 {
		lower = strings.TrimSpace(lower[:i])
	}
	var body []byte
	switch lower {
	case mimeForm:
		body = []byte(p.encodeArgs(L, args))
	case mimeJSON:
		enc, err := p.encodeJSON(args)
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		body = enc
	case mimeMultipart:
		_, params, _ := mime.ParseMediaType(ct)
		boundary := params["boundary"]
		if boundary == "" {
			var rb [16]byte
			_, _ = rand.Read(rb[:])
			boundary = hex.EncodeToString(rb[:])
			ct = mimeMultipart + "; boundary=" + boundary
		}
		enc, err := p.encodeMultipart(args, boundary)
		if err != "" {
			L.Push(lua.LNil)
			L.Push(lua.LString(err))
			return 2
		}
		body = enc
	default:
		L.Push(lua.LNil)
		L.Push(lua.LString("unsupported content type " + ct))
		return 2
	}
	ex.SetUpstreamHeader("Content-Type", ct)
	ex.SetUpstreamBody(body)
	L.Push(lua.LTrue)
	return 1
}

func (p *pdk) encodeMultipart(args *lua.LTable, boundary string) ([]byte, string) {
	var b []byte
	for _, k := range sortedKeys(args) {
		v := args.RawGet(k)
		var s string
		switch x := v.(type) {
		case lua.LString:
			s = string(x)
		case lua.LNumber, lua.LBool:
			s = p.tostring(x)
		default:
			return nil, "invalid value for multipart field " + strconv.Quote(k.String()) + ": got " + v.Type().String() + ", expected string, number or boolean"
		}
		b = append(b, "--"+boundary+"\r\nContent-Disposition: form-data; name=\""+k.String()+"\"\r\n\r\n"...)
		b = append(b, s...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "--"+boundary+"--\r\n"...)
	return b, ""
}

// ---- kong.service.response

func (p *pdk) sresGetStatus(L *lua.LState) int {
	p.check(L, phasesSvcResp)
	if s := p.exchange(L).ServiceStatus(); s != 0 {
		L.Push(lua.LNumber(s))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

func (p *pdk) sresGetHeaders(L *lua.LState) int {
	p.check(L, phasesSvcResp)
	max := checkMax(L, 1, "max_headers", defaultMaxHeaders)
	t, truncated := p.headerTable(p.exchange(L).VisitServiceHeaders, max)
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

func (p *pdk) sresGetHeader(L *lua.LState) int {
	p.check(L, phasesSvcResp)
	name, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "name must be a string")
	}
	if v, ok := p.exchange(L).ServiceHeader(string(name)); ok {
		L.Push(lua.LString(v))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

const errNotBuffered = "service body is only available with buffered proxying (see: kong.service.request.enable_buffering function)"

func (p *pdk) serviceBody(L *lua.LState) []byte {
	b, err := p.exchange(L).ServiceBody()
	if err != nil {
		raise(L, errNotBuffered)
	}
	return b
}

func (p *pdk) sresGetRawBody(L *lua.LState) int {
	p.check(L, phasesSvcResp)
	L.Push(lua.LString(p.serviceBody(L)))
	return 1
}

func (p *pdk) sresGetBody(L *lua.LState) int {
	p.check(L, phasesSvcResp)
	var ct string
	switch v := L.Get(1).(type) {
	case lua.LString:
		ct = string(v)
	case *lua.LNilType:
		h, ok := p.exchange(L).ServiceHeader("Content-Type")
		if !ok {
			L.Push(lua.LNil)
			L.Push(lua.LString("missing content type"))
			return 2
		}
		ct = h
	default:
		raise(L, "mimetype must be a string")
	}
	body := p.serviceBody(L)
	return p.decodeBody(L, ct, 2, func() ([]byte, string) { return body, "" })
}
