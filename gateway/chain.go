package gateway

import (
	"sort"

	"luagate/declarative"
	"luagate/functions"
	"luagate/lualib"
)

// runner runs one plugin instance's handlers. *functions.Handler implements
// it; Go-native plugin kinds will too.
type runner interface {
	// Phases is the mask of phases with something to run.
	Phases() lualib.Phase
	// Run runs the handlers of one phase. lease is the request's Lua state
	// lease (see functions.Handler.Run); non-Lua runners ignore it.
	Run(phase lualib.Phase, ex lualib.Exchange, lease **functions.Lease) error
}

// instance is one plugin instance in a chain.
type instance struct {
	plugin   *declarative.Plugin
	name     string
	id       string
	priority int
	phases   lualib.Phase
	lua      bool // runs Lua: needs the request's lease
	http     bool // protocols include http
	https    bool // protocols include https
	run      runner
}

// Phases a chain runs, in order.
const (
	phRewrite = iota
	phAccess
	phHeaderFilter
	phBodyFilter
	phLog
	numPhases
)

var phaseBits = [numPhases]lualib.Phase{
	phRewrite:      lualib.PhaseRewrite,
	phAccess:       lualib.PhaseAccess,
	phHeaderFilter: lualib.PhaseHeaderFilter,
	phBodyFilter:   lualib.PhaseBodyFilter,
	phLog:          lualib.PhaseLog,
}

var phaseNames = [numPhases]string{"rewrite", "access", "header_filter", "body_filter", "log"}

// chain is the plugin list of one (route, service, consumer) scope, sorted by
// priority (highest first), with one list per phase. Immutable.
type chain struct {
	all     []*instance
	byPhase [numPhases][]*instance
	// luaPhases has a bit for every phase in which some instance runs Lua.
	luaPhases lualib.Phase
}

func (c *chain) has(ph int) bool { return c != nil && len(c.byPhase[ph]) > 0 }

// lastLuaPhase is the index of the last phase with Lua, -1 when none.
func (c *chain) lastLuaPhase() int {
	for ph := numPhases - 1; ph >= 0; ph-- {
		if c.luaPhases&phaseBits[ph] != 0 {
			return ph
		}
	}
	return -1
}

// scopeRank is Kong's plugin precedence (most specific first):
// consumer+route+service, consumer+route, consumer+service, route+service,
// consumer, route, service, global. 0 means the instance does not apply.
func scopeRank(p *declarative.Plugin, r *declarative.Route, s *declarative.Service, c *declarative.Consumer) int {
	if p.Route != nil && p.Route != r {
		return 0
	}
	if p.Service != nil && p.Service != s {
		return 0
	}
	if p.Consumer != nil && p.Consumer != c {
		return 0
	}
	hasC, hasR, hasS := p.Consumer != nil, p.Route != nil, p.Service != nil
	switch {
	case hasC && hasR && hasS:
		return 8
	case hasC && hasR:
		return 7
	case hasC && hasS:
		return 6
	case hasR && hasS:
		return 5
	case hasC:
		return 4
	case hasR:
		return 3
	case hasS:
		return 2
	}
	return 1
}

// buildChain picks, for every plugin name, the most specific enabled
// instance for the scope (the first one in file order on a tie), and sorts
// the result by priority. Rewrite handlers run only for global instances
// (no route is known yet in Kong's rewrite phase).
func buildChain(insts []*instance, r *declarative.Route, s *declarative.Service, c *declarative.Consumer) *chain {
	best := make(map[string]*instance)
	rank := make(map[string]int)
	for _, in := range insts {
		k := scopeRank(in.plugin, r, s, c)
		if k == 0 {
			continue
		}
		if k > rank[in.name] {
			rank[in.name] = k
			best[in.name] = in
		}
	}
	ch := &chain{}
	for _, in := range best {
		ch.all = append(ch.all, in)
	}
	sort.Slice(ch.all, func(i, j int) bool {
		a, b := ch.all[i], ch.all[j]
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		return a.name < b.name
	})
	for _, in := range ch.all {
		global := in.plugin.Route == nil && in.plugin.Service == nil && in.plugin.Consumer == nil
		for ph := 0; ph < numPhases; ph++ {
			if in.phases&phaseBits[ph] == 0 {
				continue
			}
			if ph == phRewrite && !global {
				continue
			}
			ch.byPhase[ph] = append(ch.byPhase[ph], in)
			if in.lua {
				ch.luaPhases |= phaseBits[ph]
			}
		}
	}
	return ch
}

// scopedChains holds the chain of one route (or of "no route") without a
// consumer, plus one per consumer that has plugins of its own.
type scopedChains struct {
	base       *chain
	byConsumer map[*declarative.Consumer]*chain
}

func (sc *scopedChains) forConsumer(c *declarative.Consumer) *chain {
	if c != nil {
		if ch, ok := sc.byConsumer[c]; ok {
			return ch
		}
	}
	return sc.base
}

func buildScopedChains(insts []*instance, consumers []*declarative.Consumer, r *declarative.Route, s *declarative.Service) *scopedChains {
	sc := &scopedChains{base: buildChain(insts, r, s, nil)}
	for _, c := range consumers {
		if sc.byConsumer == nil {
			sc.byConsumer = make(map[*declarative.Consumer]*chain)
		}
		sc.byConsumer[c] = buildChain(insts, r, s, c)
	}
	return sc
}
