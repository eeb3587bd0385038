package functions

import (
	lua "github.com/yuin/gopher-lua"

	"luagate/lualib"
)

// vm is what the runner needs from the PDK: lualib in production; tests may
// substitute a minimal PDK to exercise the runner on its own.
type vm struct {
	newState  func(lualib.StateOptions) *lua.LState
	bind      func(*lua.LState, lualib.Exchange)
	unbind    func(*lua.LState)
	setPlugin func(L *lua.LState, name, instanceID string)
	setPhase  func(*lua.LState, lualib.Phase)
	isExit    func(error) bool
}

func lualibVM() vm {
	return vm{
		newState:  lualib.NewState,
		bind:      lualib.Bind,
		unbind:    lualib.Unbind,
		setPlugin: lualib.SetPlugin,
		setPhase:  lualib.SetPhase,
		isExit:    lualib.IsExit,
	}
}
