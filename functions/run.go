package functions

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
)

// run calls one function in this state with Kong's execution model
// (spec 1.4): the first call runs the chunk; if it returns a function, that
// function is kept and called now and on every later request (with the
// plugin's conf, DECISIONS row 6); otherwise the chunk runs on every
// request. A first run that ends early (exit or error) leaves the chunk in
// place: Kong's quirk.
func (st *state) run(h *Handler, r fnRef) error {
	s := &st.slots[r.slot]
	L := st.L
	if s.fn == nil {
		s.fn = &lua.LFunction{Proto: r.fn.Proto, Env: st.sandbox.newEnv(L)}
	}
	if s.closure {
		L.Push(s.fn)
		L.Push(st.conf(h))
		return st.call(1, 0)
	}
	if s.ran {
		L.Push(s.fn)
		return st.call(0, 0)
	}
	s.ran = true
	L.Push(s.fn)
	if err := st.call(0, 1); err != nil {
		return err
	}
	ret := L.Get(-1)
	L.Pop(1)
	f, ok := ret.(*lua.LFunction)
	if !ok {
		return nil
	}
	s.fn, s.closure = f, true
	L.Push(f)
	L.Push(st.conf(h))
	return st.call(1, 0)
}

// call runs the function and arguments on top of the stack under the
// watchdog: past lua_max_execution_time, or when the heap grows by more
// than Settings.MaxCallMemory during the call, the state's context is
// cancelled, the VM raises an error at its next instruction and the state
// is marked for discarding when the request releases it.
func (st *state) call(nargs, nret int) error {
	if st.fired {
		// The rest of the request (later phases, other plugins) still
		// runs on this state; it is discarded at release.
		st.arm()
	}
	st.wd.begin()
	err := st.L.PCall(nargs, nret, nil)
	if why := st.wd.end(); why != stopNone {
		st.fired, st.broken, st.stopped = true, true, why // the context is cancelled
	}
	return err
}

// conf returns the plugin instance's config as a Lua table, built once per
// state.
func (st *state) conf(h *Handler) *lua.LTable {
	t := st.confs[h.conf]
	if t == nil {
		t = toLua(st.L, h.raw).(*lua.LTable)
		st.confs[h.conf] = t
	}
	return t
}

// toLua converts a decoded config value (JSON/YAML shapes, json.Number
// numbers) to a Lua value.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return lua.LString(v)
		}
		return lua.LNumber(f)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case []string:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(lua.LString(e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v))
}

// RuntimeError is a Lua error raised while a function ran.
type RuntimeError struct {
	Plugin    string
	Phase     lualib.Phase
	Chunk     string // chunk name: [string "..."] or the file path
	Message   string // as Lua reports it: `[string "error('x')"]:1: x`
	Traceback string // "stack traceback:\n\t..."
	// Timeout: lua_max_execution_time was exceeded. Timeouts and limit
	// breaches (stack, registry) discard the state.
	Timeout bool
	Limit   bool
}

func (e *RuntimeError) Error() string {
	if e.Traceback == "" {
		return e.Message
	}
	return e.Message + "\n" + e.Traceback
}

// runtimeError describes a failed call and marks the state for discarding
// when the failure may have left it unusable.
func (st *state) runtimeError(h *Handler, fn *Function, phase lualib.Phase, err error) *RuntimeError {
	re := &RuntimeError{Plugin: h.name, Phase: phase, Chunk: fn.Name, Message: err.Error()}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		re.Message, re.Traceback = errorValueString(ae.Object), ae.StackTrace
		if ae.Type == lua.ApiErrorPanic {
			re.Limit = true // a Go panic inside the VM: its stacks may be inconsistent
		}
	}
	switch {
	case st.ctx.Err() != nil:
		re.Timeout = st.stopped != stopMemory
		re.Limit = st.stopped == stopMemory
		re.Message = strings.TrimSuffix(re.Message, st.ctx.Err().Error()) + st.wd.stopMessage(st.stopped)
	case strings.HasSuffix(re.Message, "stack overflow"), strings.HasSuffix(re.Message, "registry overflow"),
		strings.Contains(re.Message, "callstack overflow"):
		re.Limit = true
	}
	if re.Timeout || re.Limit {
		st.broken = true
	}
	return re
}

// errorValueString renders an error value as Lua's error handler would.
func errorValueString(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	case *lua.LNilType:
		return "nil"
	}
	return fmt.Sprintf("(error object is a %s value)", v.Type())
}

func phaseIndex(p lualib.Phase) int { return bits.TrailingZeros16(uint16(p)) & 15 }
