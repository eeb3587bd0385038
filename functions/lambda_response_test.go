package functions

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLambdaAnswerPlain(t *testing.T) {
	jsonHdr := func(extra ...string) map[string][]string {
		h := map[string][]string{
			"Content-Type": {"application/json"}, "Content-Length": {"99"}, "Connection": {"keep-alive"},
			"Keep-Alive": {"timeout=5"}, "X-Amzn-Requestid": {"rid"}, "X-Amz-Executed-Version": {"$LATEST"},
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = append(h[extra[i]], extra[i+1])
		}
		return h
	}
	legacy := defaultLambdaConfig()
	correct := defaultLambdaConfig()
	correct.EmptyArraysMode = "correct"
	unhandled := defaultLambdaConfig()
	unhandled.UnhandledStatus = 418
	cases := []struct {
		name    string
		c       LambdaConfig
		via     string
		status  int
		hdr     map[string][]string
		payload string
		want    string // "status body"
		headers string // the answer's header lines
		err     string
	}{
		{name: "JSON object passes through", c: legacy, status: 200, hdr: jsonHdr(), payload: `{"a": 1.50, "s": "x/y"}`,
			want:    `200 {"a": 1.50, "s": "x/y"}`,
			headers: `Content-Type: application/json|X-Amz-Executed-Version: $LATEST|X-Amzn-Requestid: rid`},
		{name: "legacy empty arrays become objects, strings untouched", c: legacy, status: 200, hdr: jsonHdr(),
			payload: `{"a":[ ],"b":[[]],"s":"[]","e":"\"[]"}`, want: `200 {"a":{},"b":[{}],"s":"[]","e":"\"[]"}`},
		{name: "correct mode keeps []", c: correct, status: 200, hdr: jsonHdr(), payload: `{"a":[]}`, want: `200 {"a":[]}`},
		{name: "legacy needs a JSON content type", c: legacy, status: 200,
			hdr: map[string][]string{"Content-Type": {"text/plain"}}, payload: `{"a":[]}`, want: `200 {"a":[]}`},
		{name: "JSON string is sent as its text", c: legacy, status: 200, hdr: jsonHdr(), payload: `"hello\nworld"`, want: "200 hello\nworld"},
		{name: "JSON number cannot be a body", c: legacy, status: 200, hdr: jsonHdr(), payload: `42`, err: "body must be a nil, string or table"},
		{name: "invalid JSON stays raw", c: legacy, status: 200, hdr: jsonHdr(), payload: `{oops`, want: `200 {oops`},
		{name: "Event", c: legacy, status: 202, hdr: map[string][]string{}, payload: ``, want: `202 `},
		{name: "unhandled_status on Unhandled", c: unhandled, status: 200,
			hdr: jsonHdr("X-Amz-Function-Error", "Unhandled"), payload: `{"errorMessage":"x"}`, want: `418 {"errorMessage":"x"}`},
		{name: "unhandled_status ignores Handled", c: unhandled, status: 200,
			hdr: jsonHdr("X-Amz-Function-Error", "Handled"), payload: `{}`, want: `200 {}`},
		{name: "Via appended", c: legacy, via: "2 luagate/1", status: 200,
			hdr:  map[string][]string{"Via": {"1.1 cf"}, "Transfer-Encoding": {"chunked"}, "Upgrade": {"h2c"}, "Proxy-Connection": {"x"}},
			want: `200 `, headers: `Via: 1.1 cf, 2 luagate/1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			ans, err := lambdaAnswer(&c, tc.via, tc.status, tc.hdr, []byte(tc.payload))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d %s", ans.status, ans.body); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			var lines []string
			for _, h := range ans.headers {
				lines = append(lines, h[0]+": "+h[1])
			}
			if tc.headers != "" && strings.Join(lines, "|") != tc.headers {
				t.Errorf("headers %q, want %q", strings.Join(lines, "|"), tc.headers)
			}
			for _, l := range lines {
				for _, hop := range hopHeaders {
					if strings.HasPrefix(l, hop+":") {
						t.Errorf("hop-by-hop header kept: %s", l)
					}
				}
			}
		})
	}
}

func TestLambdaAnswerProxy(t *testing.T) {
	c := defaultLambdaConfig()
	c.IsProxyIntegration = true
	svc := map[string][]string{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {"rid"}, "X-Amz-Executed-Version": {"$LATEST"}}
	bad := func(r string) string {
		return `502 {"message":"Bad Gateway","error":"could not JSON decode Lambda function response: ` + r + `"}`
	}
	cases := []struct {
		name, payload string
		ct            string // service Content-Type (default application/json)
		want          string // "status body", the 502 body compared as JSON
		headers       string
		err           string
	}{
		{name: "headers override the service's, case-insensitively", payload: `{"statusCode":200,"headers":{"content-type":"text/html","x-n":1.5,"x-b":true,"x-e":"","x-obj":{}},"body":"<p>"}`,
			want: "200 <p>", headers: `Content-Type: text/html|X-Amz-Executed-Version: $LATEST|X-Amzn-Requestid: rid|x-b: true|x-e:  |x-n: 1.5`},
		{name: "multiValueHeaders override headers", payload: `{"statusCode":200,"headers":{"Set-Cookie":"x"},"multiValueHeaders":{"set-cookie":["a=1","b=2"]}}`,
			want: "200 ", headers: `Content-Type: application/json|X-Amz-Executed-Version: $LATEST|X-Amzn-Requestid: rid|Set-Cookie: a=1|Set-Cookie: b=2`},
		{name: "string statusCode with spaces", payload: `{"statusCode":" 404 "}`, want: "404 "},
		{name: "hex statusCode", payload: `{"statusCode":"0xC8"}`, want: "200 "},
		{name: "fractional statusCode", payload: `{"statusCode":201.7}`, want: "201 "},
		{name: "base64 body", payload: `{"statusCode":200,"isBase64Encoded":true,"body":"aGk"}`, want: "200 hi"},
		{name: "isBase64Encoded false keeps the text", payload: `{"statusCode":200,"isBase64Encoded":false,"body":"aGk="}`, want: "200 aGk="},
		{name: "raw (non-JSON content type) body is decoded", ct: "text/plain", payload: `{"statusCode":203}`, want: "203 "},
		{name: "JSON string holding the response", payload: `"{\"statusCode\":200,\"body\":\"s\"}"`, want: "200 s"},
		{name: "JSON array", payload: `[1]`, want: bad("statusCode validation failed")},
		{name: "status 600", payload: `{"statusCode":600}`, want: bad("statusCode validation failed")},
		{name: "status 99", payload: `{"statusCode":"99"}`, want: bad("statusCode validation failed")},
		{name: "status false", payload: `{"statusCode":false}`, want: bad("statusCode validation failed")},
		{name: "status word", payload: `{"statusCode":"ok"}`, want: bad("statusCode validation failed")},
		{name: "null headers", payload: `{"statusCode":200,"headers":null}`, want: bad("headers must be a table")},
		{name: "null body", payload: `{"statusCode":200,"body":null}`, want: bad("body must be a string")},
		{name: "null isBase64Encoded", payload: `{"statusCode":200,"isBase64Encoded":null}`, want: bad("isBase64Encoded must be a boolean")},
		{name: "JSON null", payload: `null`, want: bad("proxy response must be json format")},
		{name: "JSON true", payload: `true`, want: bad("proxy response must be json format")},
		{name: "raw garbage", ct: "text/plain", payload: `Task timed out`, want: bad("Expected value but found invalid token at character 1")},
		{name: "empty raw body", ct: "text/plain", payload: ``, want: bad("Expected value but found T_END at character 1")},
		{name: "status true is a Lua error", payload: `{"statusCode":true}`, err: "attempt to compare"},
		{name: "invalid base64 is a Lua error", payload: `{"statusCode":200,"isBase64Encoded":true,"body":"!!"}`, err: "base64"},
		{name: "array header value with a number", payload: `{"statusCode":200,"headers":{"x":["a",1]}}`, err: "invalid header value in array"},
		{name: "string multiValueHeaders", payload: `{"statusCode":200,"multiValueHeaders":"x"}`, err: "table expected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string][]string{}
			for k, v := range svc {
				h[k] = v
			}
			if tc.ct != "" {
				h["Content-Type"] = []string{tc.ct}
			}
			ans, err := lambdaAnswer(&c, "", 200, h, []byte(tc.payload))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%d %s", ans.status, ans.body)
			if strings.HasPrefix(tc.want, "502 ") {
				if ans.status != 502 {
					t.Fatalf("answer %q, want %q", got, tc.want)
				}
				jsonEqual(t, ans.body, strings.TrimPrefix(tc.want, "502 "))
				if ans.logErr == "" {
					t.Error("502 reason not logged")
				}
				return
			}
			if got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			var lines []string
			for _, h := range ans.headers {
				lines = append(lines, h[0]+": "+h[1])
			}
			if tc.headers != "" && strings.Join(lines, "|") != tc.headers {
				t.Errorf("headers\n got %q\nwant %q", strings.Join(lines, "|"), tc.headers)
			}
		})
	}
}

func TestLambdaEndpoint(t *testing.T) {
	c := defaultLambdaConfig()
	if got := lambdaEndpoint(&c, "eu-west-1"); got != "https://lambda.eu-west-1.amazonaws.com:443" {
		t.Errorf("default endpoint %s", got)
	}
	c.Host, c.Port, c.DisableHTTPS = "::1", 4566, true
	if got := lambdaEndpoint(&c, "x"); got != "http://[::1]:4566" {
		t.Errorf("custom endpoint %s", got)
	}
}

func TestLambdaClientCache(t *testing.T) {
	cc := newLambdaClients(2)
	ctx := context.Background()
	a := defaultLambdaConfig()
	a.AWSKey, a.AWSSecret = "k", "s"
	b := a
	b.AWSKey = "rotated"
	c := a
	c.Timeout, c.timeoutMS = 5*time.Second, "5000"

	ca1, err := cc.get(ctx, &a, "us-east-1", false)
	if err != nil {
		t.Fatal(err)
	}
	ca2, _ := cc.get(ctx, &a, "us-east-1", false)
	if ca1 != ca2 {
		t.Error("same config, different clients")
	}
	if other, _ := cc.get(ctx, &a, "eu-west-1", false); other == ca1 {
		t.Error("region not in the cache key")
	}
	if cb, _ := cc.get(ctx, &b, "us-east-1", false); cb == ca1 {
		t.Error("a rotated key reused the old client")
	}
	if n := cc.len(); n != 2 {
		t.Errorf("cache holds %d clients, want the bound 2", n)
	}
	// a (us-east-1) was evicted by the two newer ones.
	if again, _ := cc.get(ctx, &a, "us-east-1", false); again == ca1 {
		t.Error("LRU did not evict the least recently used client")
	}
	if cc1, _ := cc.get(ctx, &c, "us-east-1", false); cc1 == ca1 {
		t.Error("timeout not in the cache key")
	}
}
