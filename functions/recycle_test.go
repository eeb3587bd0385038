package functions

import (
	"testing"
	"time"

	"luagate/declarative"
	"luagate/lualib"
)

// A state leaves a retired set for the next one: the next set's functions
// run on it, fresh (first run, private environment, conf), and no state is
// built for it.
func TestRecyclerHandsStatesToTheNextSet(t *testing.T) {
	rc := NewRecycler(4)
	defer rc.Close()
	f := newFakeVM()
	s := Settings{Recycler: rc}

	// old set: a chunk that leaves a global in its environment and returns
	// a closure with state
	pa := testPlugin(t, PreFunction, "a", access(`seen = "a"; local n = 0; return function() n = n + 1; `+out(`"a" .. n`)+` end`))
	a, err := newSet(&declarative.Config{Plugins: []*declarative.Plugin{pa}}, s, f.vm())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := request(t, a.Handler(pa), lualib.PhaseAccess, newEx()); err != nil {
			t.Fatal(err)
		}
	}
	built := f.states()
	a.Close()
	if rc.Idle() != 1 {
		t.Fatalf("recycler keeps %d states after the set closed, want 1", rc.Idle())
	}

	pb := testPlugin(t, PreFunction, "b", access(out(`tostring(seen)`)))
	b := testSet(t, s, f, pb)
	if f.states() != built {
		t.Errorf("the new set built %d states, want it to take the recycled one", f.states()-built)
	}
	if rc.Idle() != 0 {
		t.Errorf("recycler still keeps %d states", rc.Idle())
	}
	ex := newEx()
	if err := request(t, b.Handler(pb), lualib.PhaseAccess, ex); err != nil {
		t.Fatal(err)
	}
	if got := upHeader(ex, "X-Out"); got != "nil" {
		t.Errorf("the old chunk's global is visible to the new set's function: %q", got)
	}
}

// A state a timeout broke is closed, not recycled; a full or closed
// recycler closes what it is offered.
func TestRecyclerKeepsOnlySoundStates(t *testing.T) {
	rc := NewRecycler(1)
	f := newFakeVM()
	s := Settings{Recycler: rc, MaxExecutionTime: 20 * time.Millisecond}
	p := testPlugin(t, PreFunction, "p", access(`while true do end`))
	set, err := newSet(&declarative.Config{Plugins: []*declarative.Plugin{p}}, s, f.vm())
	if err != nil {
		t.Fatal(err)
	}
	if err := request(t, set.Handler(p), lualib.PhaseAccess, newEx()); err == nil {
		t.Fatal("endless loop not stopped")
	}
	set.Close()
	if rc.Idle() != 0 {
		t.Fatalf("a timed-out state was recycled")
	}
	if f.closed() != 1 {
		t.Errorf("%d states closed, want the broken one", f.closed())
	}

	// two sound states for a recycler of one: one kept, one closed
	q := testPlugin(t, PreFunction, "q", access(`local x = 1`))
	set2, err := newSet(&declarative.Config{Plugins: []*declarative.Plugin{q}}, s, f.vm())
	if err != nil {
		t.Fatal(err)
	}
	h := set2.Handler(q)
	var l1, l2 *Lease
	if err := h.Run(lualib.PhaseAccess, newEx(), &l1); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(lualib.PhaseAccess, newEx(), &l2); err != nil {
		t.Fatal(err)
	}
	set2.Close()
	l1.Release()
	l2.Release()
	if rc.Idle() != 1 || f.closed() != 2 {
		t.Errorf("recycler of 1: %d kept, %d closed in all; want 1 kept, 2 closed", rc.Idle(), f.closed())
	}
	rc.Close()
	if rc.Idle() != 0 || f.closed() != 3 {
		t.Errorf("after Close: %d kept, %d closed; want 0, 3", rc.Idle(), f.closed())
	}
}
