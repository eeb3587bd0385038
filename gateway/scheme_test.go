package gateway

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"luagate/declarative"
	"luagate/lualib"
)

// kong.service.request.set_scheme("https") switches the connection to TLS
// (the service says http, the origin speaks https).
func TestSetScheme(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "plain", 400)
			return
		}
		w.Write([]byte("tls " + r.Host))
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)

	b := newCfg()
	svc := b.service("tls-origin", "127.0.0.1", a.Port, "")
	r := b.route("s", svc, func(r *declarative.Route) { r.Paths = []string{"/s"} })
	runners := map[*declarative.Plugin]runner{
		plugin(b, "pre-function", func(p *declarative.Plugin) { p.Route = r }): &fakeRunner{phases: lualib.PhaseAccess, fn: func(_ lualib.Phase, ex lualib.Exchange) error {
			if v, _ := ex.RequestHeader("x-scheme"); v != "" {
				ex.SetUpstreamScheme(v)
			}
			return nil
		}},
	}
	var closed atomic.Int32
	tg := startGateway(t, b.cfg, testSettings(), fakeFactory(runners, &closed))
	if res := tg.do(t, "GET", "/s", map[string]string{"X-Scheme": "https"}, ""); res.status != 200 || res.body != "tls 127.0.0.1:"+itoa(a.Port) {
		t.Errorf("https: %d %q", res.status, res.body)
	}
	if res := tg.do(t, "GET", "/s", nil, ""); res.status != 502 && res.status != 400 {
		t.Errorf("plain http to a TLS origin: %d %q", res.status, res.body)
	}
}
