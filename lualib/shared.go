package lualib

// shared.go: ngx.shared.DICT, the process-wide TTL'd key/value dicts of
// lua-nginx-module, safe for concurrent use by every state.
//
// Each dict has a byte capacity. Items are accounted as key + value + a fixed
// overhead; when a write does not fit, expired items go first, then (except
// for safe_set/safe_add) the least recently used live items, and the write
// reports forcible = true. Expiry times have millisecond resolution, as in
// nginx.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

const (
	shItemOverhead = 64    // accounted per item besides key and value
	shPageSize     = 4096  // free_space() reports whole pages, like nginx
	shMaxKeyLen    = 65535 // lua-nginx-module's key length limit
	shDictType     = "luagate.shdict"
)

type shKind uint8

const (
	shString shKind = iota
	shNumber
	shBool
	shList
)

type shValue struct {
	kind shKind
	str  string
	num  float64
	b    bool
}

func (v shValue) size() int {
	if v.kind == shString {
		return len(v.str)
	}
	return 8
}

func (v shValue) lua() lua.LValue {
	switch v.kind {
	case shString:
		return lua.LString(v.str)
	case shNumber:
		return lua.LNumber(v.num)
	default:
		return lua.LBool(v.b)
	}
}

type shItem struct {
	key     string
	val     shValue
	list    []shValue // kind == shList
	flags   uint32
	expires int64 // unix milliseconds; 0 = never
	size    int
	prev    *shItem // LRU: toward the most recently used end
	next    *shItem
}

func (it *shItem) computeSize() int {
	n := shItemOverhead + len(it.key)
	if it.val.kind == shList {
		for _, v := range it.list {
			n += v.size() + 16
		}
		return n
	}
	return n + it.val.size()
}

// shDict is one ngx.shared.NAME.
type shDict struct {
	name     string
	capacity int
	now      func() int64 // unix milliseconds

	mu    sync.Mutex
	used  int
	items map[string]*shItem
	head  *shItem // most recently used
	tail  *shItem // least recently used
}

type shStore struct {
	dicts map[string]*shDict // fixed after NewSharedDicts
	names []string           // sorted
}

func shNowMillis() int64 { return time.Now().UnixMilli() }

// NewSharedDicts creates the dicts behind ngx.shared, with their capacities
// in bytes (nginx's lua_shared_dict NAME SIZE). Create it once per process
// and pass it to every state through StateOptions.Shared.
func NewSharedDicts(sizes map[string]int) *SharedDicts {
	st := &shStore{dicts: make(map[string]*shDict, len(sizes))}
	for name, size := range sizes {
		st.dicts[name] = &shDict{name: name, capacity: size, now: shNowMillis, items: map[string]*shItem{}}
		st.names = append(st.names, name)
	}
	slices.Sort(st.names)
	return &SharedDicts{impl: st}
}

// KongSharedDictSizes returns the shared dicts Kong's nginx template
// declares, with their default sizes, so that code written for Kong finds
// ngx.shared.kong, ngx.shared.kong_rate_limiting_counters and the others.
func KongSharedDictSizes() map[string]int {
	const m = 1 << 20
	return map[string]int{
		"kong":                        5 * m,
		"kong_locks":                  8 * m,
		"kong_healthchecks":           5 * m,
		"kong_cluster_events":         5 * m,
		"kong_rate_limiting_counters": 12 * m,
		"kong_core_db_cache":          128 * m,
		"kong_core_db_cache_miss":     12 * m,
		"kong_db_cache":               128 * m,
		"kong_db_cache_miss":          12 * m,
		"kong_secrets":                5 * m,
		"prometheus_metrics":          5 * m,
	}
}

// ParseSharedDictSize parses an nginx size ("12m", "512k", "1g", "8192").
func ParseSharedDictSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1<<10, t[:n-1]
		case 'm', 'M':
			mult, t = 1<<20, t[:n-1]
		case 'g', 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.Atoi(t)
	if err != nil || v < 0 || v > (64<<30)/mult {
		return 0, fmt.Errorf("invalid shared dict size %q (want a number with an optional k, m or g suffix)", s)
	}
	return v * mult, nil
}

func (d *SharedDicts) store() *shStore {
	if d == nil {
		return nil
	}
	st, _ := d.impl.(*shStore)
	return st
}

// Names lists the dict names in sorted order.
func (d *SharedDicts) Names() []string {
	st := d.store()
	if st == nil {
		return nil
	}
	return slices.Clone(st.names)
}

// ---------------------------------------------------------------- LRU

func (s *shDict) unlink(it *shItem) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		s.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		s.tail = it.prev
	}
	it.prev, it.next = nil, nil
}

func (s *shDict) pushFront(it *shItem) {
	it.prev = nil
	it.next = s.head
	if s.head != nil {
		s.head.prev = it
	}
	s.head = it
	if s.tail == nil {
		s.tail = it
	}
}

func (s *shDict) touch(it *shItem) {
	if s.head != it {
		s.unlink(it)
		s.pushFront(it)
	}
}

func (s *shDict) remove(it *shItem) {
	s.unlink(it)
	delete(s.items, it.key)
	s.used -= it.size
}

func (it *shItem) expired(now int64) bool { return it.expires != 0 && it.expires <= now }

// lookup returns the live item for key (nil when missing or expired).
func (s *shDict) lookup(key string, now int64) *shItem {
	it := s.items[key]
	if it == nil || it.expired(now) {
		return nil
	}
	return it
}

// makeRoom frees space for need more bytes. It drops expired items first,
// then, unless safe, live items from the LRU end. It reports whether the
// space is available and whether live items were evicted.
func (s *shDict) makeRoom(need int, safe bool, keep *shItem, now int64) (ok, forcible bool) {
	if need > s.capacity {
		return false, false
	}
	if s.used+need <= s.capacity {
		return true, false
	}
	for it := s.tail; it != nil && s.used+need > s.capacity; {
		prev := it.prev
		if it != keep && it.expired(now) {
			s.remove(it)
		}
		it = prev
	}
	if s.used+need <= s.capacity {
		return true, false
	}
	if safe {
		return false, false
	}
	for it := s.tail; it != nil && s.used+need > s.capacity; {
		prev := it.prev
		if it != keep {
			s.remove(it)
			forcible = true
		}
		it = prev
	}
	return s.used+need <= s.capacity, forcible
}

// shExpiresAt converts a TTL in seconds to an expiry time. As in
// lua-resty-core, the TTL is passed on in whole milliseconds, and 0 (also a
// TTL below 1 ms) means no expiry.
func shExpiresAt(now int64, ttl float64) int64 {
	ms := int64(ttl * 1000)
	if ms <= 0 {
		return 0
	}
	return now + ms
}

type shSetMode uint8

const (
	shModeSet shSetMode = iota
	shModeAdd
	shModeReplace
)

// store implements set/safe_set/add/safe_add/replace/delete. val == nil
// deletes. It returns ok, err ("exists", "not found", "no memory") and
// forcible.
func (s *shDict) store(key string, val *shValue, ttl float64, flags uint32, mode shSetMode, safe bool) (bool, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	old := s.items[key]
	live := old != nil && !old.expired(now)
	switch mode {
	case shModeAdd:
		if live {
			return false, "exists", false
		}
	case shModeReplace:
		if !live {
			return false, "not found", false
		}
	}
	if val == nil {
		if old != nil {
			s.remove(old)
		}
		return true, "", false
	}
	it := &shItem{key: key, val: *val, flags: flags, expires: shExpiresAt(now, ttl)}
	it.size = it.computeSize()
	if old != nil {
		s.remove(old)
	}
	ok, forcible := s.makeRoom(it.size, safe, nil, now)
	if !ok {
		return false, "no memory", forcible
	}
	s.items[key] = it
	s.used += it.size
	s.pushFront(it)
	return true, "", forcible
}

func (s *shDict) get(key string, stale bool) (v shValue, flags uint32, found, isStale bool, err string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	it := s.items[key]
	if it == nil {
		return v, 0, false, false, ""
	}
	exp := it.expired(now)
	if exp && !stale {
		return v, 0, false, false, ""
	}
	if it.val.kind == shList {
		return v, 0, false, false, "value is a list"
	}
	s.touch(it)
	return it.val, it.flags, true, exp, ""
}

func (s *shDict) incr(key string, delta float64, init *float64, initTTL float64) (float64, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	it := s.lookup(key, now)
	if it != nil {
		if it.val.kind != shNumber {
			return 0, "not a number", false
		}
		it.val.num += delta
		s.touch(it)
		return it.val.num, "", false
	}
	if init == nil {
		return 0, "not found", false
	}
	if old := s.items[key]; old != nil {
		s.remove(old)
	}
	n := &shItem{key: key, val: shValue{kind: shNumber, num: *init + delta}, expires: shExpiresAt(now, initTTL)}
	n.size = n.computeSize()
	ok, forcible := s.makeRoom(n.size, false, nil, now)
	if !ok {
		return 0, "no memory", forcible
	}
	s.items[key] = n
	s.used += n.size
	s.pushFront(n)
	return n.val.num, "", forcible
}

func (s *shDict) push(key string, v shValue, left bool) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	it := s.lookup(key, now)
	if it == nil {
		if old := s.items[key]; old != nil {
			s.remove(old)
		}
		it = &shItem{key: key, val: shValue{kind: shList}}
		it.size = it.computeSize()
		if ok, _ := s.makeRoom(it.size+v.size()+16, false, nil, now); !ok {
			return 0, "no memory"
		}
		s.items[key] = it
		s.used += it.size
		s.pushFront(it)
	} else if it.val.kind != shList {
		return 0, "value not a list"
	}
	add := v.size() + 16
	if ok, _ := s.makeRoom(add, false, it, now); !ok {
		return 0, "no memory"
	}
	if left {
		it.list = slices.Insert(it.list, 0, v)
	} else {
		it.list = append(it.list, v)
	}
	it.size += add
	s.used += add
	s.touch(it)
	return len(it.list), ""
}

func (s *shDict) pop(key string, left bool) (shValue, bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(key, s.now())
	if it == nil {
		return shValue{}, false, ""
	}
	if it.val.kind != shList {
		return shValue{}, false, "value not a list"
	}
	var v shValue
	if left {
		v = it.list[0]
		it.list = slices.Delete(it.list, 0, 1)
	} else {
		v = it.list[len(it.list)-1]
		it.list = it.list[:len(it.list)-1]
	}
	sz := v.size() + 16
	it.size -= sz
	s.used -= sz
	if len(it.list) == 0 {
		s.remove(it)
	}
	return v, true, ""
}

func (s *shDict) llen(key string) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(key, s.now())
	if it == nil {
		return 0, ""
	}
	if it.val.kind != shList {
		return 0, "value not a list"
	}
	return len(it.list), ""
}

func (s *shDict) ttl(key string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	it := s.lookup(key, now)
	if it == nil {
		return 0, false
	}
	if it.expires == 0 {
		return 0, true
	}
	return float64(it.expires-now) / 1000, true
}

func (s *shDict) expire(key string, ttl float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	it := s.lookup(key, now)
	if it == nil {
		return false
	}
	it.expires = shExpiresAt(now, ttl)
	return true
}

func (s *shDict) flushAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for it := s.head; it != nil; it = it.next {
		// Already expired items keep their time; live ones expire now.
		if !it.expired(now) {
			it.expires = now
			if it.expires == 0 {
				it.expires = -1
			}
		}
	}
}

func (s *shDict) flushExpired(maxCount int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	n := 0
	for it := s.tail; it != nil; {
		prev := it.prev
		if it.expired(now) {
			s.remove(it)
			n++
			if maxCount > 0 && n >= maxCount {
				break
			}
		}
		it = prev
	}
	return n
}

func (s *shDict) keys(maxCount int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []string
	for it := s.head; it != nil; it = it.next {
		if it.expired(now) {
			continue
		}
		out = append(out, it.key)
		if maxCount > 0 && len(out) >= maxCount {
			break
		}
	}
	return out
}

func (s *shDict) freeSpace() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	free := s.capacity - s.used
	if free < 0 {
		free = 0
	}
	return free / shPageSize * shPageSize
}

// ---------------------------------------------------------------- Lua API

// OpenNgxShared installs ngx.shared: one object per dict in d (an empty
// table when d is nil). Methods are called with colon syntax, as in
// OpenResty: ngx.shared.cache:get("k").
func OpenNgxShared(L *lua.LState, ngx *lua.LTable, d *SharedDicts) {
	mt := L.NewTypeMetatable(shDictType)
	methods := L.CreateTable(0, 24)
	L.SetFuncs(methods, map[string]lua.LGFunction{
		"get":           shLuaGet(false),
		"get_stale":     shLuaGet(true),
		"set":           shLuaStore(shModeSet, false),
		"safe_set":      shLuaStore(shModeSet, true),
		"add":           shLuaStore(shModeAdd, false),
		"safe_add":      shLuaStore(shModeAdd, true),
		"replace":       shLuaStore(shModeReplace, false),
		"delete":        shLuaDelete,
		"incr":          shLuaIncr,
		"lpush":         shLuaPush(true),
		"rpush":         shLuaPush(false),
		"lpop":          shLuaPop(true),
		"rpop":          shLuaPop(false),
		"llen":          shLuaLlen,
		"ttl":           shLuaTTL,
		"expire":        shLuaExpire,
		"flush_all":     shLuaFlushAll,
		"flush_expired": shLuaFlushExpired,
		"get_keys":      shLuaGetKeys,
		"capacity":      shLuaCapacity,
		"free_space":    shLuaFreeSpace,
	})
	mt.RawSetString("__index", methods)
	mt.RawSetString("__metatable", lua.LFalse)
	shared := L.NewTable()
	if st := d.store(); st != nil {
		for _, name := range st.names {
			ud := L.NewUserData()
			ud.Value = st.dicts[name]
			ud.Metatable = mt
			shared.RawSetString(name, ud)
		}
	}
	ngx.RawSetString("shared", shared)
}

func shCheckZone(L *lua.LState) *shDict {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if s, ok := ud.Value.(*shDict); ok {
			return s
		}
	}
	L.RaiseError(`bad "zone" argument`)
	return nil
}

// shCheckKey validates the key like resty.core.shdict: nil → "nil key",
// non-strings are tostring'ed, "" → "empty key", > 65535 bytes → "key too
// long". On failure it pushes nil, err and returns ok = false.
func shCheckKey(L *lua.LState, n int) (string, bool) {
	var key string
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		L.Push(lua.LNil)
		L.Push(lua.LString("nil key"))
		return "", false
	case lua.LString:
		key = string(v)
	case lua.LNumber:
		key = modNumberString(float64(v))
	default:
		key = L.ToStringMeta(v).String()
	}
	if key == "" {
		L.Push(lua.LNil)
		L.Push(lua.LString("empty key"))
		return "", false
	}
	if len(key) > shMaxKeyLen {
		L.Push(lua.LNil)
		L.Push(lua.LString("key too long"))
		return "", false
	}
	return key, true
}

func shToValue(v lua.LValue) (shValue, bool) {
	switch v := v.(type) {
	case lua.LString:
		return shValue{kind: shString, str: string(v)}, true
	case lua.LNumber:
		return shValue{kind: shNumber, num: float64(v)}, true
	case lua.LBool:
		return shValue{kind: shBool, b: bool(v)}, true
	}
	return shValue{}, false
}

func shOptNumber(L *lua.LState, n int, what string) float64 {
	v := L.Get(n)
	if v == lua.LNil {
		return 0
	}
	f, ok := modToNumber(v)
	if !ok || f < 0 || math.IsNaN(f) {
		L.RaiseError(`bad "%s" argument`, what)
	}
	return f
}

func modToNumber(v lua.LValue) (float64, bool) {
	switch v := v.(type) {
	case lua.LNumber:
		return float64(v), true
	case lua.LString:
		f, n := modStrtod(modTrimSpace(string(v)))
		if n == 0 || n != len(modTrimSpace(string(v))) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

func modTrimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	for j > i && (s[j-1] == ' ' || (s[j-1] >= '\t' && s[j-1] <= '\r')) {
		j--
	}
	return s[i:j]
}

func shLuaGet(stale bool) lua.LGFunction {
	return func(L *lua.LState) int {
		s := shCheckZone(L)
		key, ok := shCheckKey(L, 2)
		if !ok {
			return 2
		}
		v, flags, found, isStale, err := s.get(key, stale)
		if err != "" {
			L.Push(lua.LNil)
			L.Push(lua.LString(err))
			return 2
		}
		if !found {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(v.lua())
		if stale {
			if flags != 0 {
				L.Push(lua.LNumber(flags))
			} else {
				L.Push(lua.LNil)
			}
			L.Push(lua.LBool(isStale))
			return 3
		}
		if flags != 0 {
			L.Push(lua.LNumber(flags))
			return 2
		}
		return 1
	}
}

func shPushResult(L *lua.LState, ok bool, err string, forcible bool) int {
	if ok {
		L.Push(lua.LTrue)
		L.Push(lua.LNil)
	} else {
		// lua-resty-core returns false (not nil) for every failure,
		// "no memory" included.
		L.Push(lua.LFalse)
		L.Push(lua.LString(err))
	}
	L.Push(lua.LBool(forcible))
	return 3
}

func shLuaStore(mode shSetMode, safe bool) lua.LGFunction {
	return func(L *lua.LState) int {
		s := shCheckZone(L)
		key, ok := shCheckKey(L, 2)
		if !ok {
			return 2
		}
		var val *shValue
		if v := L.Get(3); v != lua.LNil {
			sv, ok := shToValue(v)
			if !ok {
				L.Push(lua.LNil)
				L.Push(lua.LString("bad value type"))
				return 2
			}
			val = &sv
		}
		ttl := shOptNumber(L, 4, "exptime")
		var flags uint32
		if f := L.Get(5); f != lua.LNil {
			n, ok := modToNumber(f)
			if !ok || n < 0 || n > math.MaxUint32 {
				L.RaiseError(`bad "flags" argument`)
			}
			flags = uint32(n)
		}
		okr, err, forcible := s.store(key, val, ttl, flags, mode, safe)
		return shPushResult(L, okr, err, forcible)
	}
}

func shLuaDelete(L *lua.LState) int {
	s := shCheckZone(L)
	key, ok := shCheckKey(L, 2)
	if !ok {
		return 2
	}
	ok, err, forcible := s.store(key, nil, 0, 0, shModeSet, false)
	return shPushResult(L, ok, err, forcible)
}

// shLuaIncr follows lua-resty-core's shdict_incr: argument errors raise,
// store errors return nil, err; the forcible flag is returned only when init
// is given.
func shLuaIncr(L *lua.LState) int {
	s := shCheckZone(L)
	key, ok := shCheckKey(L, 2)
	if !ok {
		return 2
	}
	delta, ok := modToNumber(L.Get(3))
	if !ok {
		L.RaiseError("cannot convert '%s' to 'double'", L.Get(3).Type().String())
	}
	var init *float64
	if v := L.Get(4); v != lua.LNil && v != lua.LFalse {
		f, ok := modToNumber(v)
		if !ok {
			L.RaiseError("bad init arg: number expected, got %s", v.Type().String())
		}
		init = &f
	}
	var initTTL float64
	if v := L.Get(5); v != lua.LNil {
		f, ok := modToNumber(v)
		if !ok {
			L.RaiseError("bad init_ttl arg: number expected, got %s", v.Type().String())
		}
		if f < 0 {
			L.RaiseError(`bad "init_ttl" argument`)
		}
		if init == nil {
			L.RaiseError(`must provide "init" when providing "init_ttl"`)
		}
		initTTL = f
	}
	n, err, forcible := s.incr(key, delta, init, initTTL)
	if err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(err))
		return 2
	}
	L.Push(lua.LNumber(n))
	if init == nil {
		return 1
	}
	L.Push(lua.LNil)
	L.Push(lua.LBool(forcible))
	return 3
}

func shLuaPush(left bool) lua.LGFunction {
	return func(L *lua.LState) int {
		s := shCheckZone(L)
		key, ok := shCheckKey(L, 2)
		if !ok {
			return 2
		}
		v, ok := shToValue(L.Get(3))
		if !ok || v.kind == shBool {
			L.Push(lua.LNil)
			L.Push(lua.LString("bad value type"))
			return 2
		}
		n, err := s.push(key, v, left)
		if err != "" {
			L.Push(lua.LNil)
			L.Push(lua.LString(err))
			return 2
		}
		L.Push(lua.LNumber(n))
		return 1
	}
}

func shLuaPop(left bool) lua.LGFunction {
	return func(L *lua.LState) int {
		s := shCheckZone(L)
		key, ok := shCheckKey(L, 2)
		if !ok {
			return 2
		}
		v, found, err := s.pop(key, left)
		if err != "" {
			L.Push(lua.LNil)
			L.Push(lua.LString(err))
			return 2
		}
		if !found {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(v.lua())
		return 1
	}
}

func shLuaLlen(L *lua.LState) int {
	s := shCheckZone(L)
	key, ok := shCheckKey(L, 2)
	if !ok {
		return 2
	}
	n, err := s.llen(key)
	if err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(err))
		return 2
	}
	L.Push(lua.LNumber(n))
	return 1
}

func shLuaTTL(L *lua.LState) int {
	s := shCheckZone(L)
	key, ok := shCheckKey(L, 2)
	if !ok {
		return 2
	}
	t, found := s.ttl(key)
	if !found {
		L.Push(lua.LNil)
		L.Push(lua.LString("not found"))
		return 2
	}
	L.Push(lua.LNumber(t))
	return 1
}

func shLuaExpire(L *lua.LState) int {
	s := shCheckZone(L)
	key, ok := shCheckKey(L, 2)
	if !ok {
		return 2
	}
	if L.Get(3) == lua.LNil {
		L.RaiseError(`bad "exptime" argument`)
	}
	ttl := shOptNumber(L, 3, "exptime")
	if !s.expire(key, ttl) {
		L.Push(lua.LNil)
		L.Push(lua.LString("not found"))
		return 2
	}
	L.Push(lua.LTrue)
	return 1
}

func shLuaFlushAll(L *lua.LState) int {
	shCheckZone(L).flushAll()
	return 0
}

func shLuaFlushExpired(L *lua.LState) int {
	s := shCheckZone(L)
	maxCount := 0
	if v := L.Get(2); v != lua.LNil {
		maxCount = L.CheckInt(2)
	}
	L.Push(lua.LNumber(s.flushExpired(maxCount)))
	return 1
}

func shLuaGetKeys(L *lua.LState) int {
	s := shCheckZone(L)
	maxCount := 1024
	if v := L.Get(2); v != lua.LNil {
		maxCount = L.CheckInt(2)
	}
	keys := s.keys(maxCount)
	t := L.CreateTable(len(keys), 0)
	for i, k := range keys {
		t.RawSetInt(i+1, lua.LString(k))
	}
	L.Push(t)
	return 1
}

func shLuaCapacity(L *lua.LState) int {
	L.Push(lua.LNumber(shCheckZone(L).capacity))
	return 1
}

func shLuaFreeSpace(L *lua.LState) int {
	L.Push(lua.LNumber(shCheckZone(L).freeSpace()))
	return 1
}
