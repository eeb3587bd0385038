package functions

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

func payloadOf(t *testing.T, c LambdaConfig, ex lualib.Exchange) map[string]any {
	t.Helper()
	b, err := buildLambdaPayload(&c, ex, DefaultClientBodyBufferSize)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func defaultLambdaConfig() LambdaConfig {
	c, errs := parseLambdaConfig(map[string]any{"function_name": "f"})
	if errs != nil {
		panic(errs[0].Message)
	}
	return c
}

func asJSON(v any) string {
	b, _ := encodeJSON(v)
	return string(b)
}

func TestLambdaLegacyPayload(t *testing.T) {
	cases := []struct {
		name, uri, ct, body, want string
	}{
		{"query only", "/get?key1=a&key2=b&key1=c&bare&empty=", "", "", `{"bare":true,"empty":"","key1":["a","c"],"key2":"b"}`},
		{"escapes", "/get?a+b=%41%zz&%3D=1", "", "", `{"=":"1","a b":"A%zz"}`},
		{"no query no body", "/", "", "", `{}`},
		{"form over query", "/p?a=q&b=q", "application/x-www-form-urlencoded; charset=utf-8", "a=f", `{"a":"f","b":"q"}`},
		{"JSON array alone", "/p", "application/json", `[1,{"x":[]}]`, `[1,{"x":[]}]`},
		{"empty JSON array is {}", "/p", "application/json", `[]`, `{}`},
		{"JSON array with query", "/p?q=1", "application/json", `["a","b"]`, `{"1":"a","2":"b","q":"1"}`},
		{"JSON scalar dropped", "/p?q=1", "application/json", `"str"`, `{"q":"1"}`},
		{"unknown type dropped", "/p?q=1", "text/plain", `a=b`, `{"q":"1"}`},
		{"multipart", "/p?q=1", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv1\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv2\r\n--XX--\r\n",
			`{"f":["v1","v2"],"q":"1"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := rieRequest("POST", tc.uri, tc.body)
			if tc.ct != "" {
				ex.AddHeader("Content-Type", tc.ct)
			}
			c := defaultLambdaConfig()
			b, err := buildLambdaPayload(&c, ex, DefaultClientBodyBufferSize)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("payload %s, want %s", b, tc.want)
			}
		})
	}
}

func TestLambdaForwardPayload(t *testing.T) {
	all := defaultLambdaConfig()
	all.ForwardMethod, all.ForwardURI, all.ForwardHeaders, all.ForwardBody = true, true, true, true
	bodyOnly := defaultLambdaConfig()
	bodyOnly.ForwardBody = true
	noB64 := bodyOnly
	noB64.Base64EncodeBody = false
	cases := []struct {
		name    string
		c       LambdaConfig
		ct      string
		body    string
		want    string
		largeOK bool
	}{
		{"no body, no content type: base64 of nothing", bodyOnly, "", "", `{"request_body":"","request_body_args":{},"request_body_base64":true}`, false},
		{"no content type with base64 off: raw body", noB64, "", "abc", `{"request_body":"abc","request_body_args":{}}`, false},
		{"text/plain is raw", bodyOnly, "text/plain", "abc", `{"request_body":"abc","request_body_args":{}}`, false},
		{"text/plain with charset is base64 (exact match)", bodyOnly, "text/plain; charset=utf-8", "abc",
			`{"request_body":"YWJj","request_body_args":{},"request_body_base64":true}`, false},
		{"application/xml is raw", bodyOnly, "application/xml", "<a/>", `{"request_body":"<a/>","request_body_args":{}}`, false},
		{"invalid JSON: raw body, no args", bodyOnly, "application/json", "{x", `{"request_body":"{x"}`, false},
		{"form", bodyOnly, "application/x-www-form-urlencoded", "a=1", `{"request_body":"a=1","request_body_args":{"a":"1"}}`, false},
		{"large body skipped", bodyOnly, "text/plain", strings.Repeat("x", DefaultClientBodyBufferSize+1), `{"request_body_args":{}}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := rieRequest("POST", "/p", tc.body)
			if tc.ct != "" {
				ex.AddHeader("Content-Type", tc.ct)
			}
			c := tc.c
			b, err := buildLambdaPayload(&c, ex, DefaultClientBodyBufferSize)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("payload %s, want %s", b, tc.want)
			}
		})
	}

	ex := rieRequest("PUT", "/p/a%20b?x=1&x=2&y", "", "X-A", "1", "x-a", "2")
	m := payloadOf(t, all, ex)
	for k, want := range map[string]string{
		"request_method":   `"PUT"`,
		"request_uri":      `"/p/a%20b?x=1&x=2&y"`,
		"request_uri_args": `{"x":["1","2"],"y":true}`,
		"request_headers":  `{"host":"api.example.test","x-a":["1","2"]}`,
	} {
		if got := asJSON(m[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}

	// skip_large_bodies off reads the whole body; on, it logs Kong's error.
	big := strings.Repeat("y", DefaultClientBodyBufferSize+1)
	keep := bodyOnly
	keep.SkipLargeBodies = false
	ex = rieRequest("POST", "/p", big, "Content-Type", "text/plain")
	if got := payloadOf(t, keep, ex)["request_body"]; got != big {
		t.Errorf("skip_large_bodies=false lost the body")
	}
	ex = rieRequest("POST", "/p", big, "Content-Type", "text/plain")
	payloadOf(t, bodyOnly, ex)
	if logs := ex.LogLines(); len(logs) != 1 || logs[0].Msg != "request body was buffered to disk, too large" || logs[0].Level != lualib.LevelErr {
		t.Errorf("logs %+v", logs)
	}
}

// matchedExchange reports the matched route path like the gateway can.
type matchedExchange struct {
	*lualibtest.FakeExchange
	path string
}

func (m matchedExchange) MatchedRoutePath() (string, bool) { return m.path, m.path != "" }

func TestLambdaAPIGatewayV1Event(t *testing.T) {
	c := defaultLambdaConfig()
	c.AWSGateway = true

	ex := rieRequest("GET", "/plain/strip/more", "")
	ex.Version = 1.0
	ex.Start = time.Date(2024, 2, 3, 4, 5, 6, 789e6, time.UTC)
	ex.UpPath = "/more"
	ex.Route = map[string]any{"paths": []any{"/plain", "/plain/strip", "/other"}}
	m := payloadOf(t, c, ex)
	rc := m["requestContext"].(map[string]any)
	for k, want := range map[string]string{
		"resource":                        `"/plain/strip"`,
		"path":                            `"/more"`,
		"httpMethod":                      `"GET"`,
		"headers":                         `{"host":"api.example.test"}`,
		"multiValueHeaders":               `{"host":["api.example.test"]}`,
		"queryStringParameters":           `{}`,
		"multiValueQueryStringParameters": `{}`,
		"pathParameters":                  `{}`,
		"body":                            `""`,
		"isBase64Encoded":                 `true`,
		"version":                         `"1.0"`,
	} {
		if got := asJSON(m[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	for k, want := range map[string]string{
		"path":             `"/more"`,
		"resourcePath":     `"/more"`,
		"protocol":         `"HTTP/1"`,
		"httpMethod":       `"GET"`,
		"domainName":       `"api.example.test"`,
		"domainPrefix":     `"api"`,
		"identity":         `{"sourceIp":"127.0.0.1"}`,
		"requestTime":      `"03/Feb/2024:04:05:06 +0000"`,
		"requestTimeEpoch": `1706933106789`,
	} {
		if got := asJSON(rc[k]); got != want {
			t.Errorf("requestContext.%s = %s, want %s", k, got, want)
		}
	}

	// Host-only match: no resource. base64 off and no body: no body field.
	c.Base64EncodeBody = false
	ex = rieRequest("GET", "/x", "")
	ex.Route = map[string]any{"hosts": []any{"api.example.test"}}
	m = payloadOf(t, c, ex)
	if _, ok := m["resource"]; ok {
		t.Errorf("resource present for a host-only route: %v", m["resource"])
	}
	if _, ok := m["body"]; ok || m["isBase64Encoded"] != false {
		t.Errorf("body %v isBase64Encoded %v", m["body"], m["isBase64Encoded"])
	}

	// The gateway's matched path wins over the fallback.
	ex = rieRequest("GET", "/a/b", "")
	ex.Route = map[string]any{"paths": []any{"/a", "/a/b"}}
	m = payloadOf(t, c, matchedExchange{ex, "/a"})
	if m["resource"] != "/a" {
		t.Errorf("resource %v, want the matched /a", m["resource"])
	}
}

func TestLambdaPayloadHeaderLimit(t *testing.T) {
	ex := rieRequest("GET", "/", "")
	for i := 0; i < 150; i++ {
		ex.AddHeader("X-H", "v")
	}
	h := lambdaHeaders(ex)
	if n := len(h["x-h"].([]any)); n != lambdaMaxHeaders-1 { // host is the first of the 100
		t.Errorf("%d x-h values, want %d", n, lambdaMaxHeaders-1)
	}
}
