package lualib

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// kong.response: the response sent to the client (spec §2.2).

const (
	ctJSON  = "application/json; charset=utf-8"
	ctHTML  = "text/html; charset=utf-8"
	ctXML   = "application/xml; charset=utf-8"
	ctPlain = "text/plain; charset=utf-8"
)

// Kong's error templates (kong/tools/utils.lua ERROR_TEMPLATES).
const (
	tmplJSON  = "{\n  \"message\":\"%s\",\n  \"request_id\":\"%s\"\n}"
	tmplPlain = "%s\nrequest_id: %s\n"
	tmplHTML  = "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n"
	tmplXML   = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>%s</message>\n  <requestid>%s</requestid>\n</error>\n"
)

// httpErrorMessage is kong.response.error's default message for a status.
func httpErrorMessage(status int) string {
	switch status {
	case 400:
		return "Bad request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not found"
	case 405:
		return "Method not allowed"
	case 408:
		return "Request timeout"
	case 409:
		return "Conflict"
	case 413:
		return "Payload too large"
	case 429:
		return "Too many requests"
	case 500:
		return "An unexpected error occurred"
	case 502:
		return "An invalid response was received from the upstream server"
	case 503:
		return "The upstream server is currently unavailable"
	case 504:
		return "The upstream server is timing out"
	}
	return "The upstream server responded with " + strconv.Itoa(status)
}

// mimeFor maps one media type of an Accept header to Kong's MIME_TYPES.
func mimeFor(media string) string {
	media = strings.ToLower(strings.TrimSpace(media))
	if i := strings.IndexByte(media, ';'); i >= 0 {
		media = strings.TrimSpace(media[:i])
	}
	typ, sub, ok := strings.Cut(media, "/")
	if !ok {
		return ctJSON
	}
	if sub == "*" {
		switch typ {
		case "*", "application":
			return ctJSON
		case "text":
			return ctPlain
		}
		return ctJSON
	}
	switch media {
	case "text/html":
		return ctHTML
	case "application/xml":
		return ctXML
	case "text/plain":
		return ctPlain
	}
	return ctJSON
}

// negotiate is Kong's get_response_type: the media type with the highest q
// (the first one on ties); JSON when nothing matches.
func negotiate(accept string) string {
	ct := ctJSON
	best := 0.0
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		media, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(media) == "" {
			continue
		}
		q := 1.0
		for _, prm := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(prm), "=")
			if ok && strings.TrimSpace(strings.ToLower(k)) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		if q > best {
			best = q
			ct = mimeFor(media)
		}
	}
	return ct
}

// errorBody renders Kong's error template for a content type.
func errorBody(ct, message, requestID string) string {
	tmpl := tmplJSON
	switch base, _, _ := strings.Cut(strings.ToLower(ct), ";"); strings.TrimSpace(base) {
	case "text/html":
		tmpl = tmplHTML
	case "application/xml":
		tmpl = tmplXML
	case "text/plain":
		tmpl = tmplPlain
	}
	return fmt.Sprintf(tmpl, message, requestID)
}

func (p *pdk) openResponse() {
	t := p.sub(p.kong, "response")
	p.set(t, "get_status", p.respGetStatus)
	p.set(t, "get_header", p.respGetHeader)
	p.set(t, "get_headers", p.respGetHeaders)
	p.set(t, "get_source", p.respGetSource)
	p.set(t, "set_status", p.respSetStatus)
	p.set(t, "set_header", p.respSetHeader)
	p.set(t, "add_header", p.respAddHeader)
	p.set(t, "clear_header", p.respClearHeader)
	p.set(t, "set_headers", p.respSetHeaders)
	p.set(t, "get_raw_body", p.respGetRawBody)
	p.set(t, "set_raw_body", p.respSetRawBody)
	p.set(t, "exit", p.respExit)
	p.set(t, "error", p.respError)
	p.set(t, "get_max_headers", func(L *lua.LState) int { L.Push(lua.LNumber(defaultMaxHeaders)); return 1 })
}

func (p *pdk) respGetStatus(L *lua.LState) int {
	p.check(L, phasesRespGet)
	L.Push(lua.LNumber(p.exchange(L).ResponseStatus()))
	return 1
}

func (p *pdk) respGetHeader(L *lua.LState) int {
	p.check(L, phasesRespGet)
	name, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "header name must be a string")
	}
	if v, ok := p.exchange(L).ResponseHeader(string(name)); ok {
		L.Push(lua.LString(v))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

func (p *pdk) respGetHeaders(L *lua.LState) int {
	p.check(L, phasesRespGet)
	max := checkMax(L, 1, "max_headers", defaultMaxHeaders)
	t, truncated := p.headerTable(p.exchange(L).VisitResponseHeaders, max)
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

func sourceName(s Source) string {
	switch s {
	case SourceExit:
		return "exit"
	case SourceService:
		return "service"
	}
	return "error"
}

func (p *pdk) respGetSource(L *lua.LState) int {
	p.check(L, phasesRespGet)
	L.Push(lua.LString(sourceName(p.exchange(L).Source())))
	return 1
}

func (p *pdk) notSent(L *lua.LState) Exchange {
	ex := p.exchange(L)
	if ex.HeadersSent() {
		raise(L, "headers have already been sent")
	}
	return ex
}

func (p *pdk) respSetStatus(L *lua.LState) int {
	p.check(L, phasesRespSet)
	ex := p.notSent(L)
	code, ok := L.Get(1).(lua.LNumber)
	if !ok {
		raise(L, "code must be a number")
	}
	if code < 100 || code > 599 {
		raise(L, "code must be a number between 100 and 599")
	}
	ex.SetResponseStatus(int(code))
	return 0
}

func isTransferEncoding(name string) bool {
	return strings.EqualFold(name, "transfer-encoding")
}

func (p *pdk) respSetHeader(L *lua.LState) int {
	p.check(L, phasesRespSet)
	ex := p.notSent(L)
	name := L.Get(1)
	one, many := headerValues(L, name, L.Get(2), false)
	n := string(name.(lua.LString))
	if isTransferEncoding(n) {
		p.log(L, LevelWarn, "manually setting Transfer-Encoding. Ignored.")
		return 0
	}
	if many == nil {
		ex.SetResponseHeader(n, one)
		return 0
	}
	ex.ClearResponseHeader(n)
	for _, v := range many {
		ex.AddResponseHeader(n, v)
	}
	return 0
}

func (p *pdk) respAddHeader(L *lua.LState) int {
	p.check(L, phasesRespSet)
	ex := p.notSent(L)
	name := L.Get(1)
	one, many := headerValues(L, name, L.Get(2), false)
	n := string(name.(lua.LString))
	if isTransferEncoding(n) {
		p.log(L, LevelWarn, "manually setting Transfer-Encoding. Ignored.")
		return 0
	}
	if many == nil {
		ex.AddResponseHeader(n, one)
	}
	for _, v := range many {
		ex.AddResponseHeader(n, v)
	}
	return 0
}

func (p *pdk) respClearHeader(L *lua.LState) int {
	p.check(L, phasesRespSet)
	ex := p.notSent(L)
	name, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "header name must be a string")
	}
	ex.ClearResponseHeader(string(name))
	return 0
}

// headerList validates a headers table (set_headers/exit wording) and
// returns its lines. Transfer-Encoding is dropped.
func (p *pdk) headerList(L *lua.LState, t *lua.LTable) [][2]string {
	return p.appendHeaderList(L, nil, t)
}

// appendHeaderList is headerList appending to out.
func (p *pdk) appendHeaderList(L *lua.LState, out [][2]string, t *lua.LTable) [][2]string {
	for _, k := range sortedKeys(t) {
		one, many := headerValues(L, k, t.RawGet(k), true)
		n := string(k.(lua.LString))
		if isTransferEncoding(n) {
			continue
		}
		if many == nil {
			out = append(out, [2]string{n, one})
		}
		for _, v := range many {
			out = append(out, [2]string{n, v})
		}
	}
	return out
}

func (p *pdk) respSetHeaders(L *lua.LState) int {
	p.check(L, phasesRespSet)
	ex := p.notSent(L)
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		raise(L, "headers must be a table")
	}
	lines := p.headerList(L, t)
	for _, h := range lines {
		ex.ClearResponseHeader(h[0])
	}
	for _, h := range lines {
		ex.AddResponseHeader(h[0], h[1])
	}
	return 0
}

func (p *pdk) respGetRawBody(L *lua.LState) int {
	p.check(L, PhaseBodyFilter)
	L.Push(lua.LString(p.exchange(L).ResponseBody()))
	return 1
}

func (p *pdk) respSetRawBody(L *lua.LState) int {
	p.check(L, PhaseBodyFilter)
	body, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "body must be a string")
	}
	if body == "" {
		body = "\n"
	}
	p.exchange(L).SetResponseBody([]byte(body))
	return 0
}

func hasHeader(lines [][2]string, name string) bool {
	for _, h := range lines {
		if strings.EqualFold(h[0], name) {
			return true
		}
	}
	return false
}

// exitArgs checks the (status, body or message, headers) arguments shared
// by kong.response.exit and kong.response.error, in Kong's order, with the
// status range and the body error text of each.
func (p *pdk) exitArgs(L *lua.LState, lo, hi int, bodyErr string) (Exchange, lua.LNumber, lua.LValue, [][2]string) {
	p.check(L, phasesRespSet)
	ex := p.notSent(L)
	code, ok := L.Get(1).(lua.LNumber)
	if !ok {
		raise(L, "code must be a number")
	}
	if code < lua.LNumber(lo) || code > lua.LNumber(hi) {
		raise(L, "code must be a number between %d and %d", lo, hi)
	}
	bodyV := L.Get(2)
	switch bodyV.(type) {
	case *lua.LNilType, lua.LString, *lua.LTable:
	default:
		raise(L, "%s", bodyErr)
	}
	lines := p.exitLines[:0] // handed back by keepExitLines
	switch h := L.Get(3).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		lines = p.appendHeaderList(L, lines, h)
	default:
		raise(L, "headers must be a nil or table")
	}
	return ex, code, bodyV, lines
}

// stringBytes returns s's bytes without copying, for callees that copy
// and never write (Exchange.Exit). An empty s gives an empty, non-nil slice.
func stringBytes(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// keepExitLines keeps the header lines of an exit (already copied by
// Exchange.Exit) as the scratch of the next one, without their strings.
func (p *pdk) keepExitLines(lines [][2]string) {
	clear(lines)
	if cap(lines) <= 64 {
		p.exitLines = lines[:0]
	}
}

// respExit is kong.response.exit. The body and header lines it hands to
// Exchange.Exit are the state's scratch, overwritten by the next exit:
// Exit must copy them (the gateway and lualibtest.FakeExchange do).
func (p *pdk) respExit(L *lua.LState) int {
	ex, code, bodyV, lines := p.exitArgs(L, 100, 599, "body must be a nil, string or table")
	var body []byte
	switch b := bodyV.(type) {
	case lua.LString:
		body = stringBytes(string(b)) // Exit copies (Exchange contract)
	case *lua.LTable:
		enc, err := p.encodeJSONScratch(b)
		if err != nil {
			raise(L, "body encoding failed while flushing response: %s", err)
		}
		body = enc
		if !hasHeader(lines, "Content-Type") {
			lines = append(lines, [2]string{"Content-Type", ctJSON})
		}
	}
	ex.Exit(int(code), body, lines, SourceExit)
	p.keepExitLines(lines)
	p.raiseExit(L)
	return 0
}

func (p *pdk) respError(L *lua.LState) int {
	ex, code, msgV, lines := p.exitArgs(L, 400, 599, "message must be a nil, a string or a table")
	var msg string
	switch m := msgV.(type) {
	case lua.LString:
		msg = string(m)
	case *lua.LTable:
		enc, err := p.encodeJSONScratch(m)
		if err != nil {
			raise(L, "could not JSON encode the error message: %s", err)
		}
		msg = string(enc)
	default:
		msg = httpErrorMessage(int(code))
	}
	ct := ""
	for _, h := range lines {
		if strings.EqualFold(h[0], "Content-Type") {
			ct = h[1]
		}
	}
	if ct == "" {
		accept := strings.Join(ex.RequestHeaderValues("Accept"), ",")
		ct = negotiate(accept)
		lines = append(lines, [2]string{"Content-Type", ct})
	}
	body := errorBody(ct, msg, ex.RequestID())
	ex.Exit(int(code), []byte(body), lines, SourceExit)
	p.keepExitLines(lines)
	p.raiseExit(L)
	return 0
}
