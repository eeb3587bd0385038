package lualib_test

import (
	"testing"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// TestConsumerSetByGateway: a Go plugin authenticating after a Lua phase is
// seen by the next Lua phase (no stale cache), and Lua's own authenticate
// hands the same table back.
func TestConsumerSetByGateway(t *testing.T) {
	ex := lualibtest.New()
	L := newTestState(t, ex, lualib.PhaseAccess)
	if err := run(L, "t", `assert_eq(kong.client.get_consumer(), nil)`); err != nil {
		t.Fatal(errText(err))
	}
	ex.ConsumerEnt = map[string]any{"id": "c-1", "username": "alice", "tags": []any{"a"}}
	lualib.SetPhase(L, lualib.PhaseLog)
	if err := run(L, "t", `local c = kong.client.get_consumer()
		assert_eq(c.username, "alice")
		assert_eq(c.tags[1], "a")`); err != nil {
		t.Fatal(errText(err))
	}
	lualib.SetPhase(L, lualib.PhaseAccess)
	if err := run(L, "t", `local mine = { id = "c-2" }
		kong.client.authenticate(mine, nil)
		assert_eq(kong.client.get_consumer() == mine, true)
		assert_eq(kong.client.get_credential(), nil)`); err != nil {
		t.Fatal(errText(err))
	}
	if ex.ConsumerEnt["id"] != "c-2" || ex.CredentialEnt != nil {
		t.Errorf("Authenticate got %v / %v", ex.ConsumerEnt, ex.CredentialEnt)
	}
}
