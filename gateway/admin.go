package gateway

import (
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"
)

// serveAdmin is the admin listener: /debug/pprof/ always, then the pluggable
// AdminHandler, else the built-in GET / and GET /status.
func (g *Gateway) serveAdmin(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if strings.HasPrefix(path, "/debug/pprof") {
		if !g.adminAuthorized(ctx) { // KONG_ADMIN_TOKEN (admin_api.go)
			writeJSON(ctx, 401, map[string]any{"message": "Unauthorized"})
			return
		}
		pprofhandler.PprofHandler(ctx)
		return
	}
	if path == "/metrics" { // Kong's Admin API GET /metrics (gateway/metrics)
		if !g.adminAuthorized(ctx) {
			writeJSON(ctx, 401, map[string]any{"message": "Unauthorized"})
			return
		}
		g.rt.metrics.Handler()(ctx)
		return
	}
	if g.AdminHandler != nil {
		g.AdminHandler(ctx)
		return
	}
	switch path {
	case "/":
		if !ctx.IsGet() && !ctx.IsHead() {
			writeJSON(ctx, 405, map[string]any{"message": "Method not allowed"})
			return
		}
		writeJSON(ctx, 200, g.Info())
	case "/status":
		g.handleStatus(ctx)
	default:
		writeJSON(ctx, 404, map[string]any{"message": "Not found"})
	}
}

// Info is the GET / document of the Admin API (spec 4.5).
func (g *Gateway) Info() map[string]any {
	available := map[string]any{}
	if reg, ok := g.Registry().(*registry); ok {
		for _, k := range reg.Kinds() {
			available[k.Name] = map[string]any{"version": KongVersion, "priority": k.Priority}
		}
	}
	enabled := map[string]bool{}
	for _, p := range g.Current().Config().Plugins {
		enabled[p.Name] = true
	}
	names := make([]string, 0, len(enabled))
	for n := range enabled {
		names = append(names, n)
	}
	sort.Strings(names)
	conf := g.rt.configurationTable()
	return map[string]any{
		"tagline":     "Welcome to kong",
		"version":     KongVersion,
		"edition":     "community",
		"hostname":    g.rt.hostname,
		"node_id":     g.rt.nodeID,
		"lua_version": "Lua 5.1 (gopher-lua)",
		"timers":      map[string]any{"running": 0, "pending": 0},
		"plugins": map[string]any{
			"available_on_server": available,
			"enabled_in_cluster":  names,
		},
		"configuration": conf,
		"pids":          map[string]any{"master": os.Getpid(), "workers": []any{os.Getpid()}},
		"luagate":       map[string]any{"version": Version, "go_version": runtime.Version()},
	}
}
