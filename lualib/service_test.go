package lualib_test

import (
	"testing"
	"time"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// TestServiceRequestEffects checks what kong.service.* hands to the Exchange.
func TestServiceRequestEffects(t *testing.T) {
	ex := lualibtest.New()
	ex.AddHeader("Authorization", "Bearer x")
	ex.AddHeader("Content-Type", "application/json")
	L := newTestState(t, ex, lualib.PhaseAccess)
	err := run(L, "t", `
		local sr = kong.service.request
		sr.set_header("X-Num", 1e6)
		sr.set_header("X-Empty", "")
		sr.set_header("X-Arr", { "a", "b" })
		sr.clear_header("Authorization")
		sr.set_path("/a b")
		sr.set_method("DELETE")
		sr.set_scheme("https")
		assert_eq(sr.set_body({ b = { 1, 2 }, a = "x" }), true, "content type from the request")
		kong.service.set_target("10.0.0.2", 9000)
		kong.service.set_timeouts(100, 200, 300.5)
		kong.service.set_retries(0)
	`)
	if err != nil {
		t.Fatal(errText(err))
	}
	checks := []struct{ name, got, want string }{
		{"X-Num", first(ex, "X-Num"), "1000000"},
		{"X-Empty", first(ex, "X-Empty"), " "},
		{"X-Arr", first(ex, "X-Arr"), "a"},
		{"Authorization", first(ex, "Authorization"), "<none>"},
		{"path", ex.UpPath, "/a%20b"},
		{"method", ex.UpMethod, "DELETE"},
		{"scheme", ex.UpScheme, "https"},
		{"body", string(ex.UpBody), `{"a":"x","b":[1,2]}`},
		{"target", ex.TargetHost, "10.0.0.2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if n := len(ex.RequestHeaderValues("X-Arr")); n != 0 {
		t.Errorf("client request changed")
	}
	var arr []string
	for _, h := range ex.UpHeaders {
		if h[0] == "X-Arr" {
			arr = append(arr, h[1])
		}
	}
	if len(arr) != 2 || arr[1] != "b" {
		t.Errorf("X-Arr lines = %v", arr)
	}
	if ex.TargetPort != 9000 || ex.Retries != 0 {
		t.Errorf("target port %d retries %d", ex.TargetPort, ex.Retries)
	}
	if want := [3]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300500 * time.Microsecond}; ex.Timeouts != want {
		t.Errorf("timeouts = %v, want %v", ex.Timeouts, want)
	}

	// argument errors, Kong's texts
	for _, tc := range []struct{ code, want string }{
		{`kong.service.request.set_path("a")`, "path must start with /"},
		{`kong.service.request.set_path(1)`, "path must be a string"},
		{`kong.service.request.set_scheme("ftp")`, "invalid scheme: ftp"},
		{`kong.service.request.set_method("get")`, "invalid method: get"},
		{`kong.service.request.set_query({ [1] = "a" })`, "arg keys must be strings"},
		{`kong.service.request.set_query("a")`, "args must be a table"},
		{`kong.service.request.set_body("a")`, "args must be a table"},
		{`kong.service.request.set_body({}, 1)`, "mime must be a string"},
		{`kong.service.request.clear_header(1)`, "header must be a string"},
		{`kong.service.request.set_raw_query(1)`, "query must be a string"},
		{`kong.service.request.set_header(1, "a")`, `invalid header name "1": got number, expected string`},
		{`kong.service.set_target(1, 1)`, "host must be a string"},
		{`kong.service.set_target("h", 1.5)`, "port must be an integer"},
		{`kong.service.set_retries(-1)`, "retries must be an integer between 0 and 32767: given -1"},
		{`kong.request.get_header(1)`, "header name must be a string"},
		{`kong.request.get_query_arg({})`, "query argument name must be a string"},
		{`kong.request.get_headers("1")`, "max_headers must be a number"},
		{`kong.request.get_query(1001)`, "max_args must be <= 1000"},
	} {
		if got := errText(run(L, "t", tc.code)); got != `[string "t"]:1: `+tc.want {
			t.Errorf("%s: got %q, want %q", tc.code, got, tc.want)
		}
	}
	// set_body without a content type anywhere
	ex2 := lualibtest.New()
	L2 := newTestState(t, ex2, lualib.PhaseAccess)
	if err := run(L2, "t", `local ok, err = kong.service.request.set_body({})
		assert_eq(ok, nil)
		assert_eq(err, "content type was neither explicitly given as an argument or received as a header")`); err != nil {
		t.Error(errText(err))
	}
}

func first(ex *lualibtest.FakeExchange, name string) string {
	if v, ok := ex.UpstreamHeader(name); ok {
		return v
	}
	return "<none>"
}
