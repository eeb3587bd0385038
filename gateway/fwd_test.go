package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestForwardHeadersOnce: every forwarding header reaches the upstream as
// exactly one line, whether the client sent none, one or several lines of
// it (an untrusted client's values are replaced; its X-Forwarded-For lines
// are joined in front of the client address).
func TestForwardHeadersOnce(t *testing.T) {
	host, port, _ := startEcho(t)
	tg := startGateway(t, headersConfig(host, port), testSettings(), nil)
	names := []string{"X-Real-IP", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port",
		"X-Forwarded-Path", "X-Forwarded-Prefix", "Via", "X-Kong-Request-Id"}
	for _, tc := range []struct {
		name    string
		sent    [][2]string
		wantXFF string
		wantVia string
	}{
		{"none sent", nil, "127.0.0.1", "1.1 luagate/" + Version},
		{"one line each", [][2]string{
			{"X-Real-IP", "10.9.9.9"}, {"X-Forwarded-For", "10.0.0.1"}, {"X-Forwarded-Proto", "https"},
			{"X-Forwarded-Host", "evil.test"}, {"X-Forwarded-Port", "1"}, {"X-Forwarded-Path", "/evil"},
			{"X-Forwarded-Prefix", "/evil"}, {"Via", "1.0 a"}, {"X-Kong-Request-Id", "spoofed"},
		}, "10.0.0.1, 127.0.0.1", "1.0 a, 1.1 luagate/" + Version},
		{"several lines, lower case", [][2]string{
			{"x-forwarded-for", "10.0.0.1"}, {"x-forwarded-for", "10.0.0.2, 10.0.0.3"},
			{"x-forwarded-proto", "https"}, {"x-forwarded-proto", "wss"}, {"x-real-ip", "1.1.1.1"}, {"x-real-ip", "2.2.2.2"},
		}, "10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1", "1.1 luagate/" + Version},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+tg.proxy+"/strip/a", nil)
			for _, kv := range tc.sent {
				req.Header[kv[0]] = append(req.Header[kv[0]], kv[1]) // as written, repeated lines kept
			}
			res, err := tg.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var e echoed
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("status %d body %q", res.StatusCode, b)
			}
			for _, n := range names {
				if got := e.Headers[strings.ToLower(n)]; len(got) != 1 {
					t.Errorf("upstream %s = %q, want exactly one line", n, got)
				}
			}
			for _, tt := range []struct{ name, want string }{
				{"X-Real-IP", "127.0.0.1"},
				{"X-Forwarded-For", tc.wantXFF},
				{"X-Forwarded-Proto", "http"},
				{"X-Forwarded-Path", "/strip/a"},
				{"X-Forwarded-Prefix", "/strip"},
				{"Via", tc.wantVia},
				{"X-Kong-Request-Id", res.Header.Get("X-Kong-Request-Id")},
			} {
				if got := e.header(tt.name); got != tt.want {
					t.Errorf("upstream %s = %q, want %q", tt.name, got, tt.want)
				}
			}
		})
	}
}
