package gateway

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"luagate/declarative"
	"luagate/gateway/admin"
	"luagate/gateway/balancer"
	"luagate/gateway/metrics"
)

// Upstream entities are load-balanced by gateway/balancer. The Runtime owns
// the balancer.Registry (state that outlives snapshots); each snapshot
// acquires the balancer of every upstream of its config at build and
// releases them when it closes. This file holds the glue: building,
// picking targets, reporting attempts, the Admin API and metrics hooks.

// acquireBalancers takes the balancer of every upstream of cfg.
func acquireBalancers(rt *Runtime, ups []*declarative.Upstream, tgts map[*declarative.Upstream][]*declarative.Target) (map[string]*balancer.Balancer, error) {
	out := make(map[string]*balancer.Balancer, len(ups))
	for _, u := range ups {
		b, err := rt.balancers.Acquire(u, tgts[u])
		if err != nil {
			releaseBalancers(out)
			return nil, err
		}
		out[u.Name] = b
	}
	return out, nil
}

func releaseBalancers(m map[string]*balancer.Balancer) {
	for _, b := range m {
		b.Release()
	}
}

// addrKey identifies the pooled client of a balanced address.
type addrKey struct{ addr, host string }

// targetFor is the proxy target of a balanced address (built on first use
// and kept with the upstream set, which releases its clients on close).
func (u *upstreamSet) targetFor(a *balancer.Address, pool *clientPool) *target {
	k := addrKey{a.Addr, a.Host}
	u.balMu.RLock()
	t := u.balTargets[k]
	u.balMu.RUnlock()
	if t != nil {
		return t
	}
	u.balMu.Lock()
	defer u.balMu.Unlock()
	if t = u.balTargets[k]; t != nil {
		return t
	}
	svc := u.svc
	ck := clientKey{
		addr:       a.Addr,
		tls:        u.scheme == "https",
		serverName: a.Host,
		verify:     svc.TLSVerify != nil && *svc.TLSVerify,
		connect:    ms(svc.ConnectTimeout),
		read:       ms(svc.ReadTimeout),
		write:      ms(svc.WriteTimeout),
	}
	hh := a.Host
	if h := u.bal.Spec().HostHeader; h != "" {
		hh = h
	}
	t = &target{key: ck, hc: pool.acquire(ck), host: a.Host, port: a.Port, hostHeader: hostHeaderFor(hh, a.Port, u.scheme)}
	if u.balTargets == nil {
		u.balTargets = make(map[addrKey]*target)
	}
	u.balTargets[k] = t
	u.keys = append(u.keys, ck)
	return t
}

// balancedTarget picks the target of the next attempt from the upstream's
// balancer (never the previous attempt's address while another is up).
func (r *request) balancedTarget() (*target, error) {
	u := r.upstream
	a, err := u.bal.Pick((*balancerInput)(r), &r.bh)
	if err != nil {
		return nil, err
	}
	return u.targetFor(a, r.rt.pool), nil
}

// attempted reports the outcome of one upstream attempt to the balancer's
// passive health checks (err nil: the upstream answered with resp's status).
func (r *request) attempted(err error) {
	if r.bh.Last() == nil {
		return
	}
	if err == nil {
		r.bh.Responded(r.upResp.StatusCode())
		return
	}
	kind := balancer.FailTCP
	if isTimeout(err) {
		kind = balancer.FailTimeout
	}
	r.bh.Failed(kind)
}

// balancerFailed answers a request whose balancer has no peer (spec 3.5).
func (r *request) balancerFailed(err error) {
	r.rt.logger.Error("balancer failed", "request_id", r.RequestID(), "upstream", r.upstream.svc.Host, "error", err)
	if errors.Is(err, balancer.ErrNoPeer) {
		r.kongError(503, balancer.ErrNoPeer.Error())
	} else {
		r.kongError(500, msgUnexpected)
	}
}

// addHashCookie sets the hash_on cookie the balancer created for this
// request (Kong's set_cookie).
func (r *request) addHashCookie() {
	if c := r.bh.SetCookie; c != "" {
		r.ctx.Response.Header.Add("Set-Cookie", c)
	}
}

// balancerDone ends the request's balancer bookkeeping (connection counts,
// latency).
func (r *request) balancerDone() { r.bh.Done() }

// upstreamByName reports whether the snapshot has an upstream entity named
// host (kong.service.set_target with an upstream name balances over it).
func (r *request) upstreamByName(host string) bool {
	_, ok := r.snap.balancers[host]
	return ok
}

// balancerInput is a request seen by consistent hashing.
type balancerInput request

func (in *balancerInput) ClientIP() string { return in.fwdIP }

func (in *balancerInput) ConsumerID() string {
	for _, m := range []map[string]any{in.consumer, in.credential} {
		if id, ok := m["id"].(string); ok && id != "" {
			return id
		}
	}
	if in.consumerEnt != nil {
		return in.consumerEnt.ID
	}
	return ""
}

func (in *balancerInput) Header(name string) (string, bool) {
	vals := in.ctx.Request.Header.PeekAll(canonicalDash(name))
	switch len(vals) {
	case 0:
		return "", false
	case 1:
		return string(vals[0]), true
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", "), true
}

func (in *balancerInput) Cookie(name string) (string, bool) {
	v := in.ctx.Request.Header.Cookie(name)
	return string(v), v != nil
}

func (in *balancerInput) Path() string { return in.path }

func (in *balancerInput) QueryArg(name string) (string, bool) {
	vals := in.ctx.QueryArgs().PeekMulti(name)
	if len(vals) == 0 {
		return "", false
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
		if len(v) == 0 && !strings.Contains(in.rawQuery, name+"=") {
			out[i] = "true" // a bare ?name is boolean true in ngx.req.get_uri_args
		}
	}
	slices.Sort(out)
	return strings.Join(out, ","), true
}

func (in *balancerInput) URICapture(name string) (string, bool) {
	if v, ok := in.match.Named[name]; ok {
		return v, true
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(in.match.Captures) {
		return in.match.Captures[i], true
	}
	return "", false
}

var _ balancer.Input = (*balancerInput)(nil)

// ---- metrics and Admin API

// targetHealth is kong_upstream_target_health's source.
func (rt *Runtime) targetHealth() []metrics.TargetHealth {
	hs := rt.balancers.Health()
	out := make([]metrics.TargetHealth, len(hs))
	for i, h := range hs {
		out[i] = metrics.TargetHealth{Upstream: h.Upstream, Target: h.Target, Address: h.Address, State: h.State}
	}
	return out
}

// Balancers is the registry of upstream balancers (health state).
func (rt *Runtime) Balancers() *balancer.Registry { return rt.balancers }

// TargetsHealth implements admin.BalancerBackend.
func (b adminBackend) TargetsHealth(upstream string) (map[string]admin.TargetHealth, bool) {
	bal := b.g.rt.balancers.Current(upstream)
	if bal == nil {
		return nil, false
	}
	out := map[string]admin.TargetHealth{}
	for _, ts := range bal.TargetStatuses() {
		out[ts.Target] = admin.TargetHealth{Health: ts.Health, Data: ts.Data}
	}
	return out, true
}

// BalancerHealth implements admin.BalancerBackend.
func (b adminBackend) BalancerHealth(upstream string) (map[string]any, bool) {
	bal := b.g.rt.balancers.Current(upstream)
	if bal == nil {
		return nil, false
	}
	return bal.BalancerHealth(), true
}

// SetTargetHealth implements admin.BalancerBackend.
func (b adminBackend) SetTargetHealth(upstream, target, address string, healthy bool) error {
	bal := b.g.rt.balancers.Current(upstream)
	if bal == nil {
		return errors.New("upstream '" + upstream + "' has no balancer")
	}
	return bal.SetAddressHealth(target, address, healthy)
}

// NodeID implements admin.BalancerBackend.
func (b adminBackend) NodeID() string { return b.g.rt.nodeID }

var _ admin.BalancerBackend = adminBackend{}
