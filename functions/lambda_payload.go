package functions

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"regexp"
	"strconv"
	"strings"

	"luagate/lualib"
)

// Kong's defaults for kong.request.get_query/get_headers/get_body.
const (
	lambdaMaxArgs    = 100
	lambdaMaxHeaders = 100
)

// rawContentTypes are the Content-Type values (compared whole) whose body
// forward_request_body sends as is; others are base64'd.
var rawContentTypes = map[string]bool{
	"text/plain":           true,
	"text/html":            true,
	"application/xml":      true,
	"text/xml":             true,
	"application/soap+xml": true,
}

// MatchedRoutePath is implemented by an Exchange that knows which of the
// route's paths matched (Kong's router_matches.uri), for the API Gateway
// event's resource. Without it, aws-lambda finds the path from the route's
// paths itself.
type MatchedRoutePath interface {
	MatchedRoutePath() (path string, ok bool)
}

// buildLambdaPayload is Kong's build_request_payload (spec 5.3): the API
// Gateway event, the request_* fields, or the legacy merge of query and
// body arguments, JSON-encoded.
func buildLambdaPayload(c *LambdaConfig, ex lualib.Exchange, bufSize int) ([]byte, error) {
	var v any
	switch {
	case c.AWSGateway && c.PayloadVersion == "2.0":
		v = apiGatewayV2Event(c, ex, bufSize)
	case c.AWSGateway:
		v = apiGatewayV1Event(c, ex, bufSize)
	case c.ForwardMethod || c.ForwardURI || c.ForwardHeaders || c.ForwardBody:
		v = forwardedRequest(c, ex, bufSize)
	default:
		v = legacyPayload(ex)
	}
	return encodeJSON(v)
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// readLambdaBody is read_request_body: nil when there is no body, and nil
// (with the error Kong logs) for a body that nginx would have buffered to
// disk when skip_large_bodies is on.
func readLambdaBody(c *LambdaConfig, ex lualib.Exchange, bufSize int) []byte {
	body, err := ex.RequestBody()
	if err != nil || len(body) == 0 {
		return nil
	}
	if len(body) > bufSize && c.SkipLargeBodies {
		ex.Log(lualib.LevelErr, AWSLambda, "request body was buffered to disk, too large")
		return nil
	}
	return body
}

// ---- shape A: API Gateway events

// lambdaHeaders returns kong.request.get_headers()'s shape: lower-case
// names, a string per name or a list for repeated headers, at most 100.
func lambdaHeaders(ex lualib.Exchange) map[string]any {
	out := make(map[string]any)
	n := 0
	ex.VisitRequestHeaders(func(name, value string) {
		if n >= lambdaMaxHeaders {
			return
		}
		n++
		k := strings.ToLower(name)
		switch old := out[k].(type) {
		case nil:
			out[k] = value
		case string:
			out[k] = []any{old, value}
		case []any:
			out[k] = append(old, value)
		}
	})
	return out
}

// multiValue splits a get_headers/get_query map into first values and
// value lists.
func multiValue(m map[string]any) (first, all map[string]any) {
	first, all = make(map[string]any, len(m)), make(map[string]any, len(m))
	for k, v := range m {
		if list, ok := v.([]any); ok {
			first[k], all[k] = list[0], list
		} else {
			first[k], all[k] = v, []any{v}
		}
	}
	return first, all
}

// upstreamPath is the upstream path without its query ($upstream_uri).
func upstreamPath(ex lualib.Exchange) string {
	p := ex.UpstreamURI()
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// eventBody is the body and isBase64Encoded of the API Gateway events:
// base64 unless base64_encode_body is off or the body is "" (a missing body
// is base64 of nothing, "", flagged true; with base64 off it is absent).
func eventBody(c *LambdaConfig, ex lualib.Exchange, bufSize int, ev map[string]any) {
	body := readLambdaBody(c, ex, bufSize)
	if c.Base64EncodeBody {
		ev["body"] = base64.StdEncoding.EncodeToString(body)
		ev["isBase64Encoded"] = true
		return
	}
	if body != nil {
		ev["body"] = string(body)
	}
	ev["isBase64Encoded"] = false
}

// luaNumber formats like Lua's tostring (%.14g).
func luaNumber(f float64) string { return strconv.FormatFloat(f, 'g', 14, 64) }

// requestTime is the CLF time of the request start (dd/Mon/yyyy:HH:MM:SS +0000).
func requestTime(ex lualib.Exchange) string {
	return ex.StartTime().UTC().Format("02/Jan/2006:15:04:05 -0700")
}

// domainPrefix is the first label of the host.
func domainPrefix(host string) string {
	p, _, _ := strings.Cut(host, ".")
	return p
}

func pathParameters(ex lualib.Exchange) map[string]any {
	out := map[string]any{}
	_, named := ex.URICaptures()
	for k, v := range named {
		out[k] = v
	}
	return out
}

// apiGatewayV1Event is Kong's aws_serializer: an API Gateway REST (v1)
// proxy event.
func apiGatewayV1Event(c *LambdaConfig, ex lualib.Exchange, bufSize int) map[string]any {
	headers, multiHeaders := multiValue(lambdaHeaders(ex))
	query, multiQuery := multiValue(decodeArgs(ex.RawQuery(), lambdaMaxArgs))
	path := upstreamPath(ex)
	identity := map[string]any{"sourceIp": ex.ClientIP()}
	if ua, ok := headers["user-agent"]; ok {
		identity["userAgent"] = ua
	}
	host := ex.Host()
	ev := map[string]any{
		"version":                         "1.0",
		"path":                            path,
		"httpMethod":                      ex.Method(),
		"headers":                         headers,
		"multiValueHeaders":               multiHeaders,
		"pathParameters":                  pathParameters(ex),
		"queryStringParameters":           query,
		"multiValueQueryStringParameters": multiQuery,
		"requestContext": map[string]any{
			"path":             path,
			"protocol":         "HTTP/" + luaNumber(ex.HTTPVersion()),
			"httpMethod":       ex.Method(),
			"domainName":       host,
			"domainPrefix":     domainPrefix(host),
			"identity":         identity,
			"requestId":        ex.RequestID(),
			"requestTime":      requestTime(ex),
			"requestTimeEpoch": ex.StartTime().UnixMilli(),
			"resourcePath":     path,
		},
	}
	if r, ok := routeResource(ex); ok {
		ev["resource"] = r
	}
	eventBody(c, ex, bufSize, ev)
	return ev
}

// apiGatewayV2Event is the API Gateway HTTP API (payload 2.0) event: repeated
// headers and query arguments joined with commas, cookies in their own list.
func apiGatewayV2Event(c *LambdaConfig, ex lualib.Exchange, bufSize int) map[string]any {
	headers := map[string]any{}
	var cookies []any
	n := 0
	ex.VisitRequestHeaders(func(name, value string) {
		if n >= lambdaMaxHeaders {
			return
		}
		n++
		k := strings.ToLower(name)
		if k == "cookie" {
			for _, ck := range strings.Split(value, ";") {
				if ck = strings.TrimSpace(ck); ck != "" {
					cookies = append(cookies, ck)
				}
			}
			return
		}
		if old, ok := headers[k].(string); ok {
			headers[k] = old + "," + value
		} else {
			headers[k] = value
		}
	})
	query := map[string]any{}
	visitArgsRaw(ex.RawQuery(), lambdaMaxArgs, func(k string, v any) {
		s, _ := v.(string)
		if old, ok := query[k].(string); ok {
			query[k] = old + "," + s
		} else {
			query[k] = s
		}
	})
	path := upstreamPath(ex)
	host := ex.Host()
	httpCtx := map[string]any{
		"method":   ex.Method(),
		"path":     path,
		"protocol": "HTTP/" + luaNumber(ex.HTTPVersion()),
		"sourceIp": ex.ClientIP(),
	}
	if ua, ok := ex.RequestHeader("User-Agent"); ok {
		httpCtx["userAgent"] = ua
	}
	ev := map[string]any{
		"version":        "2.0",
		"routeKey":       "$default",
		"rawPath":        path,
		"rawQueryString": ex.RawQuery(),
		"headers":        headers,
		"requestContext": map[string]any{
			"domainName":   host,
			"domainPrefix": domainPrefix(host),
			"http":         httpCtx,
			"requestId":    ex.RequestID(),
			"routeKey":     "$default",
			"stage":        "$default",
			"time":         requestTime(ex),
			"timeEpoch":    ex.StartTime().UnixMilli(),
		},
	}
	if len(cookies) > 0 {
		ev["cookies"] = cookies
	}
	if len(query) > 0 {
		ev["queryStringParameters"] = query
	}
	if pp := pathParameters(ex); len(pp) > 0 {
		ev["pathParameters"] = pp
	}
	eventBody(c, ex, bufSize, ev)
	return ev
}

// routeResource is the matched route path as written (a regex without its
// "~"), absent when the route matched without a path.
func routeResource(ex lualib.Exchange) (string, bool) {
	if m, ok := ex.(MatchedRoutePath); ok {
		p, ok := m.MatchedRoutePath()
		return strings.TrimPrefix(p, "~"), ok
	}
	info := ex.RouteInfo()
	if info == nil {
		return "", false
	}
	var paths []string
	switch ps := info["paths"].(type) {
	case []any:
		for _, p := range ps {
			if s, ok := p.(string); ok {
				paths = append(paths, s)
			}
		}
	case []string:
		paths = ps
	}
	reqPath := ex.Path()
	best := ""
	for _, p := range paths {
		if re, ok := strings.CutPrefix(p, "~"); ok {
			if rx, err := regexp.Compile("^(?:" + re + ")"); err == nil && rx.MatchString(reqPath) {
				return re, true
			}
			continue
		}
		if strings.HasPrefix(reqPath, p) && len(p) > len(best) {
			best = p
		}
	}
	return best, best != ""
}

// ---- shape B: request_* fields

func forwardedRequest(c *LambdaConfig, ex lualib.Exchange, bufSize int) map[string]any {
	out := map[string]any{}
	if c.ForwardMethod {
		out["request_method"] = ex.Method()
	}
	if c.ForwardHeaders {
		out["request_headers"] = lambdaHeaders(ex)
	}
	if c.ForwardURI {
		uri := ex.RawPath()
		if ex.HasQuery() {
			uri += "?" + ex.RawQuery()
		}
		out["request_uri"] = uri
		out["request_uri_args"] = decodeArgs(ex.RawQuery(), lambdaMaxArgs)
	}
	if c.ForwardBody {
		ct, hasCT := ex.RequestHeader("Content-Type")
		raw := readLambdaBody(c, ex, bufSize)
		args, errMsg := requestBodyArgs(ex)
		var body any
		if raw != nil {
			body = string(raw)
		}
		if strings.Contains(errMsg, "content type") {
			args = map[string]any{}
			if (!hasCT || !rawContentTypes[ct]) && c.Base64EncodeBody {
				body = base64.StdEncoding.EncodeToString(raw)
				out["request_body_base64"] = true
			}
		}
		if body != nil {
			out["request_body"] = body
		}
		if args != nil {
			out["request_body_args"] = args
		}
	}
	return out
}

// ---- shape C: legacy

// legacyPayload is kong.table.merge(kong.request.get_query(),
// kong.request.get_body()): body keys win; an unparsable body is dropped. A
// Lua table whose keys are 1..n encodes as an array, so a JSON array body
// alone stays an array; an empty merge is {}.
func legacyPayload(ex lualib.Exchange) any {
	merged := decodeArgs(ex.RawQuery(), lambdaMaxArgs)
	body, _ := requestBodyArgs(ex)
	switch b := body.(type) {
	case map[string]any:
		for k, v := range b {
			merged[k] = v
		}
	case []any:
		if len(merged) == 0 {
			if len(b) == 0 {
				return map[string]any{}
			}
			return b
		}
		for i, v := range b {
			merged[strconv.Itoa(i+1)] = v
		}
	}
	return merged
}

// ---- kong.request.get_query / get_body

// decodeArgs is ngx.decode_args: "a=1&b&a=2" gives {a: ["1","2"], b: true}.
func decodeArgs(raw string, max int) map[string]any {
	out := map[string]any{}
	visitArgsRaw(raw, max, func(k string, v any) {
		switch old := out[k].(type) {
		case nil:
			out[k] = v
		case []any:
			out[k] = append(old, v)
		default:
			out[k] = []any{old, v}
		}
	})
	return out
}

// visitArgsRaw calls fn for each argument (value "" for "a=", true for a
// bare "a"), at most max of them.
func visitArgsRaw(raw string, max int, fn func(key string, value any)) {
	n := 0
	for raw != "" && n < max {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		var key string
		var val any
		if k, v, ok := strings.Cut(seg, "="); ok {
			key, val = unescapeQuery(k), unescapeQuery(v)
		} else {
			key, val = unescapeQuery(seg), true
		}
		if key == "" {
			continue
		}
		n++
		fn(key, val)
	}
}

// unescapeQuery decodes %XX and "+", keeping malformed escapes as they are.
func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unHex(s[i+1])<<4|unHex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unHex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// requestBodyArgs is kong.request.get_body(): the parsed form, JSON
// (object or array) or multipart body, or Kong's error message.
func requestBodyArgs(ex lualib.Exchange) (any, string) {
	ct, ok := ex.RequestHeader("Content-Type")
	if !ok {
		return nil, "missing content type"
	}
	lower := strings.ToLower(ct)
	if i := strings.IndexByte(lower, ';'); i >= 0 {
		lower = lower[:i]
	}
	lower = strings.TrimSpace(lower)
	switch {
	case strings.HasPrefix(lower, "application/x-www-form-urlencoded"):
		body, err := ex.RequestBody()
		if err != nil {
			return nil, err.Error()
		}
		return decodeArgs(string(body), lambdaMaxArgs), ""
	case strings.HasPrefix(lower, "application/json"):
		body, err := ex.RequestBody()
		if err != nil {
			return nil, err.Error()
		}
		v, err := decodeJSONNumbers(body)
		if err != nil {
			return nil, "invalid json body"
		}
		switch v.(type) {
		case map[string]any, []any:
			return v, ""
		}
		return nil, "invalid json body"
	case strings.HasPrefix(lower, "multipart/form-data"):
		body, err := ex.RequestBody()
		if err != nil {
			return nil, err.Error()
		}
		return multipartArgs(body, ct)
	}
	return nil, "unsupported content type '" + ct + "'"
}

func multipartArgs(body []byte, ct string) (any, string) {
	_, params, err := mime.ParseMediaType(ct)
	boundary := params["boundary"]
	if err != nil || boundary == "" {
		return nil, "unable to decode multipart body"
	}
	out := map[string]any{}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "unable to decode multipart body"
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, "unable to read multipart values"
		}
		name := part.FormName()
		if name == "" {
			continue
		}
		switch old := out[name].(type) {
		case nil:
			out[name] = string(data)
		case []any:
			out[name] = append(old, string(data))
		default:
			out[name] = []any{old, string(data)}
		}
	}
	return out, ""
}

// decodeJSONNumbers decodes one JSON value, keeping numbers as written.
func decodeJSONNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingJSON
	}
	return v, nil
}
