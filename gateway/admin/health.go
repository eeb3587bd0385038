package admin

import (
	"net/http"
)

// TargetHealth is one target's balancer health: Kong's "health" string
// (HEALTHY, UNHEALTHY, HEALTHCHECKS_OFF, DNS_ERROR) and its "data" object.
type TargetHealth struct {
	Health string
	Data   map[string]any
}

// BalancerBackend is implemented by a Backend that load-balances upstreams
// (gateway/balancer): it serves GET /upstreams/{u}/health and POST
// /upstreams/{u}/targets/{t}/healthy|unhealthy. Upstreams are named.
type BalancerBackend interface {
	// TargetsHealth is the health of the upstream's targets by target
	// ("host:port"); false when the upstream has no balancer.
	TargetsHealth(upstream string) (map[string]TargetHealth, bool)
	// BalancerHealth is the ?balancer_health=1 document.
	BalancerHealth(upstream string) (map[string]any, bool)
	// SetTargetHealth marks a target's addresses (all of them when address
	// is "") healthy or unhealthy, in memory.
	SetTargetHealth(upstream, target, address string, healthy bool) error
	NodeID() string
}

// balancerRoutes serves the balancer endpoints of Kong's Admin API:
//
//	GET  /upstreams/{u}/health[?balancer_health=1]
//	GET  /upstreams/{u}/targets/all
//	POST /upstreams/{u}/targets/{t}/healthy
//	POST /upstreams/{u}/targets/{t}/unhealthy
//	POST /upstreams/{u}/targets/{t}/{address}/healthy|unhealthy
//
// handled is false for every other path.
func (h *Handler) balancerRoutes(r *http.Request, segs []string) (status int, body any, handled bool, err error) {
	if len(segs) < 3 || segs[0] != "upstreams" {
		return 0, nil, false, nil
	}
	isHealth := len(segs) == 3 && segs[2] == "health"
	isAll := len(segs) == 4 && segs[2] == "targets" && segs[3] == "all"
	last := segs[len(segs)-1]
	isPost := (len(segs) == 5 || len(segs) == 6) && segs[2] == "targets" && (last == "healthy" || last == "unhealthy")
	if !isHealth && !isAll && !isPost {
		return 0, nil, false, nil
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	ix := h.index()
	up := ix.find("upstreams", segs[1])
	if up == nil {
		return 0, nil, true, errNotFound
	}
	name, _ := up.obj["name"].(string)
	children := ix.children("targets", "upstream", up.id)
	switch {
	case isAll:
		if !get {
			return 0, nil, true, errMethodNotAllowed
		}
		st, b, err := page(r.URL.Query(), "/upstreams/"+segs[1]+"/targets/all", children)
		return st, b, true, err
	case isHealth:
		if !get {
			return 0, nil, true, errMethodNotAllowed
		}
		bb, ok := h.b.(BalancerBackend)
		if !ok {
			return 0, nil, true, errNotFound
		}
		if v := r.URL.Query().Get("balancer_health"); v != "" && v != "0" && v != "false" {
			data, ok := bb.BalancerHealth(name)
			if !ok {
				return 0, nil, true, errMsg(404, "balancer not found")
			}
			return 200, map[string]any{"data": data, "next": nil, "node_id": bb.NodeID()}, true, nil
		}
		health, _ := bb.TargetsHealth(name)
		data := make([]any, 0, len(children))
		for _, c := range children {
			if w, ok := c.obj["weight"].(int); ok && w == 0 {
				continue // not in the balancer
			}
			e := make(map[string]any, len(c.obj)+2)
			for k, v := range c.obj {
				e[k] = v
			}
			if th, ok := health[c.key]; ok {
				e["health"], e["data"] = th.Health, th.Data
			} else {
				e["health"] = "DNS_ERROR"
			}
			data = append(data, e)
		}
		return 200, map[string]any{"data": data, "next": nil, "node_id": bb.NodeID()}, true, nil
	}
	// POST .../targets/{t}/healthy|unhealthy
	if r.Method != http.MethodPost {
		return 0, nil, true, errMethodNotAllowed
	}
	var tgt *entity
	for _, c := range children {
		if c.id == segs[3] {
			tgt = c
		}
	}
	for _, c := range children {
		if tgt == nil && c.key == segs[3] {
			tgt = c
		}
	}
	if tgt == nil {
		return 0, nil, true, errNotFound
	}
	bb, ok := h.b.(BalancerBackend)
	if !ok {
		return 0, nil, true, errNotFound
	}
	address := ""
	if len(segs) == 6 {
		address = segs[4]
	}
	if err := bb.SetTargetHealth(name, tgt.key, address, last == "healthy"); err != nil {
		return 0, nil, true, errMsg(400, err.Error())
	}
	return 204, nil, true, nil
}
