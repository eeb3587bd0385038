package gateway

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Messages Kong writes for the answers it generates itself.
const (
	msgNoRoute          = "no Route matched with those values"
	msgNoService        = "no Service found with those values"
	msgUseHTTPS         = "Please use HTTPS protocol"
	msgUnexpected       = "An unexpected error occurred"
	msgBadGateway       = "An invalid response was received from the upstream server"
	msgUnavailable      = "The upstream server is currently unavailable"
	msgTimeout          = "The upstream server is timing out"
	msgNameResolution   = "name resolution failed"
	msgBadRequest       = "Bad request"
	msgPayloadTooLarge  = "Payload too large"
	msgNotFound         = "Not found"
	msgMethodNotAllowed = "Method not allowed"
)

// errorKind is the body format of a Kong-generated error.
type errorKind uint8

const (
	kindJSON errorKind = iota
	kindHTML
	kindXML
	kindPlain
)

var kindContentType = [...]string{
	kindJSON:  "application/json; charset=utf-8",
	kindHTML:  "text/html; charset=utf-8",
	kindXML:   "application/xml; charset=utf-8",
	kindPlain: "text/plain; charset=utf-8",
}

// mimeLookup is Kong's MIME_TYPES table (kong/tools/http.lua), keyed by the
// exact (case-sensitive) media type; "application/grpc" is answered as JSON.
func mimeLookup(s string) (errorKind, bool) {
	switch s {
	case "text/html":
		return kindHTML, true
	case "application/json", "application", "application/grpc":
		return kindJSON, true
	case "text/plain", "text":
		return kindPlain, true
	case "application/xml":
		return kindXML, true
	}
	return kindJSON, false
}

// mimeTypeOf is Kong's get_mime_type(content_header): the first ";"-part of
// the (stripped) value, looked up exactly; "x/*" looks x up; anything
// unknown is JSON.
func mimeTypeOf(h string) errorKind {
	h = strings.TrimSpace(h)
	if i := strings.IndexByte(h, ';'); i >= 0 {
		h = h[:i]
	}
	typ, sub, ok := strings.Cut(h, "/")
	if !ok {
		return kindJSON
	}
	if sub2, _, _ := strings.Cut(sub, "/"); sub2 == "*" {
		if typ == "*" {
			return kindJSON
		}
		k, _ := mimeLookup(typ)
		return k
	}
	k, _ := mimeLookup(h)
	return k
}

// responseTypeOf is Kong's get_response_type(accept): the media range with
// the strictly highest q (first one wins ties) picks the format; JSON when
// nothing parses.
func responseTypeOf(accept string) errorKind {
	kind := kindJSON
	maxQ := 0.0
	for accept != "" {
		var v string
		v, accept, _ = strings.Cut(accept, ",")
		v = strings.TrimSpace(v)
		media, q, ok := parseAcceptValue(v)
		if !ok {
			continue
		}
		if q > maxQ {
			maxQ = q
			kind = mimeTypeOf(media)
		}
	}
	return kind
}

func isTokenChar(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case first:
		return false
	}
	return strings.IndexByte("-!#$&^_+.", c) >= 0
}

// scanToken returns the length of a Kong media-type token (at least two
// characters) or of "*" at the start of s, 0 when none.
func scanToken(s string, star bool) int {
	if star && s != "" && s[0] == '*' {
		return 1
	}
	if len(s) < 2 || !isTokenChar(s[0], true) || !isTokenChar(s[1], false) {
		return 0
	}
	n := 2
	for n < len(s) && isTokenChar(s[n], false) {
		n++
	}
	return n
}

func skipSpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// parseAcceptValue matches Kong's accept-value regular expression (anchored
// at the start only): type "/" subtype, then ";q=" or other parameters.
func parseAcceptValue(v string) (media string, q float64, ok bool) {
	n := scanToken(v, true)
	if n == 0 || n >= len(v) || v[n] != '/' {
		return "", 0, false
	}
	m := scanToken(v[n+1:], true)
	if m == 0 {
		return "", 0, false
	}
	media = v[:n+1+m]
	q = 1
	rest := v[n+1+m:]
	for {
		r := skipSpace(rest)
		if r == "" || r[0] != ';' {
			break
		}
		r = skipSpace(r[1:])
		if l, v, ok := scanQ(r); ok {
			q = v
			rest = r[l:]
			continue
		}
		t := scanToken(r, false)
		if t == 0 {
			break
		}
		r = r[t:]
		if r != "" && r[0] == '=' {
			e := strings.IndexByte(r, ';')
			if e < 0 {
				e = len(r)
			}
			r = r[e:]
		}
		rest = r
	}
	return media, q, true
}

// scanQ matches Kong's "q=(1(\.0{0,3})?|0(\.\d{0,3})?)" at the start of r
// and returns its length and value.
func scanQ(r string) (int, float64, bool) {
	if len(r) < 3 || (r[0] != 'q' && r[0] != 'Q') || r[1] != '=' || (r[2] != '0' && r[2] != '1') {
		return 0, 0, false
	}
	one := r[2] == '1'
	l := 3
	if l < len(r) && r[l] == '.' {
		l++
		for n := 0; n < 3 && l < len(r) && r[l] >= '0' && r[l] <= '9' && (!one || r[l] == '0'); n++ {
			l++
		}
	}
	if one {
		return l, 1, true
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(r[2:l], "."), 64)
	if err != nil {
		return 0, 0, false
	}
	return l, v, true
}

// appendErrorBody renders Kong's error templates (kong/tools/http.lua).
func appendErrorBody(dst []byte, kind errorKind, msg, requestID string) []byte {
	switch kind {
	case kindHTML:
		dst = append(dst, "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>"...)
		dst = append(dst, msg...)
		dst = append(dst, ".</p>\n    <p>request_id: "...)
		dst = append(dst, requestID...)
		dst = append(dst, "</p>\n  </body>\n</html>\n"...)
	case kindXML:
		dst = append(dst, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>"...)
		dst = append(dst, msg...)
		dst = append(dst, "</message>\n  <requestid>"...)
		dst = append(dst, requestID...)
		dst = append(dst, "</requestid>\n</error>\n"...)
	case kindPlain:
		dst = append(dst, msg...)
		dst = append(dst, "\nrequest_id: "...)
		dst = append(dst, requestID...)
		dst = append(dst, '\n')
	default:
		dst = append(dst, "{\n  \"message\":\""...)
		dst = append(dst, msg...)
		dst = append(dst, "\",\n  \"request_id\":\""...)
		dst = append(dst, requestID...)
		dst = append(dst, "\"\n}"...)
	}
	return dst
}

// defaultErrorMessage is the message Kong's error handler (and
// kong.response.error without a message) uses for a status.
func defaultErrorMessage(status int) string {
	switch status {
	case 400:
		return msgBadRequest
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return msgNotFound
	case 405:
		return msgMethodNotAllowed
	case 408:
		return "Request timeout"
	case 409:
		return "Conflict"
	case 411:
		return "Length required"
	case 412:
		return "Precondition failed"
	case 413:
		return msgPayloadTooLarge
	case 414:
		return "URI too long"
	case 417:
		return "Expectation failed"
	case 429:
		return "Too many requests"
	case 494:
		return "Request header or cookie too large"
	case 500:
		return msgUnexpected
	case 502:
		return msgBadGateway
	case 503:
		return msgUnavailable
	case 504:
		return msgTimeout
	}
	return "The upstream server responded with " + strconv.Itoa(status)
}

// upstreamError classifies a failed upstream call the way nginx and Kong's
// balancer answer it.
type upstreamError struct {
	status int
	msg    string
	// kongError: rendered as kong.response.error (Accept only, JSON
	// default); otherwise as nginx's error_page (Accept, Content-Type,
	// error_default_type).
	kongError bool
	err       error
}

func (e *upstreamError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// classifyUpstreamError maps a fasthttp client error to Kong's answer:
// DNS failure 503 "name resolution failed" (balancer), timeouts 504,
// everything else (refused, reset, closed, bad response) 502.
func classifyUpstreamError(err error) *upstreamError {
	var dnsErr *net.DNSError
	var bodyErr *clientBodyError // the client's body failed, not the upstream (tls.go)
	switch {
	case errors.As(err, &bodyErr):
		return &upstreamError{status: bodyErr.status, msg: defaultErrorMessage(bodyErr.status), err: err}
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return &upstreamError{status: 503, msg: msgNameResolution, kongError: true, err: err}
	case isTimeout(err):
		return &upstreamError{status: 504, msg: msgTimeout, err: err}
	}
	return &upstreamError{status: 502, msg: msgBadGateway, err: err}
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, fasthttp.ErrTLSHandshakeTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isConnectError reports a failure before any byte of the request was
// written (safe to retry whatever the method and body).
func isConnectError(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}
