// Package gateway is luagate's node: settings (kong.conf names, KONG_*
// variables), the plugin registry, immutable configuration snapshots, the
// proxy engine and the proxy, admin and status listeners.
//
// The engine is fasthttp (server and HostClient pools): on the reference
// machine net/http's reverse proxy reaches 0.4x of nginx+Lua and fasthttp
// 1.05x (shared/spec/performance-anchors.md).
//
// The path of a request (proxy.go, call.go):
//
//	acquire the current Snapshot (refcounted)
//	begin: copy the client URI and Host, normalize the path, client address
//	rewrite: global plugins only (no route yet)
//	route: router.Match -> 404 / 426 or redirect for https-only routes
//	access: the route's chain (the most specific instance of each plugin
//	        name, by priority); an exit or a runtime error stops the phase
//	proxy: upstream URI (router.UpstreamPath + raw query), Host, X-Forwarded-*,
//	       Via, request id; HostClient.Do with retries on connection failures
//	header_filter, then body_filter (which buffers the whole body,
//	DECISIONS row 9), else the body streams to the client
//	log: after the body is sent (when the stream closes), then release the
//	     Lua lease, the snapshot and the pooled request
//
// Kong-generated answers (404, 503, 426, errors) use Kong's body templates
// with Accept negotiation (errors.go). One request holds one Lua state lease
// from its first to its last Lua phase (functions.Handler.Run).
//
// What outlives a snapshot lives in Runtime: upstream connection pools keyed
// by address and timeouts, ngx.shared dicts, the request id generator and
// the node counters.
package gateway
