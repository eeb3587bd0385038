package balancer

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"luagate/declarative"
)

// Algorithm names (upstream.algorithm).
const (
	RoundRobin        = "round-robin"
	ConsistentHashing = "consistent-hashing"
	LeastConnections  = "least-connections"
	Latency           = "latency"
)

// Spec is an upstream and its targets as the balancer uses them, taken from
// the declarative entities. Two specs with the same fingerprint build the
// same balancer, so a reload that leaves an upstream alone keeps it.
type Spec struct {
	Name      string
	ID        string
	Algorithm string
	HashOn    HashSource
	Fallback  HashSource
	Slots     int
	// HostHeader is upstream.host_header ("" when null).
	HostHeader string
	UseSRVName bool
	Health     HealthConfig
	Targets    []TargetSpec
	fp         string
}

// HashSource is one of hash_on/hash_fallback with its parameter.
type HashSource struct {
	Kind  string // none, consumer, ip, header, cookie, path, query_arg, uri_capture
	Param string // header name, cookie name, query argument, capture group
	Path  string // cookie path (hash_on_cookie_path)
}

// TargetSpec is one target entity.
type TargetSpec struct {
	ID     string
	Target string // host:port as configured (the key of its health state)
	Host   string
	Port   int
	Weight int
}

// HealthConfig is upstream.healthchecks with Kong's defaults applied.
type HealthConfig struct {
	Active    ActiveConfig
	Passive   PassiveConfig
	Threshold float64 // percentage of weight that must be available
}

// ActiveConfig is healthchecks.active.
type ActiveConfig struct {
	Type                   string // tcp, http, https (grpc/grpcs probe as http/https)
	Timeout                time.Duration
	Concurrency            int
	HTTPPath               string
	HTTPSSNI               string
	HTTPSVerifyCertificate bool
	Headers                [][2]string
	Healthy                Thresholds
	Unhealthy              Thresholds
}

// PassiveConfig is healthchecks.passive.
type PassiveConfig struct {
	Type      string
	Healthy   Thresholds
	Unhealthy Thresholds
}

// Thresholds are one healthy or unhealthy block. Zero counters are off.
type Thresholds struct {
	Interval     time.Duration // active only
	HTTPStatuses []int
	Successes    int // healthy blocks
	TCPFailures  int // unhealthy blocks
	Timeouts     int
	HTTPFailures int
}

// Enabled reports whether any health check runs for the upstream (Kong's
// is_upstream_using_healthcheck): an active interval or a passive
// unhealthy counter.
func (h *HealthConfig) Enabled() bool {
	return h.ActiveEnabled() || h.Passive.Unhealthy.TCPFailures > 0 ||
		h.Passive.Unhealthy.Timeouts > 0 || h.Passive.Unhealthy.HTTPFailures > 0
}

// ActiveEnabled reports whether active probes run.
func (h *HealthConfig) ActiveEnabled() bool {
	return h.Active.Healthy.Interval > 0 || h.Active.Unhealthy.Interval > 0
}

// NewSpec builds the spec of up with its targets (in any order; targets of
// other upstreams are ignored).
func NewSpec(up *declarative.Upstream, targets []*declarative.Target) (*Spec, error) {
	if up == nil {
		return nil, fmt.Errorf("balancer: nil upstream")
	}
	s := &Spec{
		Name:       up.Name,
		ID:         up.ID,
		Algorithm:  up.Algorithm,
		HashOn:     HashSource{Kind: orNone(up.HashOn), Path: up.HashOnCookiePath},
		Fallback:   HashSource{Kind: orNone(up.HashFallback), Path: up.HashOnCookiePath},
		Slots:      up.Slots,
		HostHeader: up.HostHeader,
		UseSRVName: up.UseSRVName,
	}
	if s.Algorithm == "" {
		s.Algorithm = RoundRobin
	}
	switch s.Algorithm {
	case RoundRobin, ConsistentHashing, LeastConnections, Latency:
	default:
		return nil, fmt.Errorf("upstream %q: unknown algorithm %q", up.Name, s.Algorithm)
	}
	if s.Slots <= 0 {
		s.Slots = 10000
	}
	s.HashOn.Param = hashParam(s.HashOn.Kind, up.HashOnHeader, up.HashOnCookie, up.HashOnQueryArg, up.HashOnURICapture)
	s.Fallback.Param = hashParam(s.Fallback.Kind, up.HashFallbackHeader, up.HashOnCookie, up.HashFallbackQueryArg, up.HashFallbackURICapture)
	if s.HashOn.Path == "" {
		s.HashOn.Path, s.Fallback.Path = "/", "/"
	}
	var err error
	if s.Health, err = parseHealth(up.Healthchecks); err != nil {
		return nil, fmt.Errorf("upstream %q: healthchecks: %w", up.Name, err)
	}
	for _, t := range targets {
		if t == nil || (t.Upstream != nil && t.Upstream != up) {
			continue
		}
		h, p, err := splitHostPort(t.Target)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: target %q: %w", up.Name, t.Target, err)
		}
		s.Targets = append(s.Targets, TargetSpec{ID: t.ID, Target: t.Target, Host: h, Port: p, Weight: t.Weight})
	}
	s.fp = s.fingerprint()
	return s, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func hashParam(kind, header, cookie, query, capture string) string {
	switch kind {
	case "header":
		return strings.ToLower(header)
	case "cookie":
		return cookie
	case "query_arg":
		return query
	case "uri_capture":
		return capture
	}
	return ""
}

// splitHostPort splits "host:port" ("[v6]:port"); targets always carry a
// port after loading, 8000 is Kong's default otherwise.
func splitHostPort(s string) (string, int, error) {
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Count(s, ":") == 0 || strings.HasPrefix(s, "[") {
			return strings.Trim(s, "[]"), 8000, nil
		}
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", ps)
	}
	return h, p, nil
}

// fingerprint identifies everything a balancer is built from.
func (s *Spec) fingerprint() string {
	ts := slices.Clone(s.Targets)
	sort.Slice(ts, func(i, j int) bool {
		return ts[i].Target < ts[j].Target || (ts[i].Target == ts[j].Target && ts[i].ID < ts[j].ID)
	})
	cp := *s
	cp.Targets = ts
	cp.fp = ""
	b, _ := json.Marshal(cp)
	return string(b)
}

// activeKey identifies the active checker configuration (a reload that
// keeps it keeps the probe goroutine).
func (h *HealthConfig) activeKey() string {
	b, _ := json.Marshal(h.Active)
	return string(b)
}

// ---- healthchecks map (json.Number values from the loader)

func parseHealth(m map[string]any) (HealthConfig, error) {
	h := HealthConfig{
		Active: ActiveConfig{Type: "http", Timeout: time.Second, Concurrency: 10, HTTPPath: "/", HTTPSVerifyCertificate: true,
			Healthy:   Thresholds{HTTPStatuses: []int{200, 302}},
			Unhealthy: Thresholds{HTTPStatuses: []int{429, 404, 500, 501, 502, 503, 504, 505}}},
		Passive: PassiveConfig{Type: "http",
			Healthy:   Thresholds{HTTPStatuses: []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308}},
			Unhealthy: Thresholds{HTTPStatuses: []int{429, 500, 503}}},
	}
	if m == nil {
		return h, nil
	}
	p := &hcParser{}
	if a, ok := m["active"].(map[string]any); ok {
		ac := &h.Active
		p.str(a, "active.type", "type", &ac.Type)
		p.dur(a, "active.timeout", "timeout", &ac.Timeout)
		p.int(a, "active.concurrency", "concurrency", &ac.Concurrency)
		p.str(a, "active.http_path", "http_path", &ac.HTTPPath)
		p.str(a, "active.https_sni", "https_sni", &ac.HTTPSSNI)
		if v, ok := a["https_verify_certificate"].(bool); ok {
			ac.HTTPSVerifyCertificate = v
		}
		if hm, ok := a["headers"].(map[string]any); ok {
			keys := make([]string, 0, len(hm))
			for k := range hm {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				switch vs := hm[k].(type) {
				case []any:
					for _, v := range vs {
						ac.Headers = append(ac.Headers, [2]string{k, fmt.Sprint(v)})
					}
				case string:
					ac.Headers = append(ac.Headers, [2]string{k, vs})
				}
			}
		}
		p.block(a, "active.healthy", "healthy", &ac.Healthy, true)
		p.block(a, "active.unhealthy", "unhealthy", &ac.Unhealthy, true)
		if ac.Concurrency < 1 {
			ac.Concurrency = 1
		}
	}
	if ps, ok := m["passive"].(map[string]any); ok {
		p.str(ps, "passive.type", "type", &h.Passive.Type)
		p.block(ps, "passive.healthy", "healthy", &h.Passive.Healthy, false)
		p.block(ps, "passive.unhealthy", "unhealthy", &h.Passive.Unhealthy, false)
	}
	if v, ok := m["threshold"]; ok && v != nil {
		f, err := number(v)
		if err != nil {
			p.errs = append(p.errs, "threshold: "+err.Error())
		}
		h.Threshold = f
	}
	if len(p.errs) > 0 {
		return h, fmt.Errorf("%s", strings.Join(p.errs, "; "))
	}
	return h, nil
}

type hcParser struct{ errs []string }

func (p *hcParser) str(m map[string]any, path, k string, dst *string) {
	if v, ok := m[k].(string); ok {
		*dst = v
	}
}

func (p *hcParser) num(m map[string]any, path, k string) (float64, bool) {
	v, ok := m[k]
	if !ok || v == nil {
		return 0, false
	}
	f, err := number(v)
	if err != nil {
		p.errs = append(p.errs, path+": "+err.Error())
		return 0, false
	}
	return f, true
}

func (p *hcParser) int(m map[string]any, path, k string, dst *int) {
	if f, ok := p.num(m, path, k); ok {
		*dst = int(f)
	}
}

func (p *hcParser) dur(m map[string]any, path, k string, dst *time.Duration) {
	if f, ok := p.num(m, path, k); ok {
		*dst = time.Duration(f * float64(time.Second))
	}
}

func (p *hcParser) block(m map[string]any, path, k string, dst *Thresholds, active bool) {
	b, ok := m[k].(map[string]any)
	if !ok {
		return
	}
	if active {
		p.dur(b, path+".interval", "interval", &dst.Interval)
	}
	p.int(b, path+".successes", "successes", &dst.Successes)
	p.int(b, path+".tcp_failures", "tcp_failures", &dst.TCPFailures)
	p.int(b, path+".timeouts", "timeouts", &dst.Timeouts)
	p.int(b, path+".http_failures", "http_failures", &dst.HTTPFailures)
	if l, ok := b["http_statuses"].([]any); ok {
		dst.HTTPStatuses = dst.HTTPStatuses[:0:0]
		for i, v := range l {
			f, err := number(v)
			if err != nil {
				p.errs = append(p.errs, fmt.Sprintf("%s.http_statuses[%d]: %v", path, i, err))
				continue
			}
			dst.HTTPStatuses = append(dst.HTTPStatuses, int(f))
		}
	}
}

func number(v any) (float64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Float64()
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case string:
		return strconv.ParseFloat(n, 64)
	}
	return 0, fmt.Errorf("expected a number, got %T", v)
}
