package balancer

import (
	"fmt"
	"sort"
)

// Health values (Kong's Admin API strings).
const (
	Healthy         = "HEALTHY"
	Unhealthy       = "UNHEALTHY"
	HealthchecksOff = "HEALTHCHECKS_OFF"
	DNSError        = "DNS_ERROR"
)

// TargetStatus is one target's health as GET /upstreams/{u}/health shows
// it (the "health" field and the "data" object).
type TargetStatus struct {
	Target string
	Health string
	Data   map[string]any // host, port, dns, nodeWeight, weight{total,available,unavailable}, addresses[]
}

// TargetStatuses reports every target with weight > 0, in config order.
// A target's health is HEALTHY when one of its addresses is, UNHEALTHY
// when all are, HEALTHCHECKS_OFF when no check is configured, DNS_ERROR
// when its name has no address.
func (b *Balancer) TargetStatuses() []TargetStatus {
	r := b.ring.Load()
	on := b.spec.Health.Enabled()
	out := make([]TargetStatus, 0, len(r.targets))
	for _, t := range r.targets {
		if t.spec.Weight <= 0 {
			continue
		}
		ts := TargetStatus{Target: t.spec.Target}
		total, unavail := 0, 0
		addrs := make([]any, 0, len(t.addrs))
		for _, a := range t.addrs {
			h := HealthchecksOff
			if on {
				h = Healthy
				if !a.st.healthy() {
					h = Unhealthy
					unavail += a.Weight
				}
			}
			total += a.Weight
			addrs = append(addrs, map[string]any{"ip": a.IP, "port": a.Port, "weight": a.Weight, "health": h})
			switch {
			case h == Healthy:
				ts.Health = Healthy
			case ts.Health == "":
				ts.Health = h
			}
		}
		if len(t.addrs) == 0 {
			ts.Health = DNSError
		}
		ts.Data = map[string]any{
			"host": t.spec.Host, "port": t.spec.Port, "dns": t.dns, "nodeWeight": t.spec.Weight,
			"weight":    map[string]any{"total": total, "available": total - unavail, "unavailable": unavail},
			"addresses": addrs,
		}
		out = append(out, ts)
	}
	return out
}

// BalancerHealth is GET /upstreams/{u}/health?balancer_health=1's data.
func (b *Balancer) BalancerHealth() map[string]any {
	out := map[string]any{"health": HealthchecksOff, "id": b.spec.ID}
	if !b.spec.Health.Enabled() {
		return out
	}
	r := b.ring.Load()
	total, unavail := 0, 0
	for _, a := range r.addrs {
		total += a.Weight
		if !a.st.healthy() {
			unavail += a.Weight
		}
	}
	healthy := total > 0 && float64(total-unavail)*100/float64(total) > b.spec.Health.Threshold
	out["health"] = Unhealthy
	if healthy {
		out["health"] = Healthy
	}
	hosts := []any{}
	for _, ts := range b.TargetStatuses() {
		hosts = append(hosts, ts.Data)
	}
	out["details"] = map[string]any{
		"healthy": healthy,
		"weight":  map[string]any{"total": total, "available": total - unavail, "unavailable": unavail},
		"hosts":   hosts,
	}
	return out
}

// SetTargetHealth marks every address of a target (as configured,
// "host:port") healthy or unhealthy, as POST
// /upstreams/{u}/targets/{t}/healthy|unhealthy does. Counters restart; the
// active checks go on from the new state.
func (b *Balancer) SetTargetHealth(tgt string, healthy bool) error {
	return b.SetAddressHealth(tgt, "", healthy)
}

// SetAddressHealth marks one address ("ip:port") of a target, or all of
// them when addr is "" (POST /upstreams/{u}/targets/{t}/{address}/healthy).
func (b *Balancer) SetAddressHealth(tgt, addr string, healthy bool) error {
	if !b.spec.Health.Enabled() {
		return fmt.Errorf("no healthchecker found for upstream '%s' (healthchecks are off)", b.spec.Name)
	}
	r := b.ring.Load()
	found := false
	for _, t := range r.targets {
		if t.spec.Target != tgt {
			continue
		}
		found = addr == ""
		for _, a := range t.addrs {
			if addr != "" && a.Addr != addr {
				continue
			}
			found = true
			was := a.st.healthy()
			a.st.set(healthy)
			if was != healthy {
				b.reg.logChange(b.spec.Name, a, "admin")
			}
		}
	}
	if !found && addr != "" {
		return fmt.Errorf("address '%s' not found for target '%s' in upstream '%s'", addr, tgt, b.spec.Name)
	}
	if !found {
		return fmt.Errorf("target '%s' not found in upstream '%s'", tgt, b.spec.Name)
	}
	return nil
}

// AddressHealth is one address's state for kong_upstream_target_health.
type AddressHealth struct {
	Upstream, Target, Address string
	State                     string // healthchecks_off, healthy, unhealthy, dns_error
}

// Health lists the state of every address of every current balancer (one
// row with an empty address for a target without addresses).
func (r *Registry) Health() []AddressHealth {
	var out []AddressHealth
	for _, name := range r.Names() {
		b := r.Current(name)
		if b == nil {
			continue
		}
		on := b.spec.Health.Enabled()
		for _, t := range b.ring.Load().targets {
			if t.spec.Weight <= 0 {
				continue
			}
			if len(t.addrs) == 0 {
				out = append(out, AddressHealth{Upstream: name, Target: t.spec.Target, State: "dns_error"})
				continue
			}
			for _, a := range t.addrs {
				s := "healthchecks_off"
				if on {
					s = "healthy"
					if !a.st.healthy() {
						s = "unhealthy"
					}
				}
				out = append(out, AddressHealth{Upstream: name, Target: t.spec.Target, Address: a.Addr, State: s})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Upstream != out[j].Upstream {
			return out[i].Upstream < out[j].Upstream
		}
		return false
	})
	return out
}
