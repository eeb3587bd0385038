package functions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
	"luagate/testdata/lambda/front"
)

// The RIE tests run real functions (a Go one built with aws-lambda-go and
// the Node.js handler of issue 6) under the Lambda Runtime Interface
// Emulator, behind the test Front (testdata/lambda/front) in Adapt mode,
// and call them through the plugin's real lambda.Client.

var rieEnv struct {
	once    sync.Once
	err     error // a missing prerequisite
	dir     string
	front   *front.Front
	server  *httptest.Server
	stopper front.Stopper
}

func TestMain(m *testing.M) {
	code := m.Run()
	if rieEnv.server != nil {
		rieEnv.server.Close()
	}
	rieEnv.stopper.Stop()
	if rieEnv.dir != "" {
		os.RemoveAll(rieEnv.dir)
	}
	os.Exit(code)
}

// repoRoot is the module root (functions/..).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// needRIE returns the shared Front, building RIE and the Go handler and
// starting every function once per test binary. A missing prerequisite
// (Go toolchain, node, a failed build) skips the test, but fails it when
// the CI environment variable is set.
func needRIE(t *testing.T) *front.Front {
	t.Helper()
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("RIE tests skipped in -short mode")
	}
	rieEnv.once.Do(func() { rieEnv.err = startRIE() })
	if rieEnv.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("RIE prerequisites missing (CI is set, so this fails): %v", rieEnv.err)
		}
		t.Skipf("RIE prerequisites missing: %v", rieEnv.err)
	}
	return rieEnv.front
}

func startRIE() error {
	root := repoRoot()
	dir, err := os.MkdirTemp("", "luagate-lambda-")
	if err != nil {
		return err
	}
	rieEnv.dir = dir
	bins, err := front.Build(root, dir)
	if err != nil {
		return err
	}
	rie, gohandler, node := bins.RIE, bins.GoHandler, bins.Node
	var logw io.Writer
	if os.Getenv("LUAGATE_RIE_LOG") != "" {
		logw = os.Stderr
	}
	f := front.New(true)
	start := func(name string, timeout time.Duration, cmd ...string) error {
		in, err := front.Start(front.InstanceOptions{
			RIE: rie, Command: cmd, Dir: root, FunctionName: name, Timeout: timeout, Log: logw,
		})
		if err != nil {
			return err
		}
		rieEnv.stopper = append(rieEnv.stopper, in)
		f.Add(name, in)
		return nil
	}
	for _, name := range []string{"echo", "proxy", "fail", "panic"} {
		if err := start(name, 3*time.Second, gohandler); err != nil {
			return err
		}
	}
	if err := start("sleep", time.Second, gohandler); err != nil {
		return err
	}
	if err := start("node-seed", 3*time.Second, node, "testdata/lambda/node/bootstrap.js", "testdata/lambda/node/handler.handler"); err != nil {
		return err
	}
	rieEnv.front = f
	rieEnv.server = httptest.NewServer(f)
	return nil
}

// frontConfig is a config map pointing the plugin at the Front.
func frontConfig(fn string, extra map[string]any) map[string]any {
	addr := strings.TrimPrefix(rieEnv.server.URL, "http://")
	host, port, _ := strings.Cut(addr, ":")
	cfg := map[string]any{
		"function_name": fn,
		"aws_region":    "us-east-1",
		"aws_key":       "AKIDTEST",
		"aws_secret":    "secret",
		"host":          host,
		"port":          json.Number(port),
		"disable_https": true,
		"timeout":       json.Number("10000"),
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// invokeRIE validates cfg with a fresh kind and runs the plugin on ex.
func invokeRIE(t *testing.T, kind *lambdaSchema, cfg map[string]any, ex *lualibtest.FakeExchange) (*lualibtest.ExitRecord, error) {
	t.Helper()
	v, errs := kind.Validate(cfg, nil)
	if len(errs) > 0 {
		t.Fatalf("config rejected: %v", errs[0])
	}
	l := v.(*Lambda)
	err := l.Run(lualib.PhaseAccess, ex, nil)
	return ex.LastExit(), err
}

func testKind(s LambdaSettings) *lambdaSchema {
	sc := LambdaKinds(s)[0].Schema.(lambdaSchema)
	return &sc
}

func exitHeader(e *lualibtest.ExitRecord, name string) []string {
	var out []string
	for _, h := range e.Headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body\n got %s\nwant %s", gb, wb)
	}
}

// rieRequest builds a FakeExchange for method + uri with headers and body.
func rieRequest(method, uri string, body string, headers ...string) *lualibtest.FakeExchange {
	ex := lualibtest.New()
	ex.ReqMethod = method
	path, query, hasQ := strings.Cut(uri, "?")
	ex.ReqRawPath, ex.Query, ex.QueryPresent = path, query, hasQ
	ex.ReqHost = "api.example.test"
	ex.AddHeader("Host", "api.example.test")
	for i := 0; i+1 < len(headers); i += 2 {
		ex.AddHeader(headers[i], headers[i+1])
	}
	if body != "" {
		ex.Body = []byte(body)
	}
	return ex
}

func TestLambdaRIEPayloadShapes(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{ServerToken: "luagate/test", Via: true})
	cases := []struct {
		name  string
		extra map[string]any
		ex    *lualibtest.FakeExchange
		want  string // JSON the echo function returns (compared parsed)
		exact string // or the exact body
	}{
		{name: "legacy query", ex: rieRequest("GET", "/get?key1=a&key2=b", ""),
			want: `{"key1":"a","key2":"b"}`},
		{name: "legacy query and JSON body, body wins",
			ex:   rieRequest("POST", "/post?key1=q&only=q", `{"key1":"body","n":12345678901234567890}`, "Content-Type", "application/json"),
			want: `{"key1":"body","only":"q","n":12345678901234567890}`},
		{name: "legacy form body", ex: rieRequest("POST", "/post", "a=1&a=2&b", "Content-Type", "application/x-www-form-urlencoded"),
			want: `{"a":["1","2"],"b":true}`},
		{name: "legacy invalid JSON body dropped", ex: rieRequest("POST", "/post?k=v", `{oops`, "Content-Type", "application/json"),
			want: `{"k":"v"}`},
		{name: "legacy array body keeps empty containers (correct mode)", extra: map[string]any{"empty_arrays_mode": "correct"},
			ex: rieRequest("POST", "/post", `[{}, []]`, "Content-Type", "application/json"), exact: `[{},[]]`},
		{name: "legacy array body, legacy mode answers [] as {}",
			ex: rieRequest("POST", "/post", `[{}, []]`, "Content-Type", "application/json"), exact: `[{},{}]`},
		{name: "forward_request_* with a raw text body",
			extra: map[string]any{"forward_request_method": true, "forward_request_uri": true, "forward_request_headers": true, "forward_request_body": true},
			ex:    rieRequest("POST", "/post?x=1&x=2", "hello", "Content-Type", "text/plain", "X-Rep", "a", "X-Rep", "b"),
			want: `{"request_method":"POST","request_uri":"/post?x=1&x=2","request_uri_args":{"x":["1","2"]},
				"request_headers":{"host":"api.example.test","content-type":"text/plain","x-rep":["a","b"]},
				"request_body":"hello","request_body_args":{}}`},
		{name: "forward_request_body base64s an unknown type",
			extra: map[string]any{"forward_request_body": true},
			ex:    rieRequest("POST", "/post", "\x00\x01bin", "Content-Type", "application/octet-stream"),
			want:  `{"request_body":"AAFiaW4=","request_body_base64":true,"request_body_args":{}}`},
		{name: "forward_request_body sends parsed JSON args and the raw body",
			extra: map[string]any{"forward_request_body": true},
			ex:    rieRequest("POST", "/post", `{"a":[1,2]}`, "Content-Type", "application/json"),
			want:  `{"request_body":"{\"a\":[1,2]}","request_body_args":{"a":[1,2]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := invokeRIE(t, kind, frontConfig("echo", tc.extra), tc.ex)
			if err != nil {
				t.Fatal(err)
			}
			if e.Status != 200 {
				t.Fatalf("status %d, body %s", e.Status, e.Body)
			}
			if tc.exact != "" {
				if string(e.Body) != tc.exact {
					t.Errorf("body %s, want %s", e.Body, tc.exact)
				}
			} else {
				jsonEqual(t, e.Body, tc.want)
			}
			if got := exitHeader(e, "Via"); len(got) != 1 || got[0] != "2 luagate/test" {
				t.Errorf("Via = %q", got)
			}
			if got := exitHeader(e, "X-Amz-Executed-Version"); len(got) != 1 || got[0] != "$LATEST" {
				t.Errorf("X-Amz-Executed-Version = %q (Lambda headers are passed through)", got)
			}
			if got := exitHeader(e, "Content-Length"); got != nil {
				t.Errorf("Content-Length passed through: %q", got)
			}
			if e.Source != lualib.SourceExit {
				t.Errorf("source %v, want exit", e.Source)
			}
		})
	}
}

func TestLambdaRIEAPIGatewayEvents(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{})
	ex := rieRequest("POST", "/v1/users/42?a=1&a=2&flag", "hi", "User-Agent", "tester/1", "Cookie", "c1=x; c2=y")
	ex.ReqPath = "/v1/users/42"
	ex.UpPath = "/users/42"
	ex.Route = map[string]any{"paths": []any{`~/v1/users/(?<id>\d+)`}}
	ex.Named = map[string]string{"id": "42"}
	ex.Unnamed = []string{"/v1/users/42", "42"}

	e, err := invokeRIE(t, kind, frontConfig("echo", map[string]any{"awsgateway_compatible": true}), ex)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(e.Body, &ev); err != nil {
		t.Fatalf("%v: %s", err, e.Body)
	}
	check := func(field string, got, want any) {
		t.Helper()
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if !bytes.Equal(gb, wb) {
			t.Errorf("v1 %s = %s, want %s", field, gb, wb)
		}
	}
	rc, _ := ev["requestContext"].(map[string]any)
	check("version", ev["version"], "1.0")
	check("resource", ev["resource"], `/v1/users/(?<id>\d+)`)
	check("path", ev["path"], "/users/42")
	check("httpMethod", ev["httpMethod"], "POST")
	check("headers.user-agent", ev["headers"].(map[string]any)["user-agent"], "tester/1")
	check("queryStringParameters", ev["queryStringParameters"], map[string]any{"a": "1", "flag": true})
	check("multiValueQueryStringParameters", ev["multiValueQueryStringParameters"], map[string]any{"a": []any{"1", "2"}, "flag": []any{true}})
	check("pathParameters", ev["pathParameters"], map[string]any{"id": "42"})
	check("body", ev["body"], "aGk=")
	check("isBase64Encoded", ev["isBase64Encoded"], true)
	check("requestContext.domainPrefix", rc["domainPrefix"], "api")
	check("requestContext.protocol", rc["protocol"], "HTTP/1.1")
	check("requestContext.requestId", rc["requestId"], ex.ID)
	check("requestContext.identity", rc["identity"], map[string]any{"sourceIp": "127.0.0.1", "userAgent": "tester/1"})
	check("requestContext.requestTimeEpoch", rc["requestTimeEpoch"], 1700000000123)
	check("requestContext.requestTime", rc["requestTime"], "14/Nov/2023:22:13:20 +0000")

	ex2 := rieRequest("POST", "/v1/users/42?a=1&a=2", "hi", "User-Agent", "tester/1", "Cookie", "c1=x; c2=y", "X-Rep", "a", "X-Rep", "b")
	ex2.UpPath = "/users/42"
	e, err = invokeRIE(t, kind, frontConfig("echo", map[string]any{"awsgateway_compatible": true,
		"awsgateway_compatible_payload_version": "2.0", "base64_encode_body": false}), ex2)
	if err != nil {
		t.Fatal(err)
	}
	ev = nil
	if err := json.Unmarshal(e.Body, &ev); err != nil {
		t.Fatalf("%v: %s", err, e.Body)
	}
	rc, _ = ev["requestContext"].(map[string]any)
	check("v2 version", ev["version"], "2.0")
	check("v2 rawPath", ev["rawPath"], "/users/42")
	check("v2 rawQueryString", ev["rawQueryString"], "a=1&a=2")
	check("v2 queryStringParameters", ev["queryStringParameters"], map[string]any{"a": "1,2"})
	check("v2 cookies", ev["cookies"], []any{"c1=x", "c2=y"})
	check("v2 headers.x-rep", ev["headers"].(map[string]any)["x-rep"], "a,b")
	check("v2 body", ev["body"], "hi")
	check("v2 isBase64Encoded", ev["isBase64Encoded"], false)
	check("v2 requestContext.http", rc["http"], map[string]any{"method": "POST", "path": "/users/42",
		"protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tester/1"})
}

func TestLambdaRIEProxyIntegration(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{ServerToken: "luagate/test", Via: true})
	bad := func(reason string) string {
		b, _ := json.Marshal(map[string]string{"message": "Bad Gateway", "error": "could not JSON decode Lambda function response: " + reason})
		return string(b)
	}
	cases := []struct {
		shape   string
		status  int
		body    string
		headers map[string][]string
	}{
		{"ok", 201, "hello from go", map[string][]string{"Content-Type": {"text/plain"}, "X-Custom": {"yes"}, "X-Number": {"5"},
			"X-Amz-Executed-Version": {"$LATEST"}, "Via": {"2 luagate/test"}}},
		{"b64", 200, "binary\x00data", nil},
		{"multi", 200, "multi", map[string][]string{"X-Multi": {"a", "b"}, "X-Single": {"one"}}},
		{"nullmulti", 200, "ok", nil},
		{"strstatus", 202, "accepted", nil},
		{"nobody", 204, "", nil},
		{"jsonstring", 200, "from a string", nil},
		{"emptyarrays", 200, `{"items":[]}`, nil},
		{"badstatus", 502, bad("statusCode validation failed"), map[string][]string{"Content-Type": {"application/json; charset=utf-8"}}},
		{"badheaders", 502, bad("headers must be a table"), nil},
		{"badbody", 502, bad("body must be a string"), nil},
		{"badb64flag", 502, bad("isBase64Encoded must be a boolean"), nil},
		{"notjson", 502, bad("Expected value but found invalid token at character 1"), nil},
		{"number", 502, bad("proxy response must be json format"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.shape, func(t *testing.T) {
			ex := rieRequest("GET", "/p?shape="+tc.shape, "")
			e, err := invokeRIE(t, kind, frontConfig("proxy", map[string]any{"is_proxy_integration": true}), ex)
			if err != nil {
				t.Fatal(err)
			}
			if e.Status != tc.status || string(e.Body) != tc.body {
				t.Errorf("got %d %q, want %d %q", e.Status, e.Body, tc.status, tc.body)
			}
			for name, want := range tc.headers {
				if got := exitHeader(e, name); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if tc.status == 502 {
				logs := ex.LogLines()
				if len(logs) == 0 || logs[0].Level != lualib.LevelErr {
					t.Errorf("502 reason not logged at error level: %+v", logs)
				}
			}
		})
	}
}

func TestLambdaRIEUnhandledStatus(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{})
	cases := []struct {
		name      string
		fn        string
		uri       string
		unhandled any
		status    int
		fnError   bool
		bodyHas   string
	}{
		{"success ignores unhandled_status", "echo", "/?a=b", json.Number("412"), 200, false, `"a":"b"`},
		{"handled error without unhandled_status", "fail", "/", nil, 200, true, "function failed on purpose"},
		{"handled error with unhandled_status", "fail", "/", json.Number("412"), 412, true, "function failed on purpose"},
		{"runtime crash", "panic", "/", json.Number("599"), 599, true, "function panicked on purpose"},
		{"function timeout", "sleep", "/?sleep_ms=2500", json.Number("504"), 504, true, "Task timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]any{}
			if tc.unhandled != nil {
				extra["unhandled_status"] = tc.unhandled
			}
			e, err := invokeRIE(t, kind, frontConfig(tc.fn, extra), rieRequest("GET", tc.uri, ""))
			if err != nil {
				t.Fatal(err)
			}
			if e.Status != tc.status {
				t.Errorf("status %d, want %d (body %s)", e.Status, tc.status, e.Body)
			}
			if got := exitHeader(e, "X-Amz-Function-Error"); (len(got) == 1 && got[0] == "Unhandled") != tc.fnError {
				t.Errorf("X-Amz-Function-Error = %q", got)
			}
			if !strings.Contains(string(e.Body), tc.bodyHas) {
				t.Errorf("body %s lacks %q", e.Body, tc.bodyHas)
			}
		})
	}
	// unhandled_status accepts up to 999, but kong.response.exit does not.
	_, err := invokeRIE(t, kind, frontConfig("fail", map[string]any{"unhandled_status": json.Number("900")}), rieRequest("GET", "/", ""))
	if err == nil || !strings.Contains(err.Error(), "between 100 and 599") {
		t.Errorf("unhandled_status 900: err = %v", err)
	}
}

func TestLambdaRIEInvocationTypes(t *testing.T) {
	f := needRIE(t)
	kind := testKind(LambdaSettings{})
	f.Wait()
	before := f.Invokes("echo")
	e, err := invokeRIE(t, kind, frontConfig("echo", map[string]any{"invocation_type": "DryRun"}), rieRequest("GET", "/", ""))
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != 204 || len(e.Body) != 0 {
		t.Errorf("DryRun: %d %q, want 204 and no body", e.Status, e.Body)
	}
	if n := f.Invokes("echo"); n != before {
		t.Errorf("DryRun ran the function (%d invokes)", n-before)
	}
	e, err = invokeRIE(t, kind, frontConfig("echo", map[string]any{"invocation_type": "Event"}), rieRequest("GET", "/?x=1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != 202 || len(e.Body) != 0 {
		t.Errorf("Event: %d %q, want 202 and no body", e.Status, e.Body)
	}
	f.Wait()
	if n := f.Invokes("echo"); n != before+1 {
		t.Errorf("Event: %d invokes, want 1", n-before)
	}
	// Qualifier and ARNs reach the same function.
	for _, name := range []string{"echo:prod", "arn:aws:lambda:us-east-1:123456789012:function:echo", "123456789012:function:echo"} {
		e, err = invokeRIE(t, kind, frontConfig(name, map[string]any{"qualifier": "prod"}), rieRequest("GET", "/?n="+name, ""))
		if err != nil || e.Status != 200 {
			t.Errorf("%s: %v %v", name, err, e)
		}
	}
}

func TestLambdaRIEErrors(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{Getenv: func(string) string { return "" }})
	// Port 1 on loopback: nothing listens there (a just-closed test port
	// could be taken again by a parallel test run).
	const deadPort = "1"

	noRegion := frontConfig("echo", nil)
	delete(noRegion, "aws_region")
	cases := []struct {
		name    string
		cfg     map[string]any
		uri     string
		errHas  string
		maxTime time.Duration
	}{
		{"unknown function", frontConfig("no-such-function", nil), "/", "ResourceNotFoundException", 5 * time.Second},
		{"unreachable endpoint", frontConfig("echo", map[string]any{"port": json.Number(deadPort)}), "/", "dial tcp 127.0.0.1:1", 5 * time.Second},
		{"timeout", frontConfig("sleep", map[string]any{"timeout": json.Number("300")}), "/?sleep_ms=900", "timeout after 300ms", 2 * time.Second},
		{"no region", noRegion, "/", "no region specified", time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := rieRequest("GET", tc.uri, "")
			start := time.Now()
			e, err := invokeRIE(t, kind, tc.cfg, ex)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("no error; answer %d %s", e.Status, e.Body)
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q lacks %q", err, tc.errHas)
			}
			if e != nil {
				t.Errorf("an error must not answer (the gateway sends Kong's 500): %+v", e)
			}
			if took > tc.maxTime {
				t.Errorf("took %v, want < %v (one attempt, no retries)", took, tc.maxTime)
			}
		})
	}
	rieEnv.front.Wait()
}

// latencyExchange records SetUpstreamLatency.
type latencyExchange struct {
	*lualibtest.FakeExchange
	waited time.Duration
}

func (l *latencyExchange) SetUpstreamLatency(d time.Duration) { l.waited = d }

func TestLambdaRIEUpstreamLatency(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{})
	v, _ := kind.Validate(frontConfig("sleep", nil), nil)
	ex := &latencyExchange{FakeExchange: rieRequest("GET", "/?sleep_ms=150", "")}
	if err := v.(*Lambda).Run(lualib.PhaseAccess, ex, nil); err != nil {
		t.Fatal(err)
	}
	if ex.waited < 150*time.Millisecond || ex.waited > 3*time.Second {
		t.Errorf("upstream latency %v, want about 150ms", ex.waited)
	}
}

// The seed handler of issue 6 parses event.body as JSON. Kong base64s every
// non-empty body of the API Gateway event by default (base64_encode_body),
// so the handler needs base64_encode_body: false; with the default it
// throws, Lambda reports an unhandled error, and the proxy-integration
// check answers Kong's 502.
func TestLambdaRIENodeSeedHandler(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{ServerToken: "luagate/test", Via: true})
	ex := rieRequest("POST", "/orders", `{"item":"book","qty":2}`, "Content-Type", "application/json")
	e, err := invokeRIE(t, kind, frontConfig("node-seed", map[string]any{
		"awsgateway_compatible": true, "is_proxy_integration": true, "base64_encode_body": false}), ex)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != 200 {
		t.Fatalf("status %d: %s", e.Status, e.Body)
	}
	var got struct {
		Message   string         `json:"message"`
		Input     map[string]any `json:"input"`
		Timestamp string         `json:"timestamp"`
	}
	if err := json.Unmarshal(e.Body, &got); err != nil {
		t.Fatalf("%v: %s", err, e.Body)
	}
	if got.Message != "Processed by AWS Lambda" || fmt.Sprint(got.Input) != "map[item:book qty:2]" {
		t.Errorf("body %s", e.Body)
	}
	if ts, err := time.Parse(time.RFC3339Nano, got.Timestamp); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %q: %v", got.Timestamp, err)
	}
	if ct := exitHeader(e, "Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	// With Kong's default base64_encode_body the handler cannot parse the body.
	ex = rieRequest("POST", "/orders", `{"item":"book"}`, "Content-Type", "application/json")
	e, err = invokeRIE(t, kind, frontConfig("node-seed", map[string]any{
		"awsgateway_compatible": true, "is_proxy_integration": true}), ex)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":"could not JSON decode Lambda function response: statusCode validation failed","message":"Bad Gateway"}`
	if e.Status != 502 || string(e.Body) != want {
		t.Errorf("default base64_encode_body: %d %s, want 502 %s", e.Status, e.Body, want)
	}
}

// Concurrent requests share one cached client; the Front queues them on the
// single RIE instance (an overlapping invoke would crash RIE).
func TestLambdaRIEConcurrent(t *testing.T) {
	needRIE(t)
	kind := testKind(LambdaSettings{})
	v, errs := kind.Validate(frontConfig("echo", nil), nil)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	l := v.(*Lambda)
	const n = 30
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ex := rieRequest("GET", fmt.Sprintf("/?i=%d", i), "")
			if err := l.Run(lualib.PhaseAccess, ex, nil); err != nil {
				errc <- err
				return
			}
			if e := ex.LastExit(); e == nil || e.Status != 200 || string(e.Body) != fmt.Sprintf(`{"i":"%d"}`, i) {
				errc <- fmt.Errorf("request %d: %+v", i, e)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if got := kind.rt.clients.len(); got != 1 {
		t.Errorf("%d cached clients, want 1", got)
	}
}
