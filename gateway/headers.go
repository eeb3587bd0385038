package gateway

import (
	"bytes"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// Header names the proxy writes on every request, pre-rendered so the hot
// path does not build them. Each is in the form both fasthttp's
// normalisation and net/http's canonicalisation give (X-Real-Ip, not
// X-Real-IP): the HTTP/2 bridge stores net/http's names with normalising
// off, and a name spelt otherwise would not find the client's copy to
// replace it.
const (
	hdrXRealIP          = "X-Real-Ip"
	hdrXForwardedFor    = "X-Forwarded-For"
	hdrXForwardedProto  = "X-Forwarded-Proto"
	hdrXForwardedHost   = "X-Forwarded-Host"
	hdrXForwardedPort   = "X-Forwarded-Port"
	hdrXForwardedPath   = "X-Forwarded-Path"
	hdrXForwardedPrefix = "X-Forwarded-Prefix"
	hdrVia              = "Via"
	hdrServer           = "Server"
	hdrRequestID        = "X-Kong-Request-Id"
	hdrUpstreamLatency  = "X-Kong-Upstream-Latency"
	hdrProxyLatency     = "X-Kong-Proxy-Latency"
	hdrResponseLatency  = "X-Kong-Response-Latency"
	hdrUpstreamStatus   = "X-Kong-Upstream-Status"
	hdrConnection       = "Connection"
	hdrUpgrade          = "Upgrade"
	hdrLocation         = "Location"
	hdrAccept           = "Accept"
	hdrContentType      = "Content-Type"
)

var (
	viaToken11 = []byte("1.1 " + serverToken)
	viaToken10 = []byte("1.0 " + serverToken)
)

// hopByHop lists the headers that describe one connection and are never
// forwarded (RFC 9110 7.6.1), in canonical form.
var hopByHop = [...]string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func isHopByHop(k []byte) bool {
	for _, h := range hopByHop {
		if len(h) == len(k) && bytes.EqualFold([]byte(h), k) {
			return true
		}
	}
	return false
}

// nextToken returns the next header name listed in a Connection value
// (skipping close and keep-alive) and the rest of the value; tok is nil at
// the end.
func nextToken(v []byte) (tok, rest []byte) {
	for len(v) > 0 {
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 || bytes.EqualFold(tok, strClose) || bytes.EqualFold(tok, strKeepAlive) {
			continue
		}
		return tok, v
	}
	return nil, nil
}

var (
	strClose     = []byte("close")
	strKeepAlive = []byte("keep-alive")
)

// stripRequestHopByHop removes hop-by-hop headers (and those named in
// Connection) from a request about to go upstream.
func stripRequestHopByHop(h *fasthttp.RequestHeader, scratch []byte) []byte {
	conn := scratch
	for _, v := range h.PeekAll(hdrConnection) {
		conn = append(append(conn, v...), ',')
	}
	for tok, rest := nextToken(conn); tok != nil; tok, rest = nextToken(rest) {
		h.DelBytes(tok)
	}
	for _, k := range hopByHop {
		if k == "Transfer-Encoding" {
			continue // fasthttp frames the body itself
		}
		h.Del(k)
	}
	// The proxy answered "Expect: 100-continue" itself (like nginx); the
	// body is sent with the request, so the upstream must not wait for it.
	h.Del("Expect")
	h.ResetConnectionClose()
	return conn[:0]
}

// b2s views b as a string without copying; the string must not outlive b's
// contents (used only for values that never leave the request).
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// canonicalDash returns name with '_' replaced by '-' (the PDK treats them
// alike), without allocating when there is none.
func canonicalDash(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '_' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if b[j] == '_' {
					b[j] = '-'
				}
			}
			return string(b)
		}
	}
	return name
}
