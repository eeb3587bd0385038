package balancer

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"luagate/declarative"
)

// statusServer answers GET /status with the status it holds.
func statusServer(t *testing.T) (addr string, status *atomic.Int32, probes *atomic.Int32) {
	t.Helper()
	status, probes = &atomic.Int32{}, &atomic.Int32{}
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			probes.Add(1)
		}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), status, probes
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func healthOf(b *Balancer, target string) string {
	for _, s := range b.TargetStatuses() {
		if s.Target == target {
			return s.Health
		}
	}
	return ""
}

const activeChecks = `{"active":{"http_path":"/status","timeout":1,
	"healthy":{"interval":0.05,"successes":2},
	"unhealthy":{"interval":0.05,"http_failures":2,"tcp_failures":2,"timeouts":2}}}`

func TestActiveChecksTakeTargetOutAndBack(t *testing.T) {
	a1, st1, probes1 := statusServer(t)
	a2, _, _ := statusServer(t)
	r := newReg(t, nil)
	u, ts := upstream("act", func(u *declarative.Upstream) { u.Healthchecks = hc(t, activeChecks) }, a1, a2)
	b := acquire(t, r, u, ts)

	waitFor(t, "a first probe", func() bool { return probes1.Load() > 0 })
	if healthOf(b, a1) != Healthy {
		t.Fatalf("healthy server reported %s", healthOf(b, a1))
	}
	st1.Store(500)
	waitFor(t, "the failing target to leave", func() bool { return healthOf(b, a1) == Unhealthy })
	if got := pickN(t, b, 6, nil); got[a1] != 0 || got[a2] != 6 {
		t.Errorf("picks with %s unhealthy: %v", a1, got)
	}
	st1.Store(200)
	waitFor(t, "the target to come back", func() bool { return healthOf(b, a1) == Healthy })
	if got := pickN(t, b, 6, nil); got[a1] != 3 {
		t.Errorf("picks after recovery: %v", got)
	}
}

func TestActiveTCPFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	live, _, _ := statusServer(t)
	r := newReg(t, nil)
	u, ts := upstream("tcp", func(u *declarative.Upstream) { u.Healthchecks = hc(t, activeChecks) }, dead, live)
	b := acquire(t, r, u, ts)
	waitFor(t, "the refused target to leave", func() bool { return healthOf(b, dead) == Unhealthy })
	if healthOf(b, live) != Healthy {
		t.Errorf("live target %s", healthOf(b, live))
	}
}

func TestCheckerSurvivesUnchangedReload(t *testing.T) {
	a1, st1, _ := statusServer(t)
	r := newReg(t, nil)
	mk := func(extra ...string) (*declarative.Upstream, []*declarative.Target) {
		return upstream("keep", func(u *declarative.Upstream) { u.Healthchecks = hc(t, activeChecks) }, append([]string{a1}, extra...)...)
	}
	u, ts := mk()
	b1, _ := r.Acquire(u, ts)
	st1.Store(500)
	waitFor(t, "unhealthy", func() bool { return healthOf(b1, a1) == Unhealthy })
	c1 := r.groups["keep"].checker

	u, ts = mk()
	b2, _ := r.Acquire(u, ts) // unchanged: same balancer, same checker
	b1.Release()
	if b2 != b1 || r.groups["keep"].checker != c1 {
		t.Error("an unchanged reload replaced the balancer or its checker")
	}
	other, _, _ := statusServer(t)
	u, ts = mk(other) // a target added, same checks: the checker goroutine stays
	b3, _ := r.Acquire(u, ts)
	b2.Release()
	if r.groups["keep"].checker != c1 {
		t.Error("a reload with the same active config replaced the checker")
	}
	if healthOf(b3, a1) != Unhealthy {
		t.Errorf("health lost across reload: %s", healthOf(b3, a1))
	}
	st1.Store(200)
	waitFor(t, "recovery seen by the new balancer", func() bool { return healthOf(b3, a1) == Healthy })
	b3.Release()
	if n := r.checkers(); n != 0 {
		t.Errorf("%d checkers running after the upstream was removed", n)
	}
}

// 100 reloads that add an upstream with active checks and DNS names and
// remove the previous one leave no goroutine behind.
func TestNoGoroutineLeakAcrossReloads(t *testing.T) {
	a1, _, _ := statusServer(t)
	res := &fakeResolver{ttl: 20 * time.Millisecond, hosts: map[string][]string{"node.test": {"127.0.0.1"}}}
	r := newReg(t, res)
	_, port, _ := net.SplitHostPort(a1)
	runtime.GC()
	base := runtime.NumGoroutine()
	var prev []*Balancer
	for i := range 100 {
		var cur []*Balancer
		for j := range 3 {
			u, ts := upstream(fmt.Sprintf("up-%d-%d", i, j), func(u *declarative.Upstream) { u.Healthchecks = hc(t, activeChecks) },
				a1, "node.test:"+port)
			b, err := r.Acquire(u, ts)
			if err != nil {
				t.Fatal(err)
			}
			cur = append(cur, b)
		}
		// an upstream kept across every reload
		u, ts := upstream("stable", func(u *declarative.Upstream) { u.Healthchecks = hc(t, activeChecks) }, a1)
		b, _ := r.Acquire(u, ts)
		cur = append(cur, b)
		for _, b := range prev {
			b.Release()
		}
		prev = cur
	}
	if n := r.checkers(); n != 4 {
		t.Errorf("%d checkers for the last config's 4 upstreams", n)
	}
	for _, b := range prev {
		b.Release()
	}
	waitFor(t, "goroutines to end", func() bool {
		return runtime.NumGoroutine() <= base+2 // httptest keep-alive conns may come and go
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.groups) != 0 || len(r.states) != 0 {
		t.Errorf("left: %d groups, %d states", len(r.groups), len(r.states))
	}
}
