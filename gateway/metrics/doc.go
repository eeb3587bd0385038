// Package metrics is luagate's observability: a Prometheus registry owned by
// the gateway's Runtime (never the global default one), Kong's prometheus
// plugin (spec 6) with Kong's metric names, labels and buckets, luagate's own
// always-on luagate_* metrics, and the access log.
package metrics
