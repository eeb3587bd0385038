package lualib

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Named phase sets of Kong's PDK (kong/pdk/private/phases.lua), spec §2.0.
const (
	phasesREQ = PhaseRewrite | PhaseAccess | PhaseBalancer | PhaseResponse | PhaseClusterListener |
		PhaseHeaderFilter | PhaseBodyFilter | PhaseLog | PhaseError | PhaseAdminAPI
	phasesBeforeContent = PhaseRewrite | PhaseAccess | PhaseResponse | PhaseError | PhaseAdminAPI
	phasesRespGet       = PhaseResponse | PhaseHeaderFilter | PhaseBodyFilter | PhaseLog | PhaseError | PhaseAdminAPI
	phasesRespSet       = PhaseRewrite | PhaseAccess | PhaseBalancer | PhaseResponse | PhaseHeaderFilter |
		PhaseError | PhaseAdminAPI
	phasesSvcRWBL     = PhaseRewrite | PhaseAccess | PhaseBalancer
	phasesSvcRW       = PhaseRewrite | PhaseAccess
	phasesSvcResp     = PhaseResponse | PhaseHeaderFilter | PhaseBodyFilter | PhaseLog
	phasesAuthLater   = PhaseAccess | PhaseResponse | PhaseHeaderFilter | PhaseBodyFilter | PhaseLog
	phasesCTX         = PhaseRewrite | PhaseAccess | PhaseResponse | PhaseHeaderFilter | PhaseBodyFilter | PhaseLog
	phasesAll         = PhaseAdminAPI<<1 - 1
	phasesNotIW       = phasesAll &^ PhaseInitWorker
	phasesNgxOutput   = PhaseRewrite | PhaseAccess | PhaseResponse | PhaseError
	phasesNgxExit     = phasesNgxOutput | PhaseHeaderFilter
	phasesNgxReqWrite = PhaseRewrite | PhaseAccess | PhaseBalancer | PhaseResponse | PhaseError
)

var phaseNames = [...]string{
	"init_worker", "certificate", "client_hello", "rewrite", "access", "balancer", "response",
	"cluster_listener", "header_filter", "body_filter", "log", "preread", "error", "admin_api",
}

// String is Kong's name of the phase ("access", "header_filter" ...). A mask
// of several phases prints as a comma-separated list in bit order.
func (p Phase) String() string {
	if p == 0 {
		return "init_worker"
	}
	var b strings.Builder
	for i, n := range phaseNames {
		if p&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// ngxPhaseName is ngx.get_phase()'s name for a Kong phase.
func ngxPhaseName(p Phase) string {
	switch p {
	case PhaseInitWorker:
		return "init_worker"
	case PhaseCertificate:
		return "ssl_cert"
	case PhaseClientHello:
		return "ssl_client_hello"
	case PhaseRewrite:
		return "rewrite"
	case PhaseAccess:
		return "access"
	case PhaseBalancer:
		return "balancer"
	case PhaseResponse, PhaseError, PhaseAdminAPI:
		return "content"
	case PhaseHeaderFilter:
		return "header_filter"
	case PhaseBodyFilter:
		return "body_filter"
	case PhaseLog:
		return "log"
	case PhasePreread:
		return "preread"
	}
	return "timer"
}

// curPhase is the phase the PDK believes it is in: the one given by
// SetPhase, else the bound request's, else init_worker (no request bound).
func (p *pdk) curPhase() Phase {
	if p.phase != 0 {
		return p.phase
	}
	if p.ex != nil {
		if ph := p.ex.Phase(); ph != 0 {
			return ph
		}
	}
	return PhaseInitWorker
}

// check raises Kong's phase error at the caller's position when the current
// phase is not in allowed.
func (p *pdk) check(L *lua.LState, allowed Phase) {
	ph := p.curPhase()
	if ph&allowed != 0 {
		return
	}
	if allowed == phasesNotIW {
		raise(L, "function cannot be called in %s phase (can be called in any phases except: init_worker)", ph)
	}
	raise(L, "function cannot be called in %s phase (only in: %s)", ph, allowed)
}

// exchange returns the bound request, raising an error when there is none
// (only reachable through functions whose phase set includes init_worker).
func (p *pdk) exchange(L *lua.LState) Exchange {
	if p.ex == nil {
		raise(L, "no request is being processed")
	}
	return p.ex
}
