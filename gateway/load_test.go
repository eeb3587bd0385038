package gateway

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"luagate/declarative"
)

// TestTrafficDuringSwaps mixes plain, Lua, streamed, error and 404 requests
// from several clients while configurations are swapped underneath; every
// answer must be right for one of the configurations, and every replaced
// snapshot must close.
func TestTrafficDuringSwaps(t *testing.T) {
	host, port, _ := startEcho(t)
	s := testSettings()
	mk := func(version int) *declarative.Config {
		yml := `_format_version: "3.0"
services:
- name: echo
  url: http://` + host + ":" + strconv.Itoa(port) + `/v` + strconv.Itoa(version) + `
  routes:
  - name: plain
    paths: [/plain]
  - name: lua
    paths: [/lua]
    plugins:
    - name: pre-function
      config:
        access:
        - kong.service.request.set_header("X-Version", "` + strconv.Itoa(version) + `")
        header_filter:
        - kong.response.set_header("X-Seen", kong.request.get_header("x-n") or "none")
`
		return loadYAML(t, yml, s)
	}
	g, err := New(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tg := runGateway(t, g, mk(0))

	const clients, perClient = 6, 60
	var wg sync.WaitGroup
	errs := make(chan string, clients*perClient)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				n := strconv.Itoa(c*1000 + i)
				switch i % 4 {
				case 0:
					r := tg.do(t, "GET", "/plain/x", nil, "")
					if r.echo == nil || !strings.HasPrefix(r.echo.URI, "/v") || !strings.HasSuffix(r.echo.URI, "/x") {
						errs <- "plain: " + r.body
					}
				case 1:
					r := tg.do(t, "GET", "/lua", map[string]string{"X-N": n}, "")
					if r.echo == nil || r.echo.header("X-Version") == "" || r.header.Get("X-Seen") != n {
						errs <- "lua: " + r.body + " seen=" + r.header.Get("X-Seen")
					}
				case 2:
					r := tg.do(t, "GET", "/plain/__big/200000", nil, "")
					if r.status != 200 || len(r.body) != 200000 {
						errs <- "big: " + strconv.Itoa(len(r.body))
					}
				case 3:
					if r := tg.do(t, "GET", "/nothing", nil, ""); r.status != 404 {
						errs <- "404: " + strconv.Itoa(r.status)
					}
				}
			}
		}(c)
	}
	var snaps []*Snapshot
	for v := 1; v <= 8; v++ {
		snaps = append(snaps, g.Current())
		if err := g.Apply(mk(v)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i, s := range snaps {
		select {
		case <-s.Done():
		default:
			t.Errorf("snapshot %d still open after its requests", i)
		}
	}
}
