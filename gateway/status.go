package gateway

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"

	"github.com/valyala/fasthttp"
)

// serveStatus is the status listener: GET /status and GET /status/ready
// (spec 4.4).
func (g *Gateway) serveStatus(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/status":
		g.handleStatus(ctx)
	case "/status/ready":
		g.handleReady(ctx)
	case "/metrics":
		g.rt.metrics.Handler()(ctx)
	default:
		writeJSON(ctx, 404, map[string]any{"message": "Not found"})
	}
}

// StatusBody is the GET /status document; unit is b, k, m or g and scale
// the number of decimals (Kong's query parameters).
func (g *Gateway) StatusBody(unit string, scale int) (map[string]any, error) {
	div, ok := map[string]float64{"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
	if !ok {
		return nil, fmt.Errorf("invalid unit %q (expected 'k/K', 'm/M', or 'g/G')", unit)
	}
	size := func(n uint64) any {
		if unit == "b" {
			return n
		}
		return strconv.FormatFloat(float64(n)/div, 'f', scale, 64) + " " + map[string]string{"k": "KiB", "m": "MiB", "g": "GiB"}[unit]
	}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(samples)
	var heap uint64
	if samples[0].Value.Kind() == metrics.KindUint64 {
		heap = samples[0].Value.Uint64()
	}
	rt := g.rt
	dicts := make(map[string]any, len(rt.dictSize))
	for name, capacity := range rt.dictSize {
		dicts[name] = map[string]any{"capacity": size(uint64(capacity))}
	}
	writing := rt.inflight.Load()
	active := rt.active.Load()
	waiting := active - writing
	if waiting < 0 {
		waiting = 0
	}
	return map[string]any{
		"configuration_hash": g.Current().Hash(),
		"memory": map[string]any{
			"lua_shared_dicts": dicts,
			"workers_lua_vms":  []any{map[string]any{"http_allocated_gc": size(heap), "pid": os.Getpid()}},
		},
		"server": map[string]any{
			"connections_accepted": rt.accepted.Load(),
			"connections_active":   active,
			"connections_handled":  rt.handled.Load(),
			"connections_reading":  0,
			"connections_waiting":  waiting,
			"connections_writing":  writing,
			"total_requests":       rt.requests.Load(),
		},
		"luagate": g.reloadStatus(), // reload.go
	}, nil
}

func (g *Gateway) handleStatus(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		writeJSON(ctx, 405, map[string]any{"message": "Method not allowed"})
		return
	}
	args := ctx.QueryArgs()
	unit := "m"
	if u := args.Peek("unit"); len(u) > 0 {
		unit = string(u)
		if len(unit) == 1 && unit[0] >= 'A' && unit[0] <= 'Z' {
			unit = string(unit[0] + 'a' - 'A')
		}
	}
	scale := 2
	if s := args.Peek("scale"); len(s) > 0 {
		n, err := strconv.Atoi(string(s))
		if err != nil || n < 0 {
			writeJSON(ctx, 400, map[string]any{"message": fmt.Sprintf("invalid scale %q (expected a non-negative integer)", s)})
			return
		}
		scale = n
	}
	body, err := g.StatusBody(unit, scale)
	if err != nil {
		writeJSON(ctx, 400, map[string]any{"message": err.Error()})
		return
	}
	writeJSON(ctx, 200, body)
}

// Ready reports /status/ready: "" when ready, else the reason.
func (g *Gateway) Ready() string {
	switch {
	case g.draining.Load():
		return "draining"
	case !g.loaded.Load():
		return "no configuration available (configuration hash is not initialized)"
	case g.Current().Empty():
		return "no configuration available (empty configuration present)"
	}
	return ""
}

func (g *Gateway) handleReady(ctx *fasthttp.RequestCtx) {
	if why := g.Ready(); why != "" {
		writeJSON(ctx, 503, map[string]any{"message": why})
		return
	}
	writeJSON(ctx, 200, map[string]any{"message": "ready"})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"message":"An unexpected error occurred"}`)
	}
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.Set(hdrContentType, "application/json; charset=utf-8")
	ctx.Response.Header.Set(hdrServer, serverToken)
	ctx.Response.SetBody(b)
}
