// Package balancer load-balances requests over the targets of Kong
// upstream entities, as Kong's ring balancer does: round-robin (weighted,
// smooth), consistent-hashing (a continuum of `slots` points, hash_on and
// hash_fallback), least-connections and latency (EWMA); target host names
// resolved through DNS (A/AAAA, SRV for "_service._proto" names) and
// re-resolved when their TTL runs out; active health checks (HTTP, HTTPS or
// TCP probes) and passive ones (a circuit breaker fed by proxied traffic)
// with Kong's healthchecks configuration.
//
// A Registry, owned by the gateway Runtime, holds everything that must
// outlive a configuration snapshot: balancers shared by every snapshot with
// the same upstream config (reference counted, like Caddy's UsagePool), the
// health state of each address keyed by upstream name, target and address,
// and the health checker goroutines. A reload that leaves an upstream alone
// keeps all of it; a changed upstream keeps the state of the targets it
// still has; a removed one stops its goroutines when the last snapshot
// using it closes.
package balancer
