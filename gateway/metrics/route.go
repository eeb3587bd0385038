package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Route holds one route's label values and caches the metric children it
// has used, so that the per-request work is a short lock-free scan and the
// atomic adds of the children: no label map, no label-values slice, no
// allocation once a (code, source, consumer) has been seen. The gateway
// builds one per route at snapshot build (Metrics.Route); children live in
// the Runtime's registry, so a new snapshot's handle for the same names
// finds the same series.
type Route struct {
	m              *Metrics
	service, route string
	requests       cache[reqKey, prometheus.Counter]
	latency        atomic.Pointer[latencySet]
	upstream       atomic.Pointer[prometheus.Observer] // created on the first upstream latency
	bandwidth      cache[bwKey, prometheus.Counter]
	lua            cache[luaKey, luaSet]
	latencyMu      sync.Mutex
}

type reqKey struct {
	code     int
	service  bool // source
	consumer string
}

type bwKey struct {
	egress   bool
	consumer string
}

type luaKey struct {
	plugin string
	phase  string
}

type latencySet struct{ kong, request prometheus.Observer }

type luaSet struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

// Route returns the handle of a route: service is the service name, else
// its host, else ""; route is the route name, else its id (spec 6).
func (m *Metrics) Route(service, route string) *Route { return m.newRoute(service, route) }

func (m *Metrics) newRoute(service, route string) *Route {
	return &Route{m: m, service: service, route: route}
}

// Labels returns the route's service and route label values.
func (r *Route) Labels() (service, route string) { return r.service, r.route }

// Sample is what the log phase knows about a finished request.
type Sample struct {
	Status      int
	FromService bool   // the response came from the upstream (source="service"), else "kong"
	Consumer    string // the authenticated consumer's username, "" for none
	// Latencies in milliseconds: Kong's own (proxy latency, or response
	// latency for exits), the upstream's (negative: none) and the total.
	KongLatency, UpstreamLatency, RequestLatency float64
	Ingress, Egress                              int64 // bytes received / sent
}

// Flags are a prometheus plugin instance's metric switches.
type Flags struct {
	PerConsumer, StatusCode, Latency, Bandwidth bool
}

// Observe records one request as Kong's prometheus plugin does in its log
// handler.
func (r *Route) Observe(f Flags, s *Sample) {
	consumer := ""
	if f.PerConsumer {
		consumer = s.Consumer
	}
	if f.StatusCode {
		k := reqKey{code: s.Status, service: s.FromService, consumer: consumer}
		r.requests.get(k, r.newRequestCounter).Inc()
	}
	if f.Latency {
		l := r.latency.Load()
		if l == nil {
			l = r.initLatency()
		}
		if s.UpstreamLatency >= 0 {
			u := r.upstream.Load()
			if u == nil {
				u = r.initUpstream()
			}
			(*u).Observe(s.UpstreamLatency)
		}
		l.kong.Observe(s.KongLatency)
		l.request.Observe(s.RequestLatency)
	}
	if f.Bandwidth {
		if s.Ingress > 0 {
			r.bandwidth.get(bwKey{false, consumer}, r.newBandwidthCounter).Add(float64(s.Ingress))
		}
		if s.Egress > 0 {
			r.bandwidth.get(bwKey{true, consumer}, r.newBandwidthCounter).Add(float64(s.Egress))
		}
	}
}

func (r *Route) newRequestCounter(k reqKey) prometheus.Counter {
	src := "kong"
	if k.service {
		src = "service"
	}
	return r.m.httpRequests.WithLabelValues(r.service, r.route, strconv.Itoa(k.code), src, Workspace, k.consumer)
}

func (r *Route) newBandwidthCounter(k bwKey) prometheus.Counter {
	dir := "ingress"
	if k.egress {
		dir = "egress"
	}
	return r.m.bandwidth.WithLabelValues(r.service, r.route, dir, Workspace, k.consumer)
}

func (r *Route) initLatency() *latencySet {
	r.latencyMu.Lock()
	defer r.latencyMu.Unlock()
	if l := r.latency.Load(); l != nil {
		return l
	}
	l := &latencySet{
		kong:    r.m.kongLatency.WithLabelValues(r.service, r.route, Workspace),
		request: r.m.reqLatency.WithLabelValues(r.service, r.route, Workspace),
	}
	r.latency.Store(l)
	return l
}

func (r *Route) initUpstream() *prometheus.Observer {
	r.latencyMu.Lock()
	defer r.latencyMu.Unlock()
	if u := r.upstream.Load(); u != nil {
		return u
	}
	o := r.m.upLatency.WithLabelValues(r.service, r.route, Workspace)
	r.upstream.Store(&o)
	return &o
}

// ObserveLua records one Lua plugin instance's run in a phase.
func (r *Route) ObserveLua(plugin, phase string, d time.Duration, failed bool) {
	s := r.lua.get(luaKey{plugin, phase}, r.newLuaSet)
	s.duration.Observe(d.Seconds())
	if failed {
		s.errors.Inc()
	}
}

func (r *Route) newLuaSet(k luaKey) luaSet {
	return luaSet{
		duration: r.m.luaDuration.WithLabelValues(r.route, k.plugin, k.phase),
		errors:   r.m.luaErrors.WithLabelValues(r.route, k.plugin, k.phase),
	}
}

// cache is a copy-on-write list of (key, value): lookups are a lock-free
// scan (a route sees a handful of status codes), misses take the lock and
// publish a longer copy. Past maxScan entries (many consumers), further
// keys go to a map under a read-write lock.
type cache[K comparable, V any] struct {
	list atomic.Pointer[[]entry[K, V]]
	mu   sync.RWMutex
	more map[K]V
}

type entry[K comparable, V any] struct {
	k K
	v V
}

const maxScan = 32

func (c *cache[K, V]) get(k K, mk func(K) V) V {
	if l := c.list.Load(); l != nil {
		for i := range *l {
			if (*l)[i].k == k {
				return (*l)[i].v
			}
		}
		if len(*l) >= maxScan {
			c.mu.RLock()
			v, ok := c.more[k]
			c.mu.RUnlock()
			if ok {
				return v
			}
		}
	}
	return c.slow(k, mk)
}

func (c *cache[K, V]) slow(k K, mk func(K) V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old []entry[K, V]
	if l := c.list.Load(); l != nil {
		old = *l
	}
	for i := range old {
		if old[i].k == k {
			return old[i].v
		}
	}
	if v, ok := c.more[k]; ok {
		return v
	}
	v := mk(k)
	if len(old) < maxScan {
		nl := make([]entry[K, V], len(old), len(old)+1)
		copy(nl, old)
		nl = append(nl, entry[K, V]{k, v})
		c.list.Store(&nl)
		return v
	}
	if c.more == nil {
		c.more = make(map[K]V)
	}
	c.more[k] = v
	return v
}
