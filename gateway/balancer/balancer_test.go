package balancer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"luagate/declarative"
)

// fakeInput is a request for hashing.
type fakeInput struct {
	ip, consumer, path string
	headers, cookies   map[string]string
	query              map[string]string
	captures           map[string]string
}

func (f *fakeInput) ClientIP() string   { return f.ip }
func (f *fakeInput) ConsumerID() string { return f.consumer }
func (f *fakeInput) Path() string       { return f.path }
func (f *fakeInput) Header(n string) (string, bool) {
	v, ok := f.headers[n]
	return v, ok
}
func (f *fakeInput) Cookie(n string) (string, bool) {
	v, ok := f.cookies[n]
	return v, ok
}
func (f *fakeInput) QueryArg(n string) (string, bool) {
	v, ok := f.query[n]
	return v, ok
}
func (f *fakeInput) URICapture(n string) (string, bool) {
	v, ok := f.captures[n]
	return v, ok
}

// fakeResolver answers from a table; it can be changed while running.
type fakeResolver struct {
	mu    sync.Mutex
	hosts map[string][]string
	srv   map[string][]*net.SRV
	ttl   time.Duration
	calls int
}

func (f *fakeResolver) LookupIP(_ context.Context, h string) ([]string, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	ips, ok := f.hosts[h]
	if !ok {
		return nil, 0, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
	}
	return ips, f.ttl, nil
}

func (f *fakeResolver) LookupSRV(_ context.Context, n string) ([]*net.SRV, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.srv[n]
	if !ok {
		return nil, 0, &net.DNSError{Err: "no such host", Name: n, IsNotFound: true}
	}
	return s, f.ttl, nil
}

func (f *fakeResolver) set(h string, ips ...string) {
	f.mu.Lock()
	f.hosts[h] = ips
	f.mu.Unlock()
}

func newReg(t testing.TB, res Resolver) *Registry {
	if res == nil {
		res = &fakeResolver{hosts: map[string][]string{}}
	}
	return NewRegistry(Options{Logger: slog.New(slog.DiscardHandler), Resolver: res, MinTTL: 20 * time.Millisecond})
}

// upstream builds an upstream with Kong's defaults and its targets
// ("host:port" or "host:port=weight").
func upstream(name string, mod func(u *declarative.Upstream), targets ...string) (*declarative.Upstream, []*declarative.Target) {
	u := &declarative.Upstream{ID: "id-" + name, Name: name, Algorithm: RoundRobin, HashOn: "none", HashFallback: "none",
		HashOnCookiePath: "/", Slots: 10000}
	if mod != nil {
		mod(u)
	}
	var ts []*declarative.Target
	for i, s := range targets {
		w := 100
		if tgt, ws, ok := strings.Cut(s, "="); ok {
			s = tgt
			fmt.Sscan(ws, &w)
		}
		ts = append(ts, &declarative.Target{ID: fmt.Sprintf("t%d", i), Target: s, Weight: w, Upstream: u})
	}
	return u, ts
}

// hc decodes a healthchecks JSON object as the loader stores it.
func hc(t testing.TB, js string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func acquire(t testing.TB, r *Registry, u *declarative.Upstream, ts []*declarative.Target) *Balancer {
	t.Helper()
	b, err := r.Acquire(u, ts)
	if err != nil {
		t.Fatalf("Acquire(%s): %v", u.Name, err)
	}
	t.Cleanup(b.Release)
	return b
}

func pickN(t testing.TB, b *Balancer, n int, in func(i int) Input) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := range n {
		var h Handle
		var inp Input = &fakeInput{}
		if in != nil {
			inp = in(i)
		}
		a, err := b.Pick(inp, &h)
		if err != nil {
			t.Fatalf("Pick %d: %v", i, err)
		}
		got[a.Target]++
		h.Done()
	}
	return got
}

func TestRoundRobinWeights(t *testing.T) {
	for _, tt := range []struct {
		name    string
		targets []string
		n       int
		want    map[string]int
	}{
		{"equal", []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}, 300, map[string]int{"10.0.0.1:80": 100, "10.0.0.2:80": 100, "10.0.0.3:80": 100}},
		{"1:2:1", []string{"10.0.0.1:80=100", "10.0.0.2:80=200", "10.0.0.3:80=100"}, 400, map[string]int{"10.0.0.1:80": 100, "10.0.0.2:80": 200, "10.0.0.3:80": 100}},
		{"weight 0 disabled", []string{"10.0.0.1:80=10", "10.0.0.2:80=0", "10.0.0.3:80=30"}, 400, map[string]int{"10.0.0.1:80": 100, "10.0.0.3:80": 300}},
		{"odd weights", []string{"10.0.0.1:80=7", "10.0.0.2:80=3"}, 1000, map[string]int{"10.0.0.1:80": 700, "10.0.0.2:80": 300}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newReg(t, nil)
			u, ts := upstream("rr", nil, tt.targets...)
			b := acquire(t, r, u, ts)
			got := pickN(t, b, tt.n, nil)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("distribution over %d picks = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestRoundRobinSmooth(t *testing.T) {
	r := newReg(t, nil)
	u, ts := upstream("rr", nil, "10.0.0.1:80=3", "10.0.0.2:80=1", "10.0.0.3:80=1")
	b := acquire(t, r, u, ts)
	var seq []string
	for range 70 {
		var h Handle
		a, _ := b.Pick(nil, &h)
		seq = append(seq, a.Target)
		h.Done()
	}
	run, maxRun := 1, 1
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] {
			run++
		} else {
			run = 1
		}
		maxRun = max(maxRun, run)
	}
	// 3:1:1 in blocks would give runs of 3; the smooth order at most 2.
	if maxRun > 2 {
		t.Errorf("longest run of one target = %d in %v, want <= 2", maxRun, seq[:10])
	}
}

func TestRetryPicksAnotherAddress(t *testing.T) {
	for _, algo := range []string{RoundRobin, ConsistentHashing, LeastConnections, Latency} {
		t.Run(algo, func(t *testing.T) {
			r := newReg(t, nil)
			u, ts := upstream("retry", func(u *declarative.Upstream) {
				u.Algorithm = algo
				if algo == ConsistentHashing {
					u.HashOn = "ip"
				}
			}, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
			b := acquire(t, r, u, ts)
			for i := range 50 {
				var h Handle
				in := &fakeInput{ip: fmt.Sprintf("192.0.2.%d", i)}
				prev := ""
				for attempt := range 4 {
					a, err := b.Pick(in, &h)
					if err != nil {
						t.Fatal(err)
					}
					if a.Target == prev {
						t.Fatalf("attempt %d got %s again", attempt, a.Target)
					}
					prev = a.Target
					h.Failed(FailTCP)
				}
				h.Done()
			}
		})
	}
	t.Run("single target is retried", func(t *testing.T) {
		r := newReg(t, nil)
		u, ts := upstream("one", nil, "10.0.0.1:80")
		b := acquire(t, r, u, ts)
		var h Handle
		a1, _ := b.Pick(nil, &h)
		a2, err := b.Pick(nil, &h)
		if err != nil || a1 != a2 {
			t.Errorf("second pick = %v, %v; want the only address", a2, err)
		}
	})
}

func TestConsistentHashing(t *testing.T) {
	r := newReg(t, nil)
	mod := func(u *declarative.Upstream) {
		u.Algorithm, u.HashOn = ConsistentHashing, "header"
		u.HashOnHeader = "x-user"
	}
	u3, ts3 := upstream("ch", mod, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
	b3 := acquire(t, r, u3, ts3)
	u4, ts4 := upstream("ch", mod, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80")
	b4 := acquire(t, r, u4, ts4)

	const keys = 3000
	in := func(i int) Input { return &fakeInput{headers: map[string]string{"x-user": fmt.Sprint("user-", i)}} }
	pick := func(b *Balancer, i int) string {
		var h Handle
		a, err := b.Pick(in(i), &h)
		if err != nil {
			t.Fatal(err)
		}
		h.Done()
		return a.Target
	}
	dist := map[string]int{}
	moved := 0
	for i := range keys {
		a, again := pick(b3, i), pick(b3, i)
		if a != again {
			t.Fatalf("key %d went to %s then %s", i, a, again)
		}
		dist[a]++
		if b := pick(b4, i); b != a {
			moved++
			if b != "10.0.0.4:80" {
				t.Fatalf("key %d moved from %s to %s, not to the new target", i, a, b)
			}
		}
	}
	for tgt, n := range dist {
		if n < keys/3*6/10 || n > keys/3*14/10 {
			t.Errorf("target %s got %d of %d keys, want within 40%% of %d", tgt, n, keys, keys/3)
		}
	}
	if frac := float64(moved) / keys; frac < 0.12 || frac > 0.40 {
		t.Errorf("adding a 4th target moved %.2f of the keys, want about 1/4", frac)
	}
}

func TestHashSources(t *testing.T) {
	for _, tt := range []struct {
		name       string
		mod        func(u *declarative.Upstream)
		a, b       *fakeInput // a and b must hash the same
		c          *fakeInput // c gives a different value than a (checked on the value)
		wantCookie bool
	}{
		{"ip", func(u *declarative.Upstream) { u.HashOn = "ip" }, &fakeInput{ip: "1.1.1.1"}, &fakeInput{ip: "1.1.1.1", path: "/x"}, &fakeInput{ip: "2.2.2.2"}, false},
		{"consumer falls back to ip", func(u *declarative.Upstream) { u.HashOn, u.HashFallback = "consumer", "ip" },
			&fakeInput{ip: "1.1.1.1"}, &fakeInput{ip: "1.1.1.1"}, &fakeInput{consumer: "c1", ip: "1.1.1.1"}, false},
		{"query_arg", func(u *declarative.Upstream) { u.HashOn, u.HashOnQueryArg = "query_arg", "k" },
			&fakeInput{query: map[string]string{"k": "v"}}, &fakeInput{query: map[string]string{"k": "v"}, ip: "9.9.9.9"}, &fakeInput{query: map[string]string{"k": "w"}}, false},
		{"uri_capture", func(u *declarative.Upstream) { u.HashOn, u.HashOnURICapture = "uri_capture", "id" },
			&fakeInput{captures: map[string]string{"id": "7"}}, &fakeInput{captures: map[string]string{"id": "7"}}, &fakeInput{captures: map[string]string{"id": "8"}}, false},
		{"path", func(u *declarative.Upstream) { u.HashOn = "path" }, &fakeInput{path: "/a"}, &fakeInput{path: "/a", ip: "3.3.3.3"}, &fakeInput{path: "/b"}, false},
		{"cookie present", func(u *declarative.Upstream) { u.HashOn, u.HashOnCookie = "cookie", "sess" },
			&fakeInput{cookies: map[string]string{"sess": "s1"}}, &fakeInput{cookies: map[string]string{"sess": "s1"}}, &fakeInput{cookies: map[string]string{"sess": "s2"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, ts := upstream("h", func(u *declarative.Upstream) { u.Algorithm = ConsistentHashing; tt.mod(u) }, "10.0.0.1:80")
			s, err := NewSpec(u, ts)
			if err != nil {
				t.Fatal(err)
			}
			b := &Balancer{spec: s}
			var h Handle
			va, vb, vc := b.hashInput(tt.a, &h), b.hashInput(tt.b, &h), b.hashInput(tt.c, &h)
			if va != vb || va == vc {
				t.Errorf("hash values a=%q b=%q c=%q: want a == b != c", va, vb, vc)
			}
		})
	}
	t.Run("cookie created when absent", func(t *testing.T) {
		u, ts := upstream("h", func(u *declarative.Upstream) {
			u.Algorithm, u.HashOn, u.HashOnCookie, u.HashOnCookiePath = ConsistentHashing, "cookie", "sess", "/app"
		}, "10.0.0.1:80")
		s, _ := NewSpec(u, ts)
		b := &Balancer{spec: s}
		var h Handle
		v := b.hashInput(&fakeInput{}, &h)
		if len(v) != 36 || h.SetCookie != "sess="+v+"; Path=/app; Same-Site=Lax; HttpOnly" {
			t.Errorf("value %q, Set-Cookie %q", v, h.SetCookie)
		}
	})
}

func TestLeastConnections(t *testing.T) {
	r := newReg(t, nil)
	u, ts := upstream("lc", func(u *declarative.Upstream) { u.Algorithm = LeastConnections }, "10.0.0.1:80=100", "10.0.0.2:80=300")
	b := acquire(t, r, u, ts)
	// 40 requests held open: connections follow the weights 1:3.
	var hs []*Handle
	got := map[string]int{}
	for range 40 {
		h := &Handle{}
		a, err := b.Pick(nil, h)
		if err != nil {
			t.Fatal(err)
		}
		got[a.Target]++
		hs = append(hs, h)
	}
	if got["10.0.0.1:80"] != 10 || got["10.0.0.2:80"] != 30 {
		t.Errorf("held connections = %v, want 10 and 30", got)
	}
	// Ending the requests on .2 makes it the least loaded.
	for _, h := range hs {
		if h.Last().Target == "10.0.0.2:80" {
			h.Done()
		}
	}
	var h Handle
	if a, _ := b.Pick(nil, &h); a.Target != "10.0.0.2:80" {
		t.Errorf("after freeing .2, picked %s", a.Target)
	}
	h.Done()
	for _, h := range hs {
		h.Done()
	}
}

func TestLatencyPrefersFastTarget(t *testing.T) {
	r := newReg(t, nil)
	u, ts := upstream("lat", func(u *declarative.Upstream) { u.Algorithm = Latency }, "10.0.0.1:80", "10.0.0.2:80")
	b := acquire(t, r, u, ts)
	ring := b.ring.Load()
	now := time.Now()
	for _, a := range ring.addrs {
		d := time.Millisecond
		if a.Target == "10.0.0.1:80" {
			d = 200 * time.Millisecond
		}
		a.st.observe(d, now)
	}
	got := pickN(t, b, 100, nil)
	if got["10.0.0.2:80"] < 90 {
		t.Errorf("fast target got %d of 100 picks (%v), want >= 90", got["10.0.0.2:80"], got)
	}
}

func TestPassiveCircuitBreaker(t *testing.T) {
	r := newReg(t, nil)
	u, ts := upstream("pass", func(u *declarative.Upstream) {
		u.Healthchecks = hc(t, `{"passive":{"unhealthy":{"http_failures":2,"tcp_failures":1,"http_statuses":[500,503]}}}`)
	}, "10.0.0.1:80", "10.0.0.2:80")
	b := acquire(t, r, u, ts)
	addr := func(target string) *Address {
		for _, a := range b.ring.Load().addrs {
			if a.Target == target {
				return a
			}
		}
		t.Fatalf("no address for %s", target)
		return nil
	}
	report := func(target string, f func(h *Handle)) {
		h := &Handle{b: b, last: addr(target)}
		f(h)
	}
	report("10.0.0.1:80", func(h *Handle) { h.Responded(500) })
	if !addr("10.0.0.1:80").Healthy() {
		t.Fatal("one 500 opened the breaker; threshold is 2")
	}
	report("10.0.0.1:80", func(h *Handle) { h.Responded(200) }) // not counted (successes 0) but not a failure either
	report("10.0.0.1:80", func(h *Handle) { h.Responded(500) })
	if addr("10.0.0.1:80").Healthy() {
		t.Fatal("two 500s did not open the breaker")
	}
	got := pickN(t, b, 10, nil)
	if got["10.0.0.1:80"] != 0 {
		t.Errorf("unhealthy target still picked: %v", got)
	}
	report("10.0.0.2:80", func(h *Handle) { h.Failed(FailTCP) })
	var h Handle
	if _, err := b.Pick(nil, &h); err != ErrNoPeer {
		t.Errorf("all unhealthy: Pick error = %v, want %v", err, ErrNoPeer)
	}
	if err := b.SetTargetHealth("10.0.0.1:80", true); err != nil {
		t.Fatal(err)
	}
	if got := pickN(t, b, 4, nil); got["10.0.0.1:80"] != 4 {
		t.Errorf("after marking healthy: %v", got)
	}
	sts := b.TargetStatuses()
	if sts[0].Health != Healthy || sts[1].Health != Unhealthy {
		t.Errorf("statuses = %+v", sts)
	}
}

func TestThreshold(t *testing.T) {
	r := newReg(t, nil)
	u, ts := upstream("th", func(u *declarative.Upstream) {
		u.Healthchecks = hc(t, `{"threshold":50,"passive":{"unhealthy":{"tcp_failures":1}}}`)
	}, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80")
	b := acquire(t, r, u, ts)
	_ = b.SetTargetHealth("10.0.0.1:80", false)
	var h Handle
	if _, err := b.Pick(nil, &h); err != nil {
		t.Fatalf("75%% available, threshold 50: %v", err)
	}
	h.Done()
	_ = b.SetTargetHealth("10.0.0.2:80", false)
	if _, err := b.Pick(nil, &h); err != ErrNoPeer {
		t.Errorf("50%% available, threshold 50: err = %v, want %v", err, ErrNoPeer)
	}
}

func TestHealthchecksOffRefusesManualHealth(t *testing.T) {
	r := newReg(t, nil)
	u, ts := upstream("off", nil, "10.0.0.1:80")
	b := acquire(t, r, u, ts)
	if err := b.SetTargetHealth("10.0.0.1:80", false); err == nil || !strings.Contains(err.Error(), "no healthchecker") {
		t.Errorf("SetTargetHealth with checks off = %v", err)
	}
	if st := b.TargetStatuses(); st[0].Health != HealthchecksOff {
		t.Errorf("health = %s", st[0].Health)
	}
}

func TestReloadKeepsState(t *testing.T) {
	r := newReg(t, nil)
	checks := `{"passive":{"unhealthy":{"tcp_failures":1}}}`
	u1, ts1 := upstream("keep", func(u *declarative.Upstream) { u.Healthchecks = hc(t, checks) }, "10.0.0.1:80", "10.0.0.2:80")
	b1, _ := r.Acquire(u1, ts1)
	_ = b1.SetTargetHealth("10.0.0.1:80", false)

	// Same config (new snapshot, new entity pointers): same balancer.
	u2, ts2 := upstream("keep", func(u *declarative.Upstream) { u.Healthchecks = hc(t, checks) }, "10.0.0.1:80", "10.0.0.2:80")
	b2, _ := r.Acquire(u2, ts2)
	if b2 != b1 {
		t.Fatal("unchanged upstream got a new balancer")
	}
	b1.Release() // the old snapshot closes
	// A target added: new balancer, the unhealthy target stays unhealthy.
	u3, ts3 := upstream("keep", func(u *declarative.Upstream) { u.Healthchecks = hc(t, checks) }, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
	b3, _ := r.Acquire(u3, ts3)
	if b3 == b2 {
		t.Fatal("changed upstream kept the old balancer")
	}
	b2.Release()
	st := map[string]string{}
	for _, s := range b3.TargetStatuses() {
		st[s.Target] = s.Health
	}
	if st["10.0.0.1:80"] != Unhealthy || st["10.0.0.2:80"] != Healthy || st["10.0.0.3:80"] != Healthy {
		t.Errorf("after reloads: %v", st)
	}
	if r.Current("keep") != b3 {
		t.Error("Current is not the newest balancer")
	}
	b3.Release()
	r.mu.Lock()
	left := len(r.states) + len(r.groups)
	r.mu.Unlock()
	if left != 0 {
		t.Errorf("%d states/groups left after the last release", left)
	}
}

func TestDNSTargets(t *testing.T) {
	res := &fakeResolver{ttl: 10 * time.Millisecond, hosts: map[string][]string{
		"svc.test":  {"10.0.1.1", "10.0.1.2"},
		"node.test": {"10.0.2.1"},
	}, srv: map[string][]*net.SRV{
		"_http._tcp.svc.test": {{Target: "node.test.", Port: 9000, Weight: 10}, {Target: "10.0.2.2", Port: 9001, Weight: 0}},
	}}
	r := newReg(t, res)
	u, ts := upstream("dns", nil, "svc.test:8080", "_http._tcp.svc.test:80", "missing.test:80")
	b := acquire(t, r, u, ts)
	st := map[string]TargetStatus{}
	for _, s := range b.TargetStatuses() {
		st[s.Target] = s
	}
	if n := len(st["svc.test:8080"].Data["addresses"].([]any)); n != 2 {
		t.Errorf("svc.test has %d addresses, want 2", n)
	}
	if st["_http._tcp.svc.test:80"].Data["dns"] != "SRV" || len(st["_http._tcp.svc.test:80"].Data["addresses"].([]any)) != 2 {
		t.Errorf("SRV target: %+v", st["_http._tcp.svc.test:80"].Data)
	}
	if st["missing.test:80"].Health != DNSError {
		t.Errorf("unresolvable target health = %s", st["missing.test:80"].Health)
	}
	var h Handle
	a, _ := b.Pick(nil, &h)
	if a.Host != "svc.test" && a.Host != "_http._tcp.svc.test" {
		t.Errorf("Host for a name target = %q", a.Host)
	}
	h.Done()
	// The answer changes: after the TTL the ring follows.
	res.set("svc.test", "10.0.1.3")
	deadline := time.Now().Add(3 * time.Second)
	for {
		found := false
		for _, a := range b.ring.Load().addrs {
			if a.IP == "10.0.1.3" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("re-resolution did not pick up the new address")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, a := range b.ring.Load().addrs {
		if a.IP == "10.0.1.1" || a.IP == "10.0.1.2" {
			t.Errorf("stale address %s still in the ring", a.Addr)
		}
	}
}

func TestAnswerTTLs(t *testing.T) {
	// A response to "a.test A" with a CNAME (ttl 300) and an A record (ttl 42), names compressed.
	msg := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
		1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
		0xC0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 2, 0xC0, 12,
		0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 42, 0, 4, 10, 0, 0, 1}
	col := &ttlCollector{}
	answerTTLs(msg, col)
	if got := col.ttl(); got != 42*time.Second {
		t.Errorf("ttl = %v, want 42s", got)
	}
	col = &ttlCollector{}
	answerTTLs(msg[:30], col) // truncated: ignored
	if col.ttl() != 0 {
		t.Errorf("truncated message gave ttl %v", col.ttl())
	}
}

func TestHealthConfigParse(t *testing.T) {
	u, ts := upstream("cfg", func(u *declarative.Upstream) {
		u.Healthchecks = hc(t, `{"active":{"type":"https","timeout":0.5,"concurrency":3,"http_path":"/status","https_sni":"x.test",
			"headers":{"x-a":["1","2"]},"healthy":{"interval":2,"successes":3,"http_statuses":[200]},
			"unhealthy":{"interval":1.5,"http_failures":4,"tcp_failures":5,"timeouts":6,"http_statuses":[500]}},
			"passive":{"unhealthy":{"timeouts":7}},"threshold":25}`)
	}, "a.test:80")
	s, err := NewSpec(u, ts)
	if err != nil {
		t.Fatal(err)
	}
	a := s.Health.Active
	if a.Type != "https" || a.Timeout != 500*time.Millisecond || a.Concurrency != 3 || a.HTTPPath != "/status" ||
		a.HTTPSSNI != "x.test" || len(a.Headers) != 2 || a.Healthy.Interval != 2*time.Second || a.Healthy.Successes != 3 ||
		a.Unhealthy.Interval != 1500*time.Millisecond || a.Unhealthy.HTTPFailures != 4 || a.Unhealthy.TCPFailures != 5 ||
		a.Unhealthy.Timeouts != 6 || fmt.Sprint(a.Unhealthy.HTTPStatuses) != "[500]" {
		t.Errorf("active = %+v", a)
	}
	if s.Health.Passive.Unhealthy.Timeouts != 7 || s.Health.Threshold != 25 || !s.Health.Enabled() || !s.Health.ActiveEnabled() {
		t.Errorf("health = %+v", s.Health)
	}
	if fmt.Sprint(s.Health.Passive.Unhealthy.HTTPStatuses) != "[429 500 503]" {
		t.Errorf("passive unhealthy statuses default = %v", s.Health.Passive.Unhealthy.HTTPStatuses)
	}
}

func TestChangedUpstreamReusesDNSAnswers(t *testing.T) {
	res := &fakeResolver{ttl: time.Hour, hosts: map[string][]string{"svc.test": {"10.0.1.1", "10.0.1.2"}}}
	r := newReg(t, res)
	u1, ts1 := upstream("re", nil, "svc.test:80")
	b1 := acquire(t, r, u1, ts1)
	u2, ts2 := upstream("re", nil, "svc.test:80", "10.0.0.9:80")
	b2 := acquire(t, r, u2, ts2)
	if b1 == b2 {
		t.Fatal("changed upstream kept its balancer")
	}
	res.mu.Lock()
	calls := res.calls
	res.mu.Unlock()
	if calls != 1 {
		t.Errorf("%d lookups, want 1 (the reload reuses the unexpired answer)", calls)
	}
	if n := len(b2.ring.Load().addrs); n != 3 {
		t.Errorf("new balancer has %d addresses, want 3", n)
	}
}
