package lualib_test

import (
	"fmt"
	"strings"
	"testing"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

func TestResponseExit(t *testing.T) {
	cases := []struct {
		name       string
		code       string
		accept     string
		wantStatus int
		wantBody   string
		wantHdrs   [][2]string
		wantSource lualib.Source
	}{
		{"table body is JSON", `kong.response.exit(403, { message = "Forbidden" })`, "",
			403, `{"message":"Forbidden"}`, [][2]string{{"Content-Type", "application/json; charset=utf-8"}}, lualib.SourceExit},
		{"string body has no content type", `kong.response.exit(200, "hi", { ["X-A"] = "1" })`, "",
			200, "hi", [][2]string{{"X-A", "1"}}, lualib.SourceExit},
		{"nil body", `kong.response.exit(204)`, "", 204, "", nil, lualib.SourceExit},
		{"given content type wins", `kong.response.exit(200, {}, { ["Content-Type"] = "application/vnd+json" })`, "",
			200, `{}`, [][2]string{{"Content-Type", "application/vnd+json"}}, lualib.SourceExit},
		{"header arrays and numbers", `kong.response.exit(200, nil, { ["X-N"] = 1, ["X-M"] = { "a", "b" }, ["Transfer-Encoding"] = "chunked" })`, "",
			200, "", [][2]string{{"X-M", "a"}, {"X-M", "b"}, {"X-N", "1"}}, lualib.SourceExit},
		{"error default json", `kong.response.error(404)`, "",
			404, "{\n  \"message\":\"Not found\",\n  \"request_id\":\"0123456789abcdef0123456789abcdef\"\n}",
			[][2]string{{"Content-Type", "application/json; charset=utf-8"}}, lualib.SourceExit},
		{"error plain by accept", `kong.response.error(401, "go away")`, "text/plain",
			401, "go away\nrequest_id: 0123456789abcdef0123456789abcdef\n",
			[][2]string{{"Content-Type", "text/plain; charset=utf-8"}}, lualib.SourceExit},
		{"error highest q wins", `kong.response.error(503)`, "text/plain;q=0.5, text/html;q=0.9",
			503, "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>The upstream server is currently unavailable.</p>\n    <p>request_id: 0123456789abcdef0123456789abcdef</p>\n  </body>\n</html>\n",
			[][2]string{{"Content-Type", "text/html; charset=utf-8"}}, lualib.SourceExit},
		{"error xml and unknown code", `kong.response.error(418)`, "application/xml",
			418, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>The upstream server responded with 418</message>\n  <requestid>0123456789abcdef0123456789abcdef</requestid>\n</error>\n",
			[][2]string{{"Content-Type", "application/xml; charset=utf-8"}}, lualib.SourceExit},
		{"error table message", `kong.response.error(400, { a = 1 })`, "",
			400, "{\n  \"message\":\"{\"a\":1}\",\n  \"request_id\":\"0123456789abcdef0123456789abcdef\"\n}",
			[][2]string{{"Content-Type", "application/json; charset=utf-8"}}, lualib.SourceExit},
		{"ngx.exit 404 uses the error handler (text/plain default)", `ngx.exit(404)`, "",
			404, "Not found\nrequest_id: 0123456789abcdef0123456789abcdef\n",
			[][2]string{{"Content-Type", "text/plain; charset=utf-8"}}, lualib.SourceError},
		{"ngx.exit 494 becomes 400", `ngx.exit(494)`, "application/json",
			400, "{\n  \"message\":\"Request header or cookie too large\",\n  \"request_id\":\"0123456789abcdef0123456789abcdef\"\n}",
			[][2]string{{"Content-Type", "application/json; charset=utf-8"}}, lualib.SourceError},
		{"ngx.exit 401 nginx page", `ngx.exit(ngx.HTTP_UNAUTHORIZED)`, "",
			401, "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>luagate</center>\r\n</body>\r\n</html>\r\n",
			[][2]string{{"Content-Type", "text/html"}}, lualib.SourceError},
		{"ngx.exit 200 empty", `ngx.exit(200)`, "", 200, "", nil, lualib.SourceError},
		{"ngx.say then exit keeps output and ngx.status", `ngx.status = 201; ngx.say("a", 1, true, nil, {"x", {"y"}}); ngx.print(ngx.null); ngx.exit(500)`, "",
			201, "a1truenilxy\nnull", nil, lualib.SourceError},
		{"exit cannot be swallowed by pcall", `local ok = pcall(kong.response.exit, 401, "no"); kong.response.exit(200, "swallowed")`, "",
			401, "no", nil, lualib.SourceExit},
		{"exit cannot be swallowed by coroutine.resume", `local co = coroutine.create(function() kong.response.exit(409, "c") end); local ok = coroutine.resume(co); kong.response.exit(200)`, "",
			409, "c", nil, lualib.SourceExit},
		{"exit unwinds through coroutine.wrap", `local f = coroutine.wrap(function() kong.response.exit(410, "w") end); pcall(f); kong.response.exit(200)`, "",
			410, "w", nil, lualib.SourceExit},
		{"exit cannot be swallowed by xpcall", `xpcall(function() ngx.exit(403) end, function(e) return "handled" end); kong.response.exit(200)`, "",
			403, "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>luagate</center>\r\n</body>\r\n</html>\r\n",
			[][2]string{{"Content-Type", "text/html"}}, lualib.SourceError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex := lualibtest.New()
			if tc.accept != "" {
				ex.AddHeader("Accept", tc.accept)
			}
			L := newTestState(t, ex, lualib.PhaseAccess)
			err := run(L, "t", tc.code+"\nerror('not reached')")
			if !lualib.IsExit(err) {
				t.Fatalf("want the exit sentinel, got %v", errText(err))
			}
			// ngx.say/print record the output as they go; everything else exits once
			if len(ex.Exits) != 1 && !strings.Contains(tc.code, "ngx.say") {
				t.Fatalf("want exactly one exit, got %d", len(ex.Exits))
			}
			e := ex.LastExit()
			if e.Status != tc.wantStatus || string(e.Body) != tc.wantBody || e.Source != tc.wantSource {
				t.Errorf("exit = %d %q source %d, want %d %q source %d", e.Status, e.Body, e.Source, tc.wantStatus, tc.wantBody, tc.wantSource)
			}
			if len(e.Headers) != len(tc.wantHdrs) {
				t.Fatalf("headers = %v, want %v", e.Headers, tc.wantHdrs)
			}
			for i := range e.Headers {
				if e.Headers[i] != tc.wantHdrs[i] {
					t.Errorf("headers = %v, want %v", e.Headers, tc.wantHdrs)
				}
			}
		})
	}
}

func TestResponseExitErrors(t *testing.T) {
	cases := []struct{ code, want string }{
		{`kong.response.exit("200")`, "code must be a number"},
		{`kong.response.exit(600)`, "code must be a number between 100 and 599"},
		{`kong.response.exit(200, true)`, "body must be a nil, string or table"},
		{`kong.response.exit(200, ngx.null)`, "body must be a nil, string or table"},
		{`kong.response.exit(200, 1)`, "body must be a nil, string or table"},
		{`kong.response.exit(200, nil, "x")`, "headers must be a nil or table"},
		{`kong.response.exit(200, nil, { [1] = "x" })`, `invalid header name "1": got number, expected string`},
		{`kong.response.exit(200, nil, { X = true, Y = {} , Z = { 1 } })`, `invalid header value in array "Z": got number, expected string`},
		{`kong.response.exit(200, { f = function() end })`, "body encoding failed while flushing response: "},
		{`kong.response.error(399)`, "code must be a number between 400 and 599"},
		{`kong.response.error(500, 1)`, "message must be a nil, a string or a table"},
		{`kong.response.error(500, nil, 1)`, "headers must be a nil or table"},
		{`ngx.exit("x")`, "bad argument #1 to 'exit' (number expected, got string)"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			ex := lualibtest.New()
			L := newTestState(t, ex, lualib.PhaseAccess)
			err := run(L, "t", tc.code)
			if lualib.IsExit(err) {
				t.Fatal("exited, want an argument error")
			}
			want := `[string "t"]:1: ` + tc.want
			if got := errText(err); !strings.HasPrefix(got, want) {
				t.Errorf("got %q, want prefix %q", got, want)
			}
			if len(ex.Exits) != 0 {
				t.Errorf("recorded an exit on error: %+v", ex.Exits)
			}
		})
	}
	t.Run("headers already sent", func(t *testing.T) {
		ex := lualibtest.New()
		ex.Sent = true
		L := newTestState(t, ex, lualib.PhaseHeaderFilter)
		if got := errText(run(L, "t", `kong.response.exit(200)`)); got != `[string "t"]:1: headers have already been sent` {
			t.Errorf("got %q", got)
		}
	})
}

// TestNgxSayWithoutExit: output recorded as the response even when the
// function goes on and returns normally.
func TestNgxSayWithoutExit(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	if err := run(L, "t", `ngx.say("one") ngx.print("two")`); err != nil {
		t.Fatal(errText(err))
	}
	e := ex.LastExit()
	if e == nil || e.Status != 200 || string(e.Body) != "one\ntwo" || e.Source != lualib.SourceError {
		t.Fatalf("exit = %+v", e)
	}
	if got := errText(run(L, "t", `ngx.say("x")`)); got != "" {
		t.Fatalf("second say: %s", got)
	}
	// ngx.say is refused outside the content-producing phases
	lualib.SetPhase(L, lualib.PhaseLog)
	if got := errText(run(L, "t", `ngx.say("x")`)); got != `[string "t"]:1: API disabled in the context of log_by_lua*` {
		t.Errorf("log phase say: %q", got)
	}
}

// TestIsExit checks the Go side of the sentinel.
func TestIsExit(t *testing.T) {
	if lualib.IsExit(nil) {
		t.Error("IsExit(nil)")
	}
	if !lualib.IsExit(lualib.ErrExit) {
		t.Error("IsExit(ErrExit)")
	}
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	if err := run(L, "t", `error("x")`); lualib.IsExit(err) {
		t.Error("a plain error is not an exit")
	}
	if err := run(L, "t", `error(setmetatable({}, {}))`); lualib.IsExit(err) {
		t.Error("a table error is not an exit")
	}
}

// TestSourceAfterExit: the source seen by later phases of the request.
func TestSourceAfterExit(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	if err := run(L, "t", `kong.response.exit(403, "no")`); !lualib.IsExit(err) {
		t.Fatalf("got %v", errText(err))
	}
	lualib.SetPhase(L, lualib.PhaseHeaderFilter)
	if err := run(L, "t", `assert_eq(kong.response.get_source(), "exit"); assert_eq(kong.response.get_status(), 403)`); err != nil {
		t.Fatal(errText(err))
	}
	ex2 := lualibtest.New()
	ex2.Src = lualib.SourceService
	L2 := newTestState(t, ex2, lualib.PhaseLog)
	if err := run(L2, "t", `assert_eq(kong.response.get_source(), "service")`); err != nil {
		t.Fatal(errText(err))
	}
}

func TestNumberFormatting(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	if err := run(L, "t", `ngx.print(1, " ", 0.1 + 0.2, " ", 1e15, " ", 123456789012345, " ", -2.5, " ", 99999999999999)`); err != nil {
		t.Fatal(errText(err))
	}
	if got, want := string(ex.LastExit().Body), "1 0.3 1e+15 1.2345678901234e+14 -2.5 99999999999999"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestExitScratchReuse: kong.response.exit and error hand Exit the state's
// reused scratch (encoded body, header lines); answers recorded by earlier
// requests of the same state must not change when later ones exit, also
// after an exit whose body is too large to keep as scratch and after an
// encoding error.
func TestExitScratchReuse(t *testing.T) {
	steps := []struct {
		code     string
		wantErr  string // "" when the step exits
		wantBody string
		wantHdrs [][2]string
	}{
		{`kong.response.exit(401, { message = "Unauthorized" }, { ["X-A"] = "1", ["X-B"] = { "2", "3" } })`, "",
			`{"message":"Unauthorized"}`, [][2]string{{"X-A", "1"}, {"X-B", "2"}, {"X-B", "3"}, {"Content-Type", "application/json; charset=utf-8"}}},
		{`kong.response.exit(200, { a = { 1, 2 } })`, "", `{"a":[1,2]}`, [][2]string{{"Content-Type", "application/json; charset=utf-8"}}},
		{`kong.response.exit(200, { big = string.rep("x", 40000) })`, "",
			`{"big":"` + strings.Repeat("x", 40000) + `"}`, [][2]string{{"Content-Type", "application/json; charset=utf-8"}}},
		{`kong.response.exit(200, { f = print })`, "body encoding failed while flushing response: Cannot serialise function: type not supported", "", nil},
		{`kong.response.error(400, { b = true }, { ["X-C"] = "c" })`, "",
			"{\n  \"message\":\"{\"b\":true}\",\n  \"request_id\":\"0123456789abcdef0123456789abcdef\"\n}", [][2]string{{"X-C", "c"}, {"Content-Type", "application/json; charset=utf-8"}}},
		{`kong.response.exit(202, "")`, "", "", nil},
		{`kong.response.exit(203, "plain")`, "", "plain", nil},
		{`kong.response.exit(200, { z = "last" })`, "", `{"z":"last"}`, [][2]string{{"Content-Type", "application/json; charset=utf-8"}}},
	}
	L := newTestState(t, nil, lualib.PhaseAccess)
	var exs []*lualibtest.FakeExchange
	var want []int // index of the step of each exchange
	for i, s := range steps {
		ex := lualibtest.New()
		lualib.Bind(L, ex)
		lualib.SetPhase(L, lualib.PhaseAccess)
		err := run(L, "t", s.code+"\nerror('not reached')")
		lualib.Unbind(L)
		if s.wantErr != "" {
			if lualib.IsExit(err) || !strings.Contains(errText(err), s.wantErr) {
				t.Fatalf("step %d: got %v, want error %q", i, errText(err), s.wantErr)
			}
			continue
		}
		if !lualib.IsExit(err) {
			t.Fatalf("step %d: want the exit sentinel, got %v", i, errText(err))
		}
		exs, want = append(exs, ex), append(want, i)
	}
	for j, ex := range exs {
		s := steps[want[j]]
		e := ex.LastExit()
		if string(e.Body) != s.wantBody || string(ex.RespBody) != s.wantBody {
			t.Errorf("step %d: body %.60q, response body %.60q; want %.60q", want[j], e.Body, ex.RespBody, s.wantBody)
		}
		if fmt.Sprint(e.Headers) != fmt.Sprint(s.wantHdrs) {
			t.Errorf("step %d: headers %v, want %v", want[j], e.Headers, s.wantHdrs)
		}
	}
	if ex := exs[len(exs)-3]; ex.RespBody == nil {
		t.Errorf(`exit(202, "") must record an empty, non-nil body (the gateway sends it)`)
	}
}
