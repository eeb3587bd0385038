package gateway

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"luagate/declarative"
	"luagate/functions"
	"luagate/gateway/balancer"
	"luagate/gateway/metrics"
	"luagate/gateway/router"
)

// emptyHash is Kong's configuration_hash of an empty configuration.
const emptyHash = "00000000000000000000000000000000"

// Snapshot is everything compiled from one configuration: the router, the
// plugin chains of every route, the compiled Lua functions and the upstream
// targets of every service. It never changes after Build; requests Acquire
// the current one and Release it when done, and it closes after its last
// request once it has been replaced.
type Snapshot struct {
	cfg      *declarative.Config
	hash     string
	router   *router.Router
	routes   map[*declarative.Route]*routeState
	global   *scopedChains // plugins for requests that matched no route
	lua      luaSet
	rt       *Runtime
	services map[*declarative.Service]*upstreamSet

	upstreamsByName map[string]*declarative.Upstream
	targetsOf       map[*declarative.Upstream][]*declarative.Target
	namedMu         sync.Mutex
	named           map[namedKey]*upstreamSet // kong.service.set_upstream results
	// balancers by upstream name, from rt.balancers (balance.go)
	balancers map[string]*balancer.Balancer

	consumersByID   map[string]*declarative.Consumer
	consumersByName map[string]*declarative.Consumer

	certs *certStore // kong.yml certificates by SNI (tls.go); nil when none

	refs      atomic.Int64
	closeOnce sync.Once
	done      chan struct{}
}

// routeState is a route's compiled request path.
type routeState struct {
	route    *declarative.Route
	service  *declarative.Service
	upstream *upstreamSet // nil for a serviceless route
	chains   *scopedChains
	info     map[string]any // kong.router.get_route() source
	svcInfo  map[string]any
	metrics  *metrics.Route // the route's pre-resolved metric labels (observe.go)
}

// luaSet is the part of *functions.Set the snapshot uses (a seam for tests).
type luaSet interface {
	Handler(p *declarative.Plugin) runner
	Close()
}

// functionsSet adapts *functions.Set (whose Handler returns a concrete
// pointer that may be nil).
type functionsSet struct{ s *functions.Set }

func (f functionsSet) Handler(p *declarative.Plugin) runner {
	if h := f.s.Handler(p); h != nil {
		return h
	}
	return nil
}
func (f functionsSet) Close() { f.s.Close() }

// luaFactory builds the Lua set of a config.
type luaFactory func(cfg *declarative.Config, rt *Runtime) (luaSet, error)

func defaultLuaFactory(cfg *declarative.Config, rt *Runtime) (luaSet, error) {
	if len(cfg.Plugins) == 0 {
		return nil, nil
	}
	s, err := functions.NewSet(cfg, functionsSettings(rt.settings, rt))
	if err != nil {
		return nil, err
	}
	return functionsSet{s}, nil
}

// Build compiles cfg into a snapshot. It never touches the running one; on
// error everything it acquired is released.
func Build(cfg *declarative.Config, rt *Runtime) (*Snapshot, error) {
	return build(cfg, rt, defaultLuaFactory)
}

func build(cfg *declarative.Config, rt *Runtime, lf luaFactory) (_ *Snapshot, err error) {
	if cfg == nil {
		cfg = &declarative.Config{}
	}
	if rt == nil {
		return nil, errors.New("gateway: Build needs a Runtime")
	}
	s := &Snapshot{
		cfg:             cfg,
		hash:            cfg.Hash,
		rt:              rt,
		routes:          make(map[*declarative.Route]*routeState, len(cfg.Routes)),
		services:        make(map[*declarative.Service]*upstreamSet, len(cfg.Services)),
		consumersByID:   make(map[string]*declarative.Consumer, len(cfg.Consumers)),
		consumersByName: make(map[string]*declarative.Consumer, len(cfg.Consumers)),
		done:            make(chan struct{}),
	}
	if s.hash == "" {
		s.hash = emptyHash
	}
	s.refs.Store(1) // the Gateway's reference while current
	defer func() {
		if err != nil {
			s.close()
		}
	}()

	s.router, err = router.New(cfg.Routes)
	if err != nil {
		return nil, fmt.Errorf("building the router: %w", err)
	}
	if s.certs, err = buildCertStore(cfg); err != nil {
		return nil, err
	}
	if s.lua, err = lf(cfg, rt); err != nil {
		return nil, fmt.Errorf("compiling Lua functions: %w", err)
	}

	// Plugin instances.
	var insts []*instance
	consumerSet := make(map[*declarative.Consumer]bool)
	for _, p := range cfg.Plugins {
		if p == nil || !p.Enabled {
			continue
		}
		var r runner
		if s.lua != nil {
			r = s.lua.Handler(p)
		}
		isLua := r != nil
		if r == nil {
			// Go-native kinds (prometheus, aws-lambda): the schema's value
			// is the instance's runner.
			if nr, ok := p.Config.(runner); ok {
				r = nr
			}
		}
		if r == nil {
			continue
		}
		in := &instance{plugin: p, name: p.Name, id: p.ID, priority: rt.priority(p), phases: r.Phases(), lua: isLua, run: r}
		in.http, in.https = protocolFlags(p.Protocols)
		insts = append(insts, in)
		if p.Consumer != nil {
			consumerSet[p.Consumer] = true
		}
	}
	var consumers []*declarative.Consumer
	for _, c := range cfg.Consumers {
		s.consumersByID[c.ID] = c
		if c.Username != "" {
			s.consumersByName[c.Username] = c
		}
		if consumerSet[c] {
			consumers = append(consumers, c)
		}
	}

	// Upstreams.
	ups := make(map[string]*declarative.Upstream, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		ups[u.Name] = u
	}
	tgts := make(map[*declarative.Upstream][]*declarative.Target)
	for _, t := range cfg.Targets {
		if t.Upstream != nil {
			tgts[t.Upstream] = append(tgts[t.Upstream], t)
		}
	}
	if s.balancers, err = acquireBalancers(rt, cfg.Upstreams, tgts); err != nil {
		return nil, fmt.Errorf("building the upstream balancers: %w", err)
	}
	for _, svc := range cfg.Services {
		s.services[svc] = newUpstreamSet(svc, s.balancers, rt.pool)
	}
	s.upstreamsByName, s.targetsOf = ups, tgts

	s.global = buildScopedChains(insts, consumers, nil, nil)
	for _, r := range cfg.Routes {
		rs := &routeState{
			route:   r,
			service: r.Service,
			chains:  buildScopedChains(insts, consumers, r, r.Service),
			info:    routeInfo(r),
		}
		if r.Service != nil {
			rs.upstream = s.services[r.Service]
			rs.svcInfo = serviceInfo(r.Service)
		}
		rs.metrics = routeMetrics(rt.metrics, rs)
		s.routes[r] = rs
	}
	return s, nil
}

// priority is the plugin kind's priority from the registry.
func (rt *Runtime) priority(p *declarative.Plugin) int {
	if k, ok := rt.registry().Lookup(p.Name); ok {
		return k.Priority
	}
	return pluginPriority(p)
}

// pluginPriority is Kong's priority for kinds luagate knows by name (the
// fallback when the registry lacks the kind); unknown kinds sort at 0.
func pluginPriority(p *declarative.Plugin) int {
	switch p.Name {
	case "pre-function", "serverless-functions":
		return 1000000
	case "post-function":
		return -1000
	case "aws-lambda":
		return 750
	case "prometheus":
		return 13
	}
	return 0
}

func protocolFlags(ps []string) (http, https bool) {
	if len(ps) == 0 {
		return true, true
	}
	for _, p := range ps {
		switch p {
		case "http", "grpc":
			http = true
		case "https", "grpcs":
			https = true
		}
	}
	return http, https
}

// Hash is the configuration_hash of the snapshot's config.
func (s *Snapshot) Hash() string { return s.hash }

// Config is the configuration the snapshot was built from.
func (s *Snapshot) Config() *declarative.Config { return s.cfg }

// Router is the compiled router.
func (s *Snapshot) Router() *router.Router { return s.router }

// Empty reports whether the snapshot has no entity at all.
func (s *Snapshot) Empty() bool {
	c := s.cfg
	return len(c.Services) == 0 && len(c.Routes) == 0 && len(c.Plugins) == 0 && len(c.Consumers) == 0 &&
		len(c.Upstreams) == 0 && len(c.Targets) == 0 && len(c.Certificates) == 0
}

// acquire takes a reference for one request; false when the snapshot is
// already closing.
func (s *Snapshot) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the snapshot.
func (s *Snapshot) release() {
	if s.refs.Add(-1) == 0 {
		s.close()
	}
}

// Done is closed once the snapshot has released its resources.
func (s *Snapshot) Done() <-chan struct{} { return s.done }

// Close drops the owner's reference: the snapshot releases its Lua states
// and upstream clients after its last in-flight request.
func (s *Snapshot) Close() { s.release() }

func (s *Snapshot) close() {
	s.closeOnce.Do(func() {
		if s.lua != nil {
			s.lua.Close()
		}
		for _, u := range s.services {
			u.close(s.rt.pool)
		}
		s.namedMu.Lock()
		for _, u := range s.named {
			u.close(s.rt.pool)
		}
		s.named = nil
		s.namedMu.Unlock()
		releaseBalancers(s.balancers)
		close(s.done)
	})
}

type namedKey struct {
	svc  *declarative.Service
	name string
}

// namedUpstream is the balancer for kong.service.set_upstream(name) with the
// timeouts and retries of svc, built on first use and kept with the snapshot.
func (s *Snapshot) namedUpstream(svc *declarative.Service, name string) (*upstreamSet, error) {
	up, ok := s.upstreamsByName[name]
	if !ok {
		return nil, fmt.Errorf("could not find an Upstream named '%s'", name)
	}
	s.namedMu.Lock()
	defer s.namedMu.Unlock()
	k := namedKey{svc, name}
	if u, ok := s.named[k]; ok {
		return u, nil
	}
	if s.named == nil {
		s.named = make(map[namedKey]*upstreamSet)
	}
	v := *svc
	v.Host = up.Name
	u := newUpstreamSet(&v, s.balancers, s.rt.pool)
	s.named[k] = u
	return u, nil
}
