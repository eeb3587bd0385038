package lualib

import (
	"fmt"
	"sync"
	"testing"
)

// shTestDicts returns dicts whose clock the test controls (unix ms).
func shTestDicts(sizes map[string]int) (*SharedDicts, *int64) {
	d := NewSharedDicts(sizes)
	clock := new(int64)
	*clock = 1_000_000
	for _, s := range d.store().dicts {
		s.now = func() int64 { return *clock }
	}
	return d, clock
}

func TestSharedDictBasics(t *testing.T) {
	d, _ := shTestDicts(map[string]int{"cache": 1 << 20, "other": 1 << 20})
	L := modState(t, d)
	if err := L.DoString(`dict = ngx.shared.cache`); err != nil {
		t.Fatal(err)
	}
	runModCases(t, L, []modCase{
		{"unknown dict", `return ngx.shared.nope`, `nil`, ""},
		{"set get", `local ok, err, forcible = dict:set("k", "v"); return ok, err, forcible, dict:get("k")`, `true|nil|false|v`, ""},
		{"types", `dict:set("n", 1.5); dict:set("b", false); dict:set("s", ""); return dict:get("n"), dict:get("b"), dict:get("s"), type(dict:get("n"))`, `1.5|false||number`, ""},
		{"bad value type", `return dict:set("t", {})`, `nil|bad value type`, ""},
		{"nil value deletes", `dict:set("d", 1); dict:set("d", nil); return dict:get("d")`, `nil`, ""},
		{"flags", `dict:set("f", "v", 0, 7); return dict:get("f")`, `v|7`, ""},
		{"no flags returns one value", `dict:set("nf", "v"); return select("#", dict:get("nf"))`, `1`, ""},
		{"nil key", `return dict:get(nil)`, `nil|nil key`, ""},
		{"empty key", `return dict:set("", 1)`, `nil|empty key`, ""},
		{"long key", `return dict:set(string.rep("k", 65536), 1)`, `nil|key too long`, ""},
		{"number key", `dict:set(12, "twelve"); return dict:get("12")`, `twelve`, ""},
		{"add existing", `dict:set("a", 1); return dict:add("a", 2)`, `false|exists|false`, ""},
		{"add new", `local ok, err, forcible = dict:add("a2", 2); return ok, err, forcible, dict:get("a2")`, `true|nil|false|2`, ""},
		{"safe_add", `return dict:safe_add("a3", 3)`, `true|nil|false`, ""},
		{"replace missing", `return dict:replace("nope", 1)`, `false|not found|false`, ""},
		{"replace existing", `dict:set("r", 1); dict:replace("r", 2); return dict:get("r")`, `2`, ""},
		{"incr", `dict:set("c", 1); return dict:incr("c", 2)`, `3`, ""},
		{"incr missing", `return dict:incr("missing", 1)`, `nil|not found`, ""},
		{"incr init", `return dict:incr("ci", 1, 10)`, `11|nil|false`, ""},
		{"incr init existing", `return dict:incr("ci", 1, 10)`, `12|nil|false`, ""},
		{"incr non number", `dict:set("str", "x"); return dict:incr("str", 1)`, `nil|not a number`, ""},
		{"incr bad delta", `return dict:incr("c", "abc")`, "", "cannot convert 'string' to 'double'"},
		{"incr bad init", `return dict:incr("c", 1, {})`, "", "bad init arg: number expected, got table"},
		{"incr negative init_ttl", `return dict:incr("c", 1, 0, -1)`, "", `bad "init_ttl" argument`},
		{"incr string delta", `dict:set("c2", 1); return dict:incr("c2", "2")`, `3`, ""},
		{"incr init_ttl without init", `return dict:incr("c", 1, nil, 10)`, "", `must provide "init" when providing "init_ttl"`},
		{"delete", `dict:set("del", 1); local ok, err, forcible = dict:delete("del"); return ok, err, forcible, dict:get("del")`, `true|nil|false|nil`, ""},
		{"negative exptime", `return dict:set("x", 1, -1)`, "", `bad "exptime" argument`},
		{"dot call", `return dict.get("k")`, "", `bad "zone" argument`},
		{"dicts separate", `ngx.shared.other:set("k", "other"); return dict:get("k"), ngx.shared.other:get("k")`, `v|other`, ""},
		{"capacity", `return dict:capacity()`, `1048576`, ""},
		{"free_space pages", `return dict:free_space() % 4096, dict:free_space() <= dict:capacity()`, `0|true`, ""},
		{"ttl no expiry", `dict:set("forever", 1); return dict:ttl("forever")`, `0`, ""},
		{"ttl missing", `return dict:ttl("never-set")`, `nil|not found`, ""},
		{"lists", `return dict:rpush("l", "a"), dict:rpush("l", 2), dict:lpush("l", "z"), dict:llen("l"), dict:lpop("l"), dict:rpop("l"), dict:llen("l")`, `1|2|3|3|z|2|1`, ""},
		{"get on list", `return dict:get("l")`, `nil|value is a list`, ""},
		{"push on scalar", `return dict:lpush("k", "x")`, `nil|value not a list`, ""},
		{"push bad type", `return dict:lpush("l", true)`, `nil|bad value type`, ""},
		{"pop empty removes", `dict:lpop("l"); return dict:lpop("l"), dict:llen("l")`, `nil|0`, ""},
		{"set replaces list", `dict:rpush("l2", "a"); dict:set("l2", "s"); return dict:get("l2")`, `s`, ""},
	})
}

func TestSharedDictTTL(t *testing.T) {
	d, clock := shTestDicts(map[string]int{"d": 1 << 20})
	L := modState(t, d)
	if err := L.DoString(`dict = ngx.shared.d`); err != nil {
		t.Fatal(err)
	}
	step := func(code, want string) {
		t.Helper()
		got, err := modEval(L, code)
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if got != want {
			t.Fatalf("%s = %q, want %q", code, got, want)
		}
	}
	step(`return dict:set("k", "v", 1.5)`, `true|nil|false`)
	step(`return dict:ttl("k")`, `1.5`)
	*clock += 1000
	step(`return dict:get("k"), dict:ttl("k")`, `v|0.5`)
	*clock += 500
	step(`return dict:get("k")`, `nil`)
	step(`return dict:get_stale("k")`, `v|nil|true`)
	step(`return dict:ttl("k")`, `nil|not found`)
	step(`return dict:add("k", "new")`, `true|nil|false`) // expired counts as absent
	step(`return dict:get_stale("k")`, `new|nil|false`)
	step(`return dict:expire("k", 2)`, `true`)
	*clock += 1999
	step(`return dict:get("k")`, `new`)
	*clock += 1
	step(`return dict:get("k"), dict:expire("k", 1)`, `nil|nil|not found`)
	step(`return dict:replace("k", "x")`, `false|not found|false`)
	step(`return dict:incr("k", 1)`, `nil|not found`)
	step(`local n, err, f = dict:incr("k", 1, 0, 10); return n, err, f, dict:ttl("k")`, `1|nil|false|10`)
	step(`local n, err = dict:incr("k", 1); return n, err, dict:ttl("k")`, `2|nil|10`)
	step(`return select("#", dict:incr("k", 1))`, `1`) // incr keeps the ttl
	step(`dict:set("p", 1); dict:expire("p", 0); return dict:ttl("p")`, `0`)
	// flush_all expires everything; flush_expired removes them.
	step(`dict:set("a", 1); dict:set("b", 2); dict:flush_all(); return dict:get("a"), dict:get_stale("a")`, `nil|1|nil|true`)
	step(`return #dict:get_keys(0)`, `0`)
	step(`return dict:flush_expired(1)`, `1`)
	step(`return dict:flush_expired()`, `3`)
	step(`return dict:flush_expired()`, `0`)
	step(`return dict:get_stale("a")`, `nil`)
}

func TestSharedDictKeysAndEviction(t *testing.T) {
	d, _ := shTestDicts(map[string]int{"small": 4096})
	L := modState(t, d)
	if err := L.DoString(`dict = ngx.shared.small`); err != nil {
		t.Fatal(err)
	}
	runModCases(t, L, []modCase{
		{"get_keys default max", `for i = 1, 3 do dict:set("k" .. i, i) end; local keys = dict:get_keys(); table.sort(keys); return table.concat(keys, ",")`, `k1,k2,k3`, ""},
		{"get_keys max", `return #dict:get_keys(2)`, `2`, ""},
		{"too big", `return dict:set("big", string.rep("x", 5000))`, `false|no memory|false`, ""},
		{"safe_set refuses to evict", `dict:flush_all(); dict:flush_expired(); for i = 1, 3 do dict:set("f" .. i, string.rep("x", 1000)) end; return dict:safe_set("g", string.rep("y", 1000))`, `false|no memory|false`, ""},
		{"set evicts LRU", `dict:get("f1"); local ok, err, forcible = dict:set("g", string.rep("y", 1000)); return ok, forcible, dict:get("f1") ~= nil, dict:get("f2")`, `true|true|true|nil`, ""},
	})
}

func TestSharedDictConcurrentIncr(t *testing.T) {
	d := NewSharedDicts(map[string]int{"c": 1 << 20})
	const workers, per = 4, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			L := modState(t, d)
			for i := 0; i < per; i++ {
				if _, err := modEval(L, `local n, err = ngx.shared.c:incr("hits", 1, 0); assert(n, err); ngx.shared.c:set("w", "x")`); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	L := modState(t, d)
	got, err := modEval(L, `return ngx.shared.c:get("hits")`)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(workers * per); got != want {
		t.Errorf("hits = %s, want %s", got, want)
	}
}

func TestSharedDictsNames(t *testing.T) {
	d := NewSharedDicts(map[string]int{"b": 10, "a": 10})
	if got := fmt.Sprint(d.Names()); got != "[a b]" {
		t.Errorf("Names() = %s", got)
	}
	var nilDicts *SharedDicts
	if nilDicts.Names() != nil {
		t.Errorf("nil SharedDicts has names")
	}
	L := modState(t, nil)
	if got, _ := modEval(L, `return next(ngx.shared)`); got != "nil" {
		t.Errorf("ngx.shared without dicts = %q", got)
	}
}

func TestParseSharedDictSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  bool
	}{
		{"12m", 12 << 20, false},
		{"512k", 512 << 10, false},
		{"1G", 1 << 30, false},
		{"8192", 8192, false},
		{" 5m ", 5 << 20, false},
		{"", 0, true},
		{"m", 0, true},
		{"-1k", 0, true},
		{"12mb", 0, true},
	} {
		got, err := ParseSharedDictSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSharedDictSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestKongSharedDictSizes(t *testing.T) {
	sizes := KongSharedDictSizes()
	for _, name := range []string{"kong", "kong_rate_limiting_counters", "kong_db_cache", "prometheus_metrics"} {
		if sizes[name] <= 0 {
			t.Errorf("missing Kong dict %q", name)
		}
	}
	L := modState(t, NewSharedDicts(sizes))
	if got, err := modEval(L, `return ngx.shared.kong_rate_limiting_counters:capacity()`); err != nil || got != "12582912" {
		t.Errorf("capacity = %q, %v", got, err)
	}
}
