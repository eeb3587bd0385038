package lualib

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// kong.client (spec §2.5).

func (p *pdk) openClient() {
	t := p.sub(p.kong, "client")
	p.set(t, "get_ip", p.cliGetIP)
	p.set(t, "get_forwarded_ip", p.cliGetForwardedIP)
	p.set(t, "get_port", p.cliGetPort)
	p.set(t, "get_forwarded_port", p.cliGetForwardedPort)
	p.set(t, "get_consumer", p.cliGetConsumer)
	p.set(t, "get_credential", p.cliGetCredential)
	p.set(t, "authenticate", p.cliAuthenticate)
	p.set(t, "load_consumer", p.cliLoadConsumer)
	p.set(t, "get_protocol", p.cliGetProtocol)
}

func (p *pdk) cliGetIP(L *lua.LState) int {
	p.check(L, phasesNotIW)
	L.Push(lua.LString(p.exchange(L).ClientIP()))
	return 1
}

func (p *pdk) cliGetForwardedIP(L *lua.LState) int {
	p.check(L, phasesNotIW)
	L.Push(lua.LString(p.exchange(L).ForwardedIP()))
	return 1
}

func (p *pdk) cliGetPort(L *lua.LState) int {
	p.check(L, phasesNotIW)
	L.Push(lua.LNumber(p.exchange(L).ClientPort()))
	return 1
}

func (p *pdk) cliGetForwardedPort(L *lua.LState) int {
	p.check(L, phasesNotIW)
	L.Push(lua.LNumber(p.exchange(L).ForwardedPort()))
	return 1
}

// cliGetConsumer returns the table given to kong.client.authenticate in
// this request, else the consumer the gateway knows (converted on each call:
// a Go plugin may authenticate between two Lua phases).
func (p *pdk) cliGetConsumer(L *lua.LState) int {
	p.check(L, phasesAuthLater)
	ex := p.exchange(L)
	if p.consumer != nil {
		L.Push(p.consumer)
		return 1
	}
	L.Push(p.toLuaOrNil(ex.Consumer()))
	return 1
}

func (p *pdk) cliGetCredential(L *lua.LState) int {
	p.check(L, phasesAuthLater)
	ex := p.exchange(L)
	if p.credential != nil {
		L.Push(p.credential)
		return 1
	}
	L.Push(p.toLuaOrNil(ex.Credential()))
	return 1
}

func (p *pdk) cliAuthenticate(L *lua.LState) int {
	p.check(L, PhaseAccess)
	consumer, credential := L.Get(1), L.Get(2)
	if _, ok := consumer.(*lua.LTable); !ok && consumer != lua.LNil {
		raise(L, "consumer must be a table or nil")
	}
	if _, ok := credential.(*lua.LTable); !ok && credential != lua.LNil {
		raise(L, "credential must be a table or nil")
	}
	if consumer == lua.LNil && credential == lua.LNil {
		raise(L, "either credential or consumer must be provided")
	}
	var cm, crm map[string]any
	if t, ok := consumer.(*lua.LTable); ok {
		cm, _ = p.fromLua(t, 0).(map[string]any)
		if cm == nil {
			cm = map[string]any{}
		}
	}
	if t, ok := credential.(*lua.LTable); ok {
		crm, _ = p.fromLua(t, 0).(map[string]any)
		if crm == nil {
			crm = map[string]any{}
		}
	}
	p.exchange(L).Authenticate(cm, crm)
	p.consumer, p.credential = consumer, credential
	return 0
}

// isUUID checks the 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !ishex(c) {
			return false
		}
	}
	return true
}

func (p *pdk) cliLoadConsumer(L *lua.LState) int {
	p.check(L, phasesAuthLater)
	id, ok := L.Get(1).(lua.LString)
	if !ok {
		raise(L, "consumer_id must be a string")
	}
	byUsername := lua.LVAsBool(L.Get(2))
	if !isUUID(string(id)) && !byUsername {
		raise(L, "cannot load a consumer with an id that is not a uuid")
	}
	ex := p.exchange(L)
	var c map[string]any
	found := false
	if isUUID(string(id)) {
		c, found = ex.LoadConsumer(string(id), false)
	}
	if !found && byUsername {
		c, found = ex.LoadConsumer(string(id), true)
	}
	if !found {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(p.toLua(c))
	return 1
}

func (p *pdk) cliGetProtocol(L *lua.LState) int {
	p.check(L, phasesAuthLater)
	ex := p.exchange(L)
	route := ex.RouteInfo()
	if route == nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("No active route found"))
		return 2
	}
	var protos []string
	switch x := route["protocols"].(type) {
	case []string:
		protos = x
	case []any:
		for _, v := range x {
			if s, ok := v.(string); ok {
				protos = append(protos, s)
			}
		}
	}
	if len(protos) == 1 {
		L.Push(lua.LString(protos[0]))
		return 1
	}
	scheme := ex.Scheme()
	if lua.LVAsBool(L.Get(1)) && p.trustedClient(ex) {
		if v, ok := ex.RequestHeader("X-Forwarded-Proto"); ok {
			scheme = strings.ToLower(v)
		}
	}
	if scheme == "https" {
		L.Push(lua.LString("https"))
	} else {
		L.Push(lua.LString("http"))
	}
	return 1
}
