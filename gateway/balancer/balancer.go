package balancer

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrNoPeer is Kong's balancer failure: no target address is available
// (all unhealthy, all weights zero, names unresolved, or fewer healthy than
// the threshold). The proxy answers 503 with this message.
var ErrNoPeer = errors.New("failure to get a peer from the ring-balancer")

// Address is one place requests go: a target's IP and port (a target whose
// host is a name has one address per DNS record).
type Address struct {
	IP     string
	Port   int
	Addr   string // ip:port, the dial address
	Host   string // host name for the Host header: the target's host (or SRV name with use_srv_name)
	Target string // the target as configured ("host:port")
	Weight int
	st     *state
	key    stateKey
}

// Healthy reports the address's current health.
func (a *Address) Healthy() bool { return a.st.healthy() }

// target is one target entity with its current addresses.
type target struct {
	spec   TargetSpec
	isName bool
	addrs  []*Address
	dns    string // how the addresses were found: A, AAAA, SRV, hosts, IP, or the error
	dnsErr bool
	expiry time.Time
}

// ring is one generation of the balancer's address set (rebuilt when DNS
// answers change); immutable once published.
type ring struct {
	targets []*target
	addrs   []*Address // weight > 0, sorted by ip:port
	wheel   []uint32   // round-robin order (smooth weighted)
	cont    []int32    // consistent-hashing continuum: slot -> addrs index, -1 empty
	total   int
}

// Balancer load-balances over one upstream's targets. It is shared by every
// snapshot whose config has the same upstream (same Spec fingerprint) and
// lives in the Registry; health state lives in the registry by address.
type Balancer struct {
	spec *Spec
	reg  *Registry
	refs int // under reg.mu

	ring    atomic.Pointer[ring]
	next    atomic.Uint32 // round-robin pointer / tie breaker
	cancel  context.CancelFunc
	done    chan struct{} // closed when the DNS goroutine ends (nil: none)
	created time.Time
}

// Name is the upstream's name.
func (b *Balancer) Name() string { return b.spec.Name }

// Spec is what the balancer was built from (read-only).
func (b *Balancer) Spec() *Spec { return b.spec }

// Input is what hashing needs from a request (hash_on sources).
type Input interface {
	ClientIP() string
	// ConsumerID is the authenticated consumer's id, else the credential's
	// id, else "".
	ConsumerID() string
	// Header is a request header (all values joined with ", ").
	Header(name string) (string, bool)
	Cookie(name string) (string, bool)
	// Path is the normalized request path.
	Path() string
	// QueryArg is a query argument; repeated ones sorted and joined with ",".
	QueryArg(name string) (string, bool)
	URICapture(name string) (string, bool)
}

// Handle is one request's balancer state across its attempts. The zero
// value is ready; Done must be called once the request is over.
type Handle struct {
	b       *Balancer
	hash    uint32
	hashed  bool
	last    *Address
	counted *Address
	start   time.Time
	// SetCookie, when not "", is a Set-Cookie value the response must carry
	// (hash_on cookie with no cookie in the request).
	SetCookie string
}

// Reset clears the handle for reuse.
func (h *Handle) Reset() { *h = Handle{} }

// Last is the address of the latest attempt.
func (h *Handle) Last() *Address { return h.last }

// Pick chooses the address for the next attempt of a request. A retry
// never gets the address of the previous attempt while another one is
// available.
func (b *Balancer) Pick(in Input, h *Handle) (*Address, error) {
	h.release(false)
	if h.b != b {
		*h = Handle{b: b, SetCookie: h.SetCookie}
	}
	r := b.ring.Load()
	if r == nil || len(r.addrs) == 0 || !b.healthyEnough(r) {
		return nil, ErrNoPeer
	}
	var a *Address
	switch b.spec.Algorithm {
	case ConsistentHashing:
		if !h.hashed {
			h.hash = hashString(b.hashInput(in, h)) % uint32(len(r.cont))
			h.hashed = true
		}
		a = r.pickHash(h.hash, h.last)
	case LeastConnections:
		a = r.pickScore(b.next.Add(1), h.last, func(a *Address) float64 {
			return float64(a.st.active.Load()+1) / float64(a.Weight)
		})
	case Latency:
		a = r.pickScore(b.next.Add(1), h.last, func(a *Address) float64 {
			return (a.st.latency() + 1) * float64(a.st.active.Load()+1) / float64(a.Weight)
		})
	default:
		a = r.pickRR(b.next.Add(1), h.last)
	}
	if a == nil {
		return nil, ErrNoPeer
	}
	a.st.active.Add(1)
	h.last, h.counted = a, a
	if b.spec.Algorithm == Latency { // only latency needs the response time
		h.start = time.Now()
	}
	return a, nil
}

// healthyEnough is Kong's balancer health: the available share of the
// weight must exceed healthchecks.threshold percent.
func (b *Balancer) healthyEnough(r *ring) bool {
	th := b.spec.Health.Threshold
	if th <= 0 {
		return true
	}
	avail := 0
	for _, a := range r.addrs {
		if a.st.healthy() {
			avail += a.Weight
		}
	}
	return r.total > 0 && float64(avail)*100/float64(r.total) > th
}

func (r *ring) pickRR(start uint32, last *Address) *Address {
	n := uint32(len(r.wheel))
	for pass := 0; pass < 2; pass++ {
		for i := uint32(0); i < n; i++ {
			a := r.addrs[r.wheel[(start+i)%n]]
			if !a.st.healthy() || (pass == 0 && a == last && len(r.addrs) > 1) {
				continue
			}
			return a
		}
	}
	return nil
}

func (r *ring) pickHash(hash uint32, last *Address) *Address {
	n := len(r.cont)
	for pass := 0; pass < 2; pass++ {
		idx := int(hash)
		for range n {
			if j := r.cont[idx]; j >= 0 {
				a := r.addrs[j]
				if a.st.healthy() && !(pass == 0 && a == last && len(r.addrs) > 1) {
					return a
				}
			}
			idx--
			if idx < 0 {
				idx = n - 1
			}
		}
	}
	return nil
}

func (r *ring) pickScore(start uint32, last *Address, score func(*Address) float64) *Address {
	n := len(r.addrs)
	for pass := 0; pass < 2; pass++ {
		var best *Address
		bs := 0.0
		for i := range n {
			a := r.addrs[(int(start%uint32(n))+i)%n]
			if !a.st.healthy() || (pass == 0 && a == last && n > 1) {
				continue
			}
			if s := score(a); best == nil || s < bs {
				best, bs = a, s
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// Failure kinds for Failed.
const (
	FailTCP     = 1 // connection refused, reset, closed before an answer
	FailTimeout = 2
)

// Failed reports that the latest attempt failed without an HTTP answer
// (passive health checks) and ends its connection count.
func (h *Handle) Failed(kind int) {
	a := h.last
	h.release(false)
	if a == nil {
		return
	}
	o := outTCPFailure
	if kind == FailTimeout {
		o = outTimeout
	}
	h.b.passive(a, o)
}

// Responded reports the status of the upstream's answer to the latest
// attempt (passive health checks).
func (h *Handle) Responded(status int) {
	a := h.last
	if a == nil {
		return
	}
	p := &h.b.spec.Health.Passive
	switch {
	case statusIn(p.Unhealthy.HTTPStatuses, status):
		h.b.passive(a, outHTTPFailure)
	case statusIn(p.Healthy.HTTPStatuses, status):
		h.b.passive(a, outSuccess)
	}
}

// Done ends the request: the connection count drops and the response time
// feeds the latency average. Safe to call more than once.
func (h *Handle) Done() { h.release(true) }

func (h *Handle) release(observe bool) {
	a := h.counted
	if a == nil {
		return
	}
	h.counted = nil
	a.st.active.Add(-1)
	if observe && !h.start.IsZero() {
		now := time.Now()
		a.st.observe(now.Sub(h.start), now)
	}
}

func (b *Balancer) passive(a *Address, o outcome) {
	if !b.spec.Health.Enabled() {
		return
	}
	p := &b.spec.Health.Passive
	if a.st.report(o, &p.Healthy, &p.Unhealthy) {
		b.reg.logChange(b.spec.Name, a, "passive")
	}
}

// ---- building rings

func (b *Balancer) buildRing(ts []*target) *ring {
	r := &ring{targets: ts}
	for _, t := range ts {
		if t.spec.Weight <= 0 {
			continue
		}
		for _, a := range t.addrs {
			if a.Weight > 0 {
				r.addrs = append(r.addrs, a)
				r.total += a.Weight
			}
		}
	}
	sort.SliceStable(r.addrs, func(i, j int) bool {
		if r.addrs[i].Addr != r.addrs[j].Addr {
			return r.addrs[i].Addr < r.addrs[j].Addr
		}
		return r.addrs[i].Target < r.addrs[j].Target
	})
	switch b.spec.Algorithm {
	case ConsistentHashing:
		r.cont = buildContinuum(r.addrs, r.total, len(ts), b.spec.Slots)
	case RoundRobin:
		r.wheel = buildWheel(r.addrs)
	}
	return r
}

// maxWheel bounds the round-robin wheel; larger weight sums are scaled.
const maxWheel = 1 << 16

// buildWheel spreads each address over the wheel in proportion to its
// weight (divided by the weights' gcd), interleaved smoothly so that heavy
// targets never come in long runs.
func buildWheel(addrs []*Address) []uint32 {
	if len(addrs) == 0 {
		return nil
	}
	g, total := 0, 0
	for _, a := range addrs {
		g = gcd(g, a.Weight)
	}
	ws := make([]int, len(addrs))
	for i, a := range addrs {
		ws[i] = a.Weight / g
		total += ws[i]
	}
	if total > maxWheel {
		total = 0
		for i, a := range addrs {
			ws[i] = max(1, int(int64(a.Weight)*maxWheel/int64(sumWeights(addrs))))
			total += ws[i]
		}
	}
	wheel := make([]uint32, 0, total)
	if len(ws)*total <= 1<<22 {
		// nginx's smooth weighted round robin, run over one cycle.
		cur := make([]int, len(ws))
		for range total {
			best := -1
			for i, w := range ws {
				cur[i] += w
				if best < 0 || cur[i] > cur[best] {
					best = i
				}
			}
			cur[best] -= total
			wheel = append(wheel, uint32(best))
		}
		return wheel
	}
	// Many addresses: point k of an address of weight w at virtual time
	// (k+0.5)/w, the wheel in time order (smooth enough, O(n log n)).
	type point struct {
		t   float64
		idx uint32
	}
	pts := make([]point, 0, total)
	for i, w := range ws {
		for k := range w {
			pts = append(pts, point{(float64(k) + 0.5) / float64(w), uint32(i)})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].t < pts[j].t })
	for _, p := range pts {
		wheel = append(wheel, p.idx)
	}
	return wheel
}

func sumWeights(addrs []*Address) int {
	s := 0
	for _, a := range addrs {
		s += a.Weight
	}
	return s
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Continuum constants (Kong's consistent_hashing.lua, Ketama-like).
const (
	serverPoints   = 160
	minContinuum   = 1000
	defContinuum   = 1000
	maxContinuum32 = 1 << 20 // bound for memory; Kong's slots max is 65536
)

// buildContinuum places floor(weight/total * targets * 160) points per
// address (at least one) at hash("ip:port i") mod slots; a collision moves
// the point on to the next i. Addresses are added in sorted order, so the
// same set always gives the same continuum, and adding an address only
// takes the keys that land before its points.
func buildContinuum(addrs []*Address, total, ntargets, slots int) []int32 {
	points := slots
	if points < minContinuum || points > maxContinuum32 {
		points = defContinuum
	}
	cont := make([]int32, points)
	for i := range cont {
		cont[i] = -1
	}
	if total == 0 {
		return cont
	}
	used := 0
	for ai, a := range addrs {
		entries := int(float64(a.Weight) / float64(total) * float64(ntargets) * serverPoints)
		if entries == 0 {
			entries = 1
		}
		var buf []byte
		for i := 1; i <= entries && used < points; i++ {
			buf = append(buf[:0], a.Addr...)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(i), 10)
			idx := hashBytes(buf) % uint32(points)
			if cont[idx] < 0 {
				cont[idx] = int32(ai)
				used++
			} else {
				entries++ // move the collision forward, as Kong does
			}
			if i > 4*points {
				break
			}
		}
	}
	return cont
}

// ---- addresses from targets

// newAddress builds the address of a target for an IP and port.
func newAddress(up string, t *TargetSpec, ip string, port, weight int, host string) *Address {
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	return &Address{IP: ip, Port: port, Addr: addr, Host: host, Target: t.Target, Weight: weight,
		key: stateKey{upstream: up, target: t.Target, addr: addr}}
}

func isIP(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}
