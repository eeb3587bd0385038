package balancer

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"luagate/declarative"
)

// stateKey identifies the state of one address: upstream name, target as
// configured, ip:port.
type stateKey struct{ upstream, target, addr string }

// Options configure a Registry.
type Options struct {
	Logger   *slog.Logger
	Resolver Resolver // nil: NewNetResolver()
	// MinTTL is the shortest re-resolution period (default MinTTL).
	MinTTL time.Duration
}

// Registry holds what outlives snapshots (Caddy's UsagePool idea): the
// balancers of the upstreams in use, reference counted and shared by every
// snapshot with the same upstream config, the health state of every
// address keyed by upstream, target and address, and the active health
// checkers. An upstream that stays the same across a reload keeps its
// balancer, its state and its goroutines; one that disappears stops them
// when the last snapshot using it closes.
type Registry struct {
	log    *slog.Logger
	res    Resolver
	minTTL time.Duration

	mu     sync.Mutex
	groups map[string]*group
	states map[stateKey]*state
}

// group is every live balancer of one upstream name, oldest first; the
// newest one is the current config and drives the active checker.
type group struct {
	bals    []*Balancer
	checker *checker
}

// NewRegistry returns an empty registry.
func NewRegistry(o Options) *Registry {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Resolver == nil {
		o.Resolver = NewNetResolver()
	}
	if o.MinTTL <= 0 {
		o.MinTTL = MinTTL
	}
	return &Registry{log: o.Logger, res: o.Resolver, minTTL: o.MinTTL, groups: map[string]*group{}, states: map[stateKey]*state{}}
}

// Acquire returns the balancer for an upstream and its targets, shared with
// any live balancer built from the same config; Release gives it back.
// Target host names are resolved before it returns (each bounded by
// LookupTimeout); failures leave the target out (DNS_ERROR) and are
// retried in the background.
func (r *Registry) Acquire(up *declarative.Upstream, targets []*declarative.Target) (*Balancer, error) {
	spec, err := NewSpec(up, targets)
	if err != nil {
		return nil, err
	}
	return r.AcquireSpec(spec)
}

// AcquireSpec is Acquire from a Spec.
func (r *Registry) AcquireSpec(spec *Spec) (*Balancer, error) {
	if spec.fp == "" {
		spec.fp = spec.fingerprint()
	}
	if b := r.reuse(spec); b != nil {
		return b, nil
	}
	b := &Balancer{spec: spec, reg: r, created: time.Now()}
	ts := make([]*target, len(spec.Targets))
	var names []*target
	for i := range spec.Targets {
		t := &target{spec: spec.Targets[i]}
		ts[i] = t
		if t.spec.Weight <= 0 {
			continue
		}
		if isIP(t.spec.Host) {
			t.addrs = []*Address{newAddress(spec.Name, &t.spec, t.spec.Host, t.spec.Port, t.spec.Weight, t.spec.Host)}
			t.dns = "IP"
		} else {
			t.isName = true
			names = append(names, t)
		}
	}
	if len(names) > 0 {
		names = r.reuseAnswers(spec, names)
		var wg sync.WaitGroup
		for _, t := range names {
			wg.Go(func() { r.resolve(context.Background(), spec, t) })
		}
		wg.Wait()
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.reuseLocked(spec); b != nil { // built concurrently
		return b, nil
	}
	for _, t := range ts {
		r.bindLocked(t.addrs)
	}
	b.ring.Store(b.buildRing(ts))
	b.refs = 1
	g := r.groups[spec.Name]
	if g == nil {
		g = &group{}
		r.groups[spec.Name] = g
	}
	g.bals = append(g.bals, b)
	if len(names) > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		b.cancel, b.done = cancel, make(chan struct{})
		go b.dnsLoop(ctx)
	}
	r.reconcileLocked(spec.Name, g)
	return b, nil
}

func (r *Registry) reuse(spec *Spec) *Balancer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reuseLocked(spec)
}

func (r *Registry) reuseLocked(spec *Spec) *Balancer {
	g := r.groups[spec.Name]
	if g == nil {
		return nil
	}
	for _, b := range g.bals {
		if b.spec.fp == spec.fp {
			b.refs++
			// It becomes the current one again (a reload back to it).
			if g.bals[len(g.bals)-1] != b {
				g.bals = append(removeBal(g.bals, b), b)
				r.reconcileLocked(spec.Name, g)
			}
			return b
		}
	}
	return nil
}

func removeBal(bs []*Balancer, b *Balancer) []*Balancer {
	out := bs[:0]
	for _, x := range bs {
		if x != b {
			out = append(out, x)
		}
	}
	return out
}

// bindLocked attaches the shared state to new addresses.
func (r *Registry) bindLocked(addrs []*Address) {
	for _, a := range addrs {
		st := r.states[a.key]
		if st == nil {
			st = &state{}
			r.states[a.key] = st
		}
		st.refs++
		a.st = st
	}
}

func (r *Registry) unbindLocked(addrs []*Address) {
	for _, a := range addrs {
		st := r.states[a.key]
		if st == nil {
			continue
		}
		st.refs--
		if st.refs <= 0 {
			delete(r.states, a.key)
		}
	}
}

// Release drops a reference; the last one stops the balancer's goroutines
// (waiting for them) and forgets state no other balancer holds.
func (b *Balancer) Release() {
	r := b.reg
	r.mu.Lock()
	b.refs--
	if b.refs > 0 {
		r.mu.Unlock()
		return
	}
	g := r.groups[b.spec.Name]
	var stop []*checker
	if g != nil {
		g.bals = removeBal(g.bals, b)
		if len(g.bals) == 0 {
			if g.checker != nil {
				stop = append(stop, g.checker)
			}
			delete(r.groups, b.spec.Name)
		} else {
			stop = r.reconcileLocked(b.spec.Name, g)
		}
	}
	if b.cancel != nil {
		b.cancel()
	}
	r.mu.Unlock()
	if b.done != nil {
		<-b.done
	}
	for _, c := range stop {
		c.stop()
	}
	r.mu.Lock()
	for _, t := range b.ring.Load().targets {
		r.unbindLocked(t.addrs)
	}
	r.mu.Unlock()
}

// reconcileLocked gives the group's newest balancer the active checker:
// the running one keeps going when its config is the same (it reads the
// addresses from the current balancer), otherwise it is replaced. Checkers
// to stop are returned when the caller must wait outside the lock.
func (r *Registry) reconcileLocked(name string, g *group) []*checker {
	cur := g.bals[len(g.bals)-1]
	h := &cur.spec.Health
	var stopped []*checker
	if g.checker != nil && (!h.ActiveEnabled() || g.checker.key != h.activeKey()) {
		g.checker.cancel()
		stopped = append(stopped, g.checker)
		g.checker = nil
	}
	if h.ActiveEnabled() {
		if g.checker == nil {
			g.checker = startChecker(r, cur)
		} else {
			g.checker.src.Store(cur)
		}
	}
	// Checkers cancelled here end by themselves; waiting is only needed
	// when the caller wants it (Release).
	return stopped
}

// Current is the newest live balancer of an upstream (the one the current
// config uses), nil when none.
func (r *Registry) Current(name string) *Balancer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[name]; g != nil {
		return g.bals[len(g.bals)-1]
	}
	return nil
}

// Names lists the upstreams with a live balancer.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.groups))
	for n := range r.groups {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// checkers counts running active checkers (tests).
func (r *Registry) checkers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.groups {
		if g.checker != nil {
			n++
		}
	}
	return n
}

func (r *Registry) logChange(up string, a *Address, by string) {
	health := "healthy"
	if !a.st.healthy() {
		health = "unhealthy"
	}
	r.log.Warn("[healthchecks] target health changed", "upstream", up, "target", a.Target, "address", a.Addr, "health", health, "by", by)
}

// ---- DNS

// reuseAnswers gives name targets the unexpired answers the upstream's
// current balancer already has (a reload that changes an upstream does not
// wait for DNS again); it returns the targets still to resolve.
func (r *Registry) reuseAnswers(spec *Spec, names []*target) []*target {
	prev := r.Current(spec.Name)
	if prev == nil || prev.spec.UseSRVName != spec.UseSRVName {
		return names
	}
	old := map[string]*target{}
	for _, t := range prev.ring.Load().targets {
		if t.isName && !t.dnsErr && len(t.addrs) > 0 && time.Now().Before(t.expiry) {
			old[t.spec.Target] = t
		}
	}
	var rest []*target
	for _, t := range names {
		pt := old[t.spec.Target]
		if pt == nil {
			rest = append(rest, t)
			continue
		}
		for _, a := range pt.addrs {
			w := t.spec.Weight
			if strings.HasPrefix(t.spec.Host, "_") {
				w = a.Weight // SRV weights
			}
			t.addrs = append(t.addrs, newAddress(spec.Name, &t.spec, a.IP, a.Port, w, a.Host))
		}
		t.dns, t.expiry = pt.dns, pt.expiry
	}
	return rest
}

// resolve fills t.addrs (with their states unbound) from DNS.
func (r *Registry) resolve(ctx context.Context, spec *Spec, t *target) {
	addrs, src, ttl, err := resolveTarget(ctx, r.res, spec.Name, &t.spec, spec.UseSRVName)
	if err != nil {
		t.dns, t.dnsErr = src, true
		t.expiry = time.Now().Add(RequeryFailed)
		r.log.Error("DNS resolution failed for an upstream target", "upstream", spec.Name, "target", t.spec.Target, "error", err)
		return
	}
	t.addrs, t.dns, t.dnsErr = addrs, src, false
	t.expiry = time.Now().Add(max(clampTTL(ttl), r.minTTL))
}

// dnsLoop re-resolves the balancer's names when their TTL expires and
// publishes a new ring when the answers change. Stale answers are kept
// when a re-resolution fails.
func (b *Balancer) dnsLoop(ctx context.Context) {
	defer close(b.done)
	r := b.reg
	for {
		cur := b.ring.Load()
		next := time.Time{}
		for _, t := range cur.targets {
			if t.isName && t.spec.Weight > 0 && (next.IsZero() || t.expiry.Before(next)) {
				next = t.expiry
			}
		}
		if next.IsZero() {
			return
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		now := time.Now()
		nts := make([]*target, len(cur.targets))
		changed := false
		for i, t := range cur.targets {
			nts[i] = t
			if !t.isName || t.spec.Weight <= 0 || t.expiry.After(now) {
				continue
			}
			nt := &target{spec: t.spec, isName: true}
			r.resolve(ctx, b.spec, nt)
			if ctx.Err() != nil {
				return
			}
			if nt.dnsErr && len(t.addrs) > 0 {
				// keep serving the last answer
				cp := *t
				cp.expiry = nt.expiry
				nts[i] = &cp
				continue
			}
			if sameAddrs(t.addrs, nt.addrs) {
				cp := *t
				cp.expiry, cp.dns = nt.expiry, nt.dns
				nts[i] = &cp
				continue
			}
			nts[i] = nt
			changed = true
		}
		r.mu.Lock()
		if changed {
			for i, t := range nts {
				if t != cur.targets[i] && t.addrs != nil && !sameSlice(t.addrs, cur.targets[i].addrs) {
					r.bindLocked(t.addrs)
				}
			}
		}
		nr := b.buildRing(nts)
		b.ring.Store(nr)
		if changed {
			for i, t := range cur.targets {
				if nts[i] != t && !sameSlice(nts[i].addrs, t.addrs) {
					r.unbindLocked(t.addrs)
				}
			}
		}
		r.mu.Unlock()
	}
}

func sameAddrs(a, b []*Address) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[string]int, len(a))
	for _, x := range a {
		m[x.Addr+"/"+x.Host+"/"+fmt.Sprint(x.Weight)]++
	}
	for _, x := range b {
		k := x.Addr + "/" + x.Host + "/" + fmt.Sprint(x.Weight)
		if m[k] == 0 {
			return false
		}
		m[k]--
	}
	return true
}

func sameSlice(a, b []*Address) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
