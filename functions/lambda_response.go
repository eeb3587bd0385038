package functions

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	jsonContentType = regexp.MustCompile(`(?i)application/.*json`)
	errTrailingJSON = errors.New("trailing data after the JSON value")
)

// hopHeaders are dropped from the Lambda service's response (Kong drops them
// whenever $http2 is truthy, which it always is) along with Content-Length,
// which is recomputed.
var hopHeaders = []string{"Content-Length", "Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Transfer-Encoding"}

// lambdaAnswerT is the response aws-lambda sends for an Invoke result.
type lambdaAnswerT struct {
	status  int
	body    []byte
	headers [][2]string
	logErr  string // logged at error level (the 502 reason)
}

// headerSet is an ordered, case-insensitive multi-map of response headers.
type headerSet struct {
	names  []string
	values map[string][]string // by lower-case name
	spell  map[string]string   // lower-case name -> name as first written
}

func newHeaderSet() *headerSet {
	return &headerSet{values: map[string][]string{}, spell: map[string]string{}}
}

func (h *headerSet) set(name string, vals []string) {
	k := strings.ToLower(name)
	if _, ok := h.values[k]; !ok {
		h.names = append(h.names, k)
		h.spell[k] = name
	}
	h.values[k] = vals
}

func (h *headerSet) get(name string) ([]string, bool) {
	v, ok := h.values[strings.ToLower(name)]
	return v, ok
}

func (h *headerSet) del(name string) {
	k := strings.ToLower(name)
	if _, ok := h.values[k]; !ok {
		return
	}
	delete(h.values, k)
	h.names = slices.DeleteFunc(h.names, func(n string) bool { return n == k })
}

func (h *headerSet) lines() [][2]string {
	var out [][2]string
	for _, k := range h.names {
		for _, v := range h.values[k] {
			out = append(out, [2]string{h.spell[k], v})
		}
	}
	return out
}

// lambdaContent is the Invoke response body as Kong holds it: a decoded
// JSON value when the Content-Type is application/.*json and the body
// parses, else the raw string.
type lambdaContent struct {
	raw     []byte
	decoded bool
	value   any // map[string]any, []any, string, json.Number, bool or nil (JSON null)
}

// lambdaAnswer turns an Invoke result into the client response (spec 5.4).
// An error is what Kong raises as a Lua error (a 500 for the client).
func lambdaAnswer(c *LambdaConfig, via string, status int, svc map[string][]string, payload []byte) (*lambdaAnswerT, error) {
	headers := newHeaderSet()
	for _, k := range sortedHeaderNames(svc) {
		headers.set(k, slices.Clone(svc[k]))
	}
	for _, h := range hopHeaders {
		headers.del(h)
	}
	content := lambdaContent{raw: payload}
	if ct, ok := headers.get("Content-Type"); ok && len(ct) > 0 && jsonContentType.MatchString(ct[0]) {
		if v, err := decodeJSONNumbers(payload); err == nil {
			content.decoded, content.value = true, v
		}
	}

	var body []byte
	ans := &lambdaAnswerT{}
	if c.IsProxyIntegration {
		pr, reason, err := extractProxyResponse(content)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			msg := "could not JSON decode Lambda function response: " + reason
			b, _ := encodeJSON(map[string]any{"message": "Bad Gateway", "error": msg})
			return &lambdaAnswerT{
				status:  http.StatusBadGateway,
				body:    b,
				headers: [][2]string{{"Content-Type", "application/json; charset=utf-8"}},
				logErr:  reason,
			}, nil
		}
		status, body = pr.status, pr.body
		for _, h := range pr.headers.names {
			headers.set(pr.headers.spell[h], pr.headers.values[h])
		}
	} else {
		if fe, ok := headers.get("X-Amz-Function-Error"); c.UnhandledStatus != 0 && ok && len(fe) > 0 && fe[0] == "Unhandled" {
			status = c.UnhandledStatus
		}
		var err error
		if body, err = plainContent(c, content); err != nil {
			return nil, err
		}
	}
	headers.del("Content-Length")
	headers.del("Transfer-Encoding")
	if via != "" {
		if old, ok := headers.get("Via"); ok && len(old) > 0 {
			vals := slices.Clone(old)
			vals[len(vals)-1] += ", " + via
			headers.set("Via", vals)
		} else {
			headers.set("Via", []string{via})
		}
	}
	if status < 100 || status > 599 {
		return nil, errors.New("code must be a number between 100 and 599")
	}
	ans.status, ans.body, ans.headers = status, body, headers.lines()
	return ans, nil
}

func sortedHeaderNames(h map[string][]string) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// plainContent is the body of a non-proxy answer: a raw string as is, a
// decoded JSON string as its text, a decoded object or array as JSON (with
// empty arrays written as {} in legacy mode, Kong's long-lived behaviour).
func plainContent(c *LambdaConfig, content lambdaContent) ([]byte, error) {
	if !content.decoded {
		return content.raw, nil
	}
	switch v := content.value.(type) {
	case string:
		return []byte(v), nil
	case map[string]any, []any:
		if c.EmptyArraysMode == "legacy" {
			return emptyArraysAsObjects(content.raw), nil
		}
		return content.raw, nil
	}
	return nil, errors.New("body must be a nil, string or table")
}

// emptyArraysAsObjects rewrites every empty JSON array ("[]", with any
// white space inside) to "{}", leaving strings and everything else as is.
func emptyArraysAsObjects(b []byte) []byte {
	var out []byte
	inStr := false
	last := 0
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if inStr {
			if ch == '\\' {
				i++
			} else if ch == '"' {
				inStr = false
			}
			continue
		}
		if ch == '"' {
			inStr = true
			continue
		}
		if ch != '[' {
			continue
		}
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
			j++
		}
		if j < len(b) && b[j] == ']' {
			out = append(out, b[last:i]...)
			out = append(out, '{', '}')
			last = j + 1
			i = j
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// proxyResponse is a validated API Gateway proxy-integration response.
type proxyResponse struct {
	status  int
	body    []byte
	headers *headerSet
}

// extractProxyResponse is Kong's extract_proxy_response. reason is the 502
// reason; err is a failure Kong raises as a Lua error (500).
func extractProxyResponse(content lambdaContent) (*proxyResponse, string, error) {
	var v any
	switch {
	case !content.decoded:
		d, err := decodeJSONNumbers(content.raw)
		if err != nil {
			return nil, cjsonDecodeReason(content.raw, err), nil
		}
		v = d
	default:
		v = content.value
		if s, ok := v.(string); ok {
			d, err := decodeJSONNumbers([]byte(s))
			if err != nil {
				return nil, cjsonDecodeReason([]byte(s), err), nil
			}
			v = d
		}
	}
	var m map[string]any
	switch x := v.(type) {
	case map[string]any:
		m = x
	case []any:
		m = map[string]any{} // a Lua array has no statusCode
	case string:
		// only from decoding a string; indexing a Lua string yields nil fields
		return nil, "statusCode validation failed", nil
	default:
		if content.decoded && !isJSONStringContent(content) {
			return nil, "proxy response must be json format", nil
		}
		return nil, "", fmt.Errorf("attempt to index a %s value (Lambda proxy response)", luaTypeName(x))
	}

	status, reason, err := proxyStatus(m["statusCode"])
	if reason != "" || err != nil {
		return nil, reason, err
	}
	hv, hasHeaders := m["headers"]
	if hasHeaders {
		switch hv.(type) {
		case map[string]any, []any:
		default:
			return nil, "headers must be a table", nil
		}
	}
	bv, hasBody := m["body"]
	if hasBody {
		if _, ok := bv.(string); !ok {
			return nil, "body must be a string", nil
		}
	}
	if b64, ok := m["isBase64Encoded"]; ok {
		if _, ok := b64.(bool); !ok {
			return nil, "isBase64Encoded must be a boolean", nil
		}
	}

	pr := &proxyResponse{status: status, headers: newHeaderSet()}
	body, _ := bv.(string)
	pr.body = []byte(body)
	if b, _ := m["isBase64Encoded"].(bool); b {
		dec, ok := decodeBase64(body)
		if !ok {
			return nil, "", errors.New("attempt to get length of a nil value (invalid base64 body in the Lambda proxy response)")
		}
		pr.body = dec
	}
	if hm, ok := hv.(map[string]any); ok {
		for _, k := range sortedKeys(hm) {
			vals, err := headerValuesOf(k, hm[k])
			if err != nil {
				return nil, "", err
			}
			pr.headers.set(k, vals)
		}
	} else if ha, ok := hv.([]any); ok && len(ha) > 0 {
		return nil, "", errors.New("invalid header name 1: got number, expected string")
	}
	switch mv := m["multiValueHeaders"].(type) {
	case nil:
	case map[string]any:
		for _, k := range sortedKeys(mv) {
			vals, err := headerValuesOf(k, mv[k])
			if err != nil {
				return nil, "", err
			}
			pr.headers.set(k, vals)
		}
	case []any:
		if len(mv) > 0 {
			return nil, "", errors.New("invalid header name 1: got number, expected string")
		}
	default:
		return nil, "", fmt.Errorf("bad argument #1 to 'pairs' (table expected, got %s)", luaTypeName(mv))
	}
	return pr, "", nil
}

// isJSONStringContent: content was decoded JSON whose value is a string
// (then Kong decodes that string again).
func isJSONStringContent(c lambdaContent) bool {
	_, ok := c.value.(string)
	return c.decoded && ok
}

// proxyStatus is validate_http_status_code: a number or numeric string in
// 100..599.
func proxyStatus(v any) (int, string, error) {
	const reason = "statusCode validation failed"
	var f float64
	switch x := v.(type) {
	case nil:
		return 0, reason, nil
	case bool:
		if !x {
			return 0, reason, nil
		}
		return 0, "", errors.New("attempt to compare number with boolean (Lambda proxy statusCode)")
	case json.Number:
		n, err := x.Float64()
		if err != nil {
			return 0, reason, nil
		}
		f = n
	case string:
		n, ok := luaToNumber(x)
		if !ok {
			return 0, reason, nil
		}
		f = n
	default:
		return 0, "", fmt.Errorf("attempt to compare %s with number (Lambda proxy statusCode)", luaTypeName(x))
	}
	if f < 100 || f > 599 {
		return 0, reason, nil
	}
	return int(math.Floor(f)), "", nil
}

// luaToNumber is Lua's tonumber on a string: decimal or 0x hex, surrounding
// white space allowed, no "inf" or "nan".
func luaToNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	if s == "" || strings.Contains(lower, "inf") || strings.Contains(lower, "nan") || strings.Contains(s, "_") {
		return 0, false
	}
	t, neg := strings.TrimPrefix(lower, "-"), strings.HasPrefix(lower, "-")
	if h, ok := strings.CutPrefix(t, "0x"); ok {
		n, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return 0, false
		}
		if neg {
			return -float64(n), true
		}
		return float64(n), true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// headerValuesOf converts a header value of the Lambda response as
// kong.response.exit does: a string ("" sent as " "), a number, a boolean,
// or a list of strings.
func headerValuesOf(name string, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		if x == "" {
			x = " "
		}
		return []string{x}, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return []string{x.String()}, nil
		}
		return []string{luaNumber(f)}, nil
	case bool:
		return []string{strconv.FormatBool(x)}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("invalid header value in array %q: got %s, expected string", name, luaTypeName(e))
			}
			if s == "" {
				s = " "
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		return nil, nil // a table without a sequence part: no header line
	}
	return nil, fmt.Errorf("invalid header value for %q: got %s, expected string, number, boolean or array of strings", name, luaTypeName(v))
}

func luaTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "userdata" // cjson.null
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	}
	return "table"
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// decodeBase64 is ngx.decode_base64: standard alphabet, padding optional.
func decodeBase64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// cjsonDecodeReason words a JSON syntax error the way lua-cjson does
// ("Expected value but found invalid token at character 1"): the position
// is the start of the offending token.
func cjsonDecodeReason(b []byte, err error) string {
	if strings.TrimSpace(string(b)) == "" {
		return "Expected value but found T_END at character 1"
	}
	pos := 1
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 {
		i := min(int(se.Offset)-1, len(b)-1)
		for i > 0 && isWordByte(b[i-1]) && isWordByte(b[i]) {
			i--
		}
		pos = i + 1
	}
	if errors.Is(err, errTrailingJSON) {
		return fmt.Sprintf("Expected the end but found invalid token at character %d", pos)
	}
	return fmt.Sprintf("Expected value but found invalid token at character %d", pos)
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '+'
}
