package gateway

// Observability hooks (issue 8): what the metrics package reads from the
// runtime and from a finished request, and the access log line. Owned by
// the observability engineer; the request path calls in at a few places
// (runPhase, end, the status and admin listeners, the reload loop).

import (
	"runtime/metrics"
	"sort"
	"time"

	"github.com/valyala/fasthttp"
	gm "luagate/gateway/metrics"

	"luagate/lualib"
)

// nodeStats are the counters of kong_nginx_* and kong_memory_* at scrape
// time.
func (rt *Runtime) nodeStats() gm.NodeStats {
	writing := rt.inflight.Load()
	active := rt.active.Load()
	waiting := max(active-writing, 0)
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(samples)
	var heap int64
	if samples[0].Value.Kind() == metrics.KindUint64 {
		heap = int64(samples[0].Value.Uint64())
	}
	sizes := sharedDictSizes(rt.settings.LuaSharedDicts)
	names := make([]string, 0, len(sizes))
	for n := range sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	dicts := make([]gm.SharedDict, len(names))
	for i, n := range names {
		dicts[i] = gm.SharedDict{Name: n, Capacity: int64(sizes[n])}
	}
	return gm.NodeStats{
		ConnectionsAccepted: rt.accepted.Load(),
		ConnectionsHandled:  rt.handled.Load(),
		ConnectionsActive:   active,
		ConnectionsWriting:  writing,
		ConnectionsWaiting:  waiting,
		TotalRequests:       rt.requests.Load(),
		LuaVMBytes:          heap,
		SharedDicts:         dicts,
	}
}

// configApplied tells the metrics which configuration serves requests.
func (rt *Runtime) configApplied(s *Snapshot) {
	rt.metrics.ConfigApplied(s.hash, gm.UpstreamHealthEnabled(s.cfg), time.Now())
}

// routeMetrics is the metrics handle of a route: service name, else host;
// route name, else id (Kong's prometheus labels).
func routeMetrics(m *gm.Metrics, rs *routeState) *gm.Route {
	svc := ""
	if s := rs.service; s != nil {
		svc = s.Name
		if svc == "" {
			svc = s.Host
		}
	}
	return m.Route(svc, entityName(rs.route.Name, rs.route.ID))
}

// MetricsRoute implements metrics.Exchange: nil when no route matched.
func (r *request) MetricsRoute() *gm.Route {
	if r.rs == nil {
		return nil
	}
	return r.rs.metrics
}

// metricsRoute is the handle Lua durations are recorded on.
func (r *request) metricsRoute() *gm.Route {
	if r.rs == nil {
		return r.rt.metrics.NoRoute()
	}
	return r.rs.metrics
}

// MetricsSample implements metrics.Exchange.
func (r *request) MetricsSample(bandwidth bool) (s gm.Sample) {
	s.Status = r.ctx.Response.StatusCode()
	s.FromService = r.source == lualib.SourceService
	if r.consumer != nil {
		if u, ok := r.consumer["username"].(string); ok {
			s.Consumer = u
		}
	}
	now := time.Now()
	total := now.Sub(r.start)
	s.RequestLatency = msFloat(total)
	if r.upStart.IsZero() {
		s.KongLatency = s.RequestLatency
		s.UpstreamLatency = -1
		if r.waiting > 0 { // aws-lambda: the Invoke wait is the upstream's
			s.KongLatency = msFloat(total - r.waiting)
			s.UpstreamLatency = msFloat(r.waiting)
		}
	} else {
		s.KongLatency = msFloat(r.upStart.Sub(r.start))
		end := r.upHeaders
		if end.IsZero() {
			end = now
		}
		s.UpstreamLatency = msFloat(end.Sub(r.upStart))
	}
	if bandwidth {
		s.Ingress = r.requestLength()
		s.Egress = r.bytesSent()
	}
	return s
}

// msFloat is a duration in whole milliseconds, as Kong's latencies are.
func msFloat(d time.Duration) float64 { return float64(d.Milliseconds()) }

// requestLength is nginx's $request_length: request line, headers and body.
func (r *request) requestLength() int64 {
	h := &r.ctx.Request.Header
	n := int64(len(r.method) + 1 + len(r.rawPath) + 1 + len("HTTP/1.1") + 2)
	if r.hasQuery {
		n += int64(1 + len(r.rawQuery))
	}
	n += int64(len(h.RawHeaders())) // with the blank line
	if cl := h.ContentLength(); cl > 0 {
		n += int64(cl)
	}
	return n
}

// bytesSent is nginx's $bytes_sent: status line, headers and body. The
// log phase runs before fasthttp writes the head, so the headers it adds
// itself (Date, Connection: close) are counted here.
func (r *request) bytesSent() int64 {
	resp := &r.ctx.Response
	code := resp.StatusCode()
	n := int64(len("HTTP/1.1 000 \r\n") + len(fasthttp.StatusMessage(code)))
	for k, v := range resp.Header.All() {
		n += int64(len(k) + 2 + len(v) + 2)
	}
	n += int64(len("Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"))
	if resp.ConnectionClose() {
		n += int64(len("Connection: close\r\n"))
	}
	n += 2 // the blank line
	return n + r.bodyBytesSent()
}

// bodyBytesSent is nginx's $body_bytes_sent.
func (r *request) bodyBytesSent() int64 {
	resp := &r.ctx.Response
	if resp.SkipBody || r.ctx.IsHead() {
		return 0
	}
	if r.streaming {
		return r.streamed
	}
	return int64(len(resp.Body()))
}

// accessLog writes the request's access log line (when enabled).
func (r *request) accessLog() {
	al := r.rt.accessLog
	if al == nil {
		return
	}
	e := gm.AccessEntry{
		ClientIP:  r.remoteIP,
		Time:      r.start,
		Method:    r.method,
		URI:       r.rawPath,
		Proto:     "HTTP/1.0",
		Status:    r.ctx.Response.StatusCode(),
		BodyBytes: r.bodyBytesSent(),
		Referer:   b2s(r.ctx.Request.Header.Referer()),
		UserAgent: b2s(r.ctx.Request.Header.UserAgent()),
		RequestID: r.requestIDView(),
	}
	if r.http11 {
		e.Proto = "HTTP/1.1"
	}
	if r.hasQuery {
		e.URI = r.rawPath + "?" + r.rawQuery
	}
	if al.JSON() {
		e.Serialized = r.Serialize()
	}
	al.Log(&e)
}

// ObserveLambda implements metrics.LambdaObserver: the aws-lambda plugin
// reports each Invoke through its Exchange.
func (r *request) ObserveLambda(function string, d time.Duration, err error) {
	r.rt.metrics.ObserveLambda(function, d, err)
}

var (
	_ gm.Exchange       = (*request)(nil)
	_ gm.LambdaObserver = (*request)(nil)
)
