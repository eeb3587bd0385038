package gateway

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"luagate/testdata/lambda/front"
)

// TestLambdaEndToEnd runs the Node.js handler of issue 6 under the Lambda
// Runtime Interface Emulator behind the test Front, and a gateway whose
// kong.yml routes /orders to it with aws-lambda (awsgateway_compatible,
// is_proxy_integration): a JSON POST comes back as the function's
// {message, input, timestamp}. Missing prerequisites (node, the RIE build)
// skip the test, and fail it when CI is set.
func TestLambdaEndToEnd(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("needs the Lambda RIE and node")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	bins, err := front.Build(root, t.TempDir())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("prerequisites missing (CI is set): %v", err)
		}
		t.Skipf("prerequisites missing: %v", err)
	}
	in, err := front.StartNodeSeed(bins, root, "orders-fn", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	goIn, err := front.Start(front.InstanceOptions{RIE: bins.RIE, Command: []string{bins.GoHandler}, Dir: root, FunctionName: "proxy"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { goIn.Stop() })
	f := front.New(true)
	f.Add("orders-fn", in)
	f.Add("proxy", goIn)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")

	yml := fmt.Sprintf(`_format_version: "3.0"
routes:
- name: orders
  paths: [/orders]
  plugins:
  - name: aws-lambda
    config:
      function_name: orders-fn
      aws_region: us-east-1
      aws_key: AKIDLOCAL
      aws_secret: local-secret
      host: %s
      port: %s
      disable_https: true
      awsgateway_compatible: true
      is_proxy_integration: true
      base64_encode_body: false
- name: missing
  paths: [/missing]
  plugins:
  - name: aws-lambda
    config:
      function_name: no-such-fn
      aws_region: us-east-1
      aws_key: AKIDLOCAL
      aws_secret: local-secret
      host: %s
      port: %s
      disable_https: true
- name: multi
  paths: [/multi]
  plugins:
  - name: aws-lambda
    config:
      function_name: proxy
      aws_region: us-east-1
      aws_key: AKIDLOCAL
      aws_secret: local-secret
      host: %s
      port: %s
      disable_https: true
      is_proxy_integration: true
`, host, port, host, port, host, port)
	path := filepath.Join(t.TempDir(), "kong.yml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := testSettings()
	s.DeclarativeConfig = path
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.LoadFile(path); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	tg := startGatewayWith(t, g)

	r := tg.do(t, "POST", "/orders", map[string]string{"Content-Type": "application/json"}, `{"item":"book","qty":2}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got struct {
		Message   string         `json:"message"`
		Input     map[string]any `json:"input"`
		Timestamp string         `json:"timestamp"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if got.Message != "Processed by AWS Lambda" || fmt.Sprint(got.Input) != "map[item:book qty:2]" {
		t.Errorf("body %s", r.body)
	}
	if ts, err := time.Parse(time.RFC3339Nano, got.Timestamp); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %q: %v", got.Timestamp, err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if via := r.header.Get("Via"); via != "2 "+serverToken {
		t.Errorf("Via %q, want %q", via, "2 "+serverToken)
	}
	if r.header.Get("X-Amz-Executed-Version") != "$LATEST" {
		t.Errorf("Lambda headers not passed through: %v", r.header)
	}

	// multiValueHeaders reach the client as repeated header lines.
	r = tg.do(t, "GET", "/multi?shape=multi", nil, "")
	if r.status != 200 || r.body != "multi" || fmt.Sprint(r.header.Values("X-Multi")) != "[a b]" {
		t.Errorf("multiValueHeaders: %d %q X-Multi=%q", r.status, r.body, r.header.Values("X-Multi"))
	}

	// A Lambda API error (unknown function) is Kong's generic 500.
	r = tg.do(t, "GET", "/missing", nil, "")
	if r.status != 500 || !strings.Contains(r.body, "An unexpected error occurred") {
		t.Errorf("unknown function: %d %s", r.status, r.body)
	}

	// Each Invoke is measured; its wait counts as upstream latency.
	m := scrapeMetrics(t, tg.client, tg.status)
	if n := m.value(t, "luagate_lambda_invocation_duration_seconds", map[string]string{"function": "orders-fn", "result": "ok"}); n != 1 {
		t.Errorf("orders-fn invocations observed: %v, want 1", n)
	}
	if n := m.value(t, "luagate_lambda_invocation_errors_total", map[string]string{"function": "no-such-fn"}); n != 1 {
		t.Errorf("no-such-fn errors: %v, want 1", n)
	}
}
