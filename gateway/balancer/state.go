package balancer

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// state is what the registry keeps for one address of one target of one
// upstream, across reloads: health and its counters, connections in flight
// (least-connections) and the latency average (latency). Keyed by upstream
// name, target and address; shared by every balancer of that upstream
// while any of them holds it.
type state struct {
	unhealthy atomic.Bool
	active    atomic.Int64 // requests in flight

	mu                  sync.Mutex
	successes           int
	httpFails, tcpFails int
	timeouts            int
	ewma                float64 // ms
	ewmaAt              time.Time
	refs                int // registry-owned (under Registry.mu)
	changedAt           time.Time
	lastChangeWasManual bool
	onChange            func(healthy bool) // log hook, set by the registry
}

type outcome int

const (
	outSuccess outcome = iota
	outHTTPFailure
	outTCPFailure
	outTimeout
)

// report counts one result against the thresholds (lua-resty-healthcheck's
// consecutive counters: a success clears the failure counters, a failure
// clears the success counter; reaching a threshold flips the health and
// clears every counter). Zero thresholds never flip. Returns true when the
// health changed.
func (s *state) report(o outcome, healthy, unhealthy *Thresholds) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	isUnhealthy := s.unhealthy.Load()
	flip := false
	switch o {
	case outSuccess:
		if healthy.Successes == 0 {
			return false
		}
		s.httpFails, s.tcpFails, s.timeouts = 0, 0, 0
		if !isUnhealthy {
			return false
		}
		s.successes++
		flip = s.successes >= healthy.Successes
	default:
		limit, ctr := 0, (*int)(nil)
		switch o {
		case outHTTPFailure:
			limit, ctr = unhealthy.HTTPFailures, &s.httpFails
		case outTCPFailure:
			limit, ctr = unhealthy.TCPFailures, &s.tcpFails
		case outTimeout:
			limit, ctr = unhealthy.Timeouts, &s.timeouts
		}
		if limit == 0 {
			return false
		}
		s.successes = 0
		if isUnhealthy {
			return false
		}
		*ctr++
		flip = *ctr >= limit
	}
	if !flip {
		return false
	}
	s.setLocked(isUnhealthy, false) // the opposite of the current health
	return true
}

// set forces the health (Admin API); counters restart.
func (s *state) set(healthy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(healthy, true)
}

func (s *state) setLocked(healthy, manual bool) {
	s.successes, s.httpFails, s.tcpFails, s.timeouts = 0, 0, 0, 0
	was := !s.unhealthy.Load()
	s.unhealthy.Store(!healthy)
	s.changedAt = time.Now()
	s.lastChangeWasManual = manual
	if was != healthy && s.onChange != nil {
		s.onChange(healthy)
	}
}

func (s *state) healthy() bool { return !s.unhealthy.Load() }

// ewmaDecay is the latency algorithm's decay time (Kong's ewma.lua uses 10s).
const ewmaDecay = 10 * time.Second

// observe folds one response time into the moving average.
func (s *state) observe(d time.Duration, now time.Time) {
	ms := float64(d) / float64(time.Millisecond)
	s.mu.Lock()
	if s.ewmaAt.IsZero() {
		s.ewma = ms
	} else {
		w := math.Exp(-float64(now.Sub(s.ewmaAt)) / float64(ewmaDecay))
		s.ewma = s.ewma*w + ms*(1-w)
	}
	s.ewmaAt = now
	s.mu.Unlock()
}

func (s *state) latency() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ewma
}

func statusIn(list []int, status int) bool { return slices.Contains(list, status) }
