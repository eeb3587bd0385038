package declarative

import "strings"

func (l *loader) randomID() string { return uuid4(l.opts.Rand) }

// assignIDs generates the missing ids (spec 1.6): uuid5 of the endpoint key
// or cache key where Kong has one, random otherwise.
func (l *loader) assignIDs() {
	byKey := func(table, key string) string {
		return formatUUID(uuid5(entityNamespace(table), key))
	}
	endpoint := func(table string, id *string, key string) {
		if *id != "" {
			return
		}
		if key != "" {
			*id = byKey(table, key)
		} else {
			*id = l.randomID()
		}
	}
	for _, w := range l.certificates {
		endpoint("certificates", &w.c.ID, "")
	}
	for _, w := range l.snis {
		endpoint("snis", &w.s.ID, w.s.Name)
	}
	for _, w := range l.upstreams {
		endpoint("upstreams", &w.u.ID, w.u.Name)
	}
	for _, w := range l.services {
		endpoint("services", &w.s.ID, w.s.Name)
	}
	for _, w := range l.routes {
		endpoint("routes", &w.r.ID, w.r.Name)
	}
	for _, w := range l.consumers {
		endpoint("consumers", &w.c.ID, w.c.Username)
	}

	// segment returns the cache-key part of one foreign field; skip means the
	// field adds no segment (a table or null value), random means the id
	// cannot be derived.
	segment := func(nestedParent string, parentStable bool, rf *ref) (seg string, skip, random bool) {
		if nestedParent != "" {
			if !parentStable {
				return "", false, true
			}
			return nestedParent, false, false
		}
		if rf == nil {
			return "", false, false
		}
		switch rf.kind {
		case refString:
			return rf.value, false, false
		case refTable, refNull:
			return "", true, false
		}
		return "", false, false
	}

	for _, w := range l.plugins {
		if w.idSet {
			continue
		}
		p := w.p
		if p.Name == "" {
			p.ID = l.randomID()
			continue
		}
		parts := []string{p.Name}
		random := false
		add := func(nestedParent string, stable bool, rf *ref) {
			seg, skip, rnd := segment(nestedParent, stable, rf)
			random = random || rnd
			if !skip {
				parts = append(parts, seg)
			}
		}
		var rID, sID, cID string
		var rStable, sStable, cStable bool
		if w.parentRoute != nil {
			rID, rStable = w.parentRoute.r.ID, w.parentRoute.stable
		}
		if w.parentSvc != nil {
			sID, sStable = w.parentSvc.s.ID, w.parentSvc.stable
		}
		if w.parentCons != nil {
			cID, cStable = w.parentCons.c.ID, w.parentCons.stable
		}
		add(rID, rStable, w.routeRef)
		add(sID, sStable, w.svcRef)
		add(cID, cStable, w.consRef)
		if random {
			p.ID = l.randomID()
		} else {
			p.ID = byKey("plugins", "plugins:*:"+strings.Join(parts, ":"))
		}
	}
	for _, w := range l.targets {
		if w.idSet {
			continue
		}
		if w.raw == "" {
			w.t.ID = l.randomID()
			continue
		}
		var parts []string
		if w.parent != nil {
			if !w.parent.stable || w.parent.u.ID == "" {
				w.t.ID = l.randomID()
				continue
			}
			parts = append(parts, w.parent.u.ID)
		} else {
			switch w.upRef.kind {
			case refString:
				parts = append(parts, w.upRef.value)
			case refAbsent:
				w.t.ID = l.randomID()
				continue
			}
		}
		parts = append(parts, w.raw)
		w.t.ID = byKey("targets", "targets:*:"+strings.Join(parts, ":"))
	}
}

// uniq tracks one unique field of one entity type.
type uniq struct {
	table, field string
	seen         map[string]bool
	l            *loader
}

func (l *loader) newUniq(table, field string) *uniq {
	return &uniq{table: table, field: field, seen: map[string]bool{}, l: l}
}

// check reports a duplicate at path; it returns false when v was seen.
func (u *uniq) check(v, path string) bool {
	if v == "" {
		return true
	}
	if u.seen[v] {
		u.l.add(path, "uniqueness violation: '"+u.table+"' entity with "+u.field+" set to '"+v+"' already declared")
		return false
	}
	u.seen[v] = true
	return true
}

func (l *loader) checkUnique() {
	pk := func(table string) *uniq { return l.newUniq(table, "primary key") }
	{
		names, ids := l.newUniq("services", "name"), pk("services")
		for _, w := range l.services {
			if names.check(w.s.Name, w.s.Path0) {
				ids.check(w.s.ID, w.s.Path0)
			}
		}
	}
	{
		names, ids := l.newUniq("routes", "name"), pk("routes")
		for _, w := range l.routes {
			if names.check(w.r.Name, w.r.Path0) {
				ids.check(w.r.ID, w.r.Path0)
			}
		}
	}
	{
		names, custom, ids := l.newUniq("consumers", "username"), l.newUniq("consumers", "custom_id"), pk("consumers")
		for _, w := range l.consumers {
			if names.check(w.c.Username, w.c.Path0) && ids.check(w.c.ID, w.c.Path0) &&
				!custom.check(w.c.CustomID, w.c.Path0) {
				// found at flatten time: keyed by username or id in Kong's tree
				l.errs[len(l.errs)-1].kong = []string{"consumers", orID(w.c.Username, w.c.ID)}
			}
		}
	}
	{
		names, ids := l.newUniq("upstreams", "name"), pk("upstreams")
		for _, w := range l.upstreams {
			if names.check(w.u.Name, w.u.Path0) {
				ids.check(w.u.ID, w.u.Path0)
			}
		}
	}
	{
		ids := pk("targets")
		for _, w := range l.targets {
			ids.check(w.t.ID, w.t.Path0)
		}
	}
	{
		ids := pk("certificates")
		for _, w := range l.certificates {
			ids.check(w.c.ID, w.c.Path0)
		}
	}
	{
		names, ids := l.newUniq("snis", "name"), pk("snis")
		for _, w := range l.snis {
			if names.check(w.s.Name, w.s.Path0) {
				ids.check(w.s.ID, w.s.Path0)
			}
		}
	}
	{
		ids, inst := pk("plugins"), l.newUniq("plugins", "instance_name")
		for _, w := range l.plugins {
			if ids.check(w.p.ID, w.p.Path0) {
				inst.check(w.p.InstanceName, w.p.Path0)
			}
		}
	}
}

// index finds entities by endpoint key, then by id (spec 1.5).
type index[T any] struct {
	byKey map[string]T
	byID  map[string]T
}

func newIndex[T any](n int) *index[T] {
	return &index[T]{byKey: make(map[string]T, n), byID: make(map[string]T, n)}
}

func (ix *index[T]) put(key, id string, v T) {
	if key != "" {
		if _, dup := ix.byKey[key]; !dup {
			ix.byKey[key] = v
		}
	}
	if _, dup := ix.byID[id]; !dup {
		ix.byID[id] = v
	}
}

func (ix *index[T]) get(rf *ref) (T, bool) {
	if rf.kind == refString {
		if v, ok := ix.byKey[rf.value]; ok {
			return v, true
		}
	}
	v, ok := ix.byID[strings.ToLower(rf.value)]
	return v, ok
}

// dangling reports an unresolved reference of the entity of kind owner
// whose endpoint key (or id) is key.
func (l *loader) dangling(rf *ref, table, owner, key string) {
	l.add(rf.path, "invalid reference '"+rf.field+": "+rf.value+"' (no such entry in '"+table+"')")
	l.errs[len(l.errs)-1].kong = []string{owner, key, "[]"}
}

func orID(key, id string) string {
	if key != "" {
		return key
	}
	return id
}

func (l *loader) resolve() {
	certs := newIndex[*Certificate](len(l.certificates))
	for _, w := range l.certificates {
		certs.put("", w.c.ID, w.c)
	}
	svcs := newIndex[*Service](len(l.services))
	for _, w := range l.services {
		svcs.put(w.s.Name, w.s.ID, w.s)
	}
	routes := newIndex[*Route](len(l.routes))
	for _, w := range l.routes {
		routes.put(w.r.Name, w.r.ID, w.r)
	}
	cons := newIndex[*Consumer](len(l.consumers))
	for _, w := range l.consumers {
		cons.put(w.c.Username, w.c.ID, w.c)
	}
	ups := newIndex[*Upstream](len(l.upstreams))
	for _, w := range l.upstreams {
		ups.put(w.u.Name, w.u.ID, w.u)
	}

	certRef := func(rf *ref, owner, key string) string {
		if !rf.set() {
			return ""
		}
		c, ok := certs.get(&ref{kind: refTable, value: rf.value})
		if !ok {
			l.dangling(rf, "certificates", owner, key)
			return ""
		}
		return c.ID
	}
	for _, w := range l.services {
		w.s.ClientCertificate = certRef(w.certRef, "services", orID(w.s.Name, w.s.ID))
	}
	for _, w := range l.upstreams {
		w.u.ClientCertificate = certRef(w.certRef, "upstreams", orID(w.u.Name, w.u.ID))
	}
	for _, w := range l.routes {
		if w.svcRef.set() {
			if s, ok := svcs.get(w.svcRef); ok {
				w.r.Service = s
			} else {
				l.dangling(w.svcRef, "services", "routes", orID(w.r.Name, w.r.ID))
			}
		}
	}
	for _, w := range l.plugins {
		if w.svcRef.set() {
			if s, ok := svcs.get(w.svcRef); ok {
				w.p.Service = s
			} else {
				l.dangling(w.svcRef, "services", "plugins", w.p.ID)
			}
		}
		if w.routeRef.set() {
			if r, ok := routes.get(w.routeRef); ok {
				w.p.Route = r
			} else {
				l.dangling(w.routeRef, "routes", "plugins", w.p.ID)
			}
		}
		if w.consRef.set() {
			if c, ok := cons.get(w.consRef); ok {
				w.p.Consumer = c
			} else {
				l.dangling(w.consRef, "consumers", "plugins", w.p.ID)
			}
		}
	}
	l.checkPluginScopes()
	for _, w := range l.targets {
		if w.upRef.set() {
			if u, ok := ups.get(w.upRef); ok {
				w.t.Upstream = u
			} else {
				l.dangling(w.upRef, "upstreams", "targets", w.t.ID)
			}
		}
	}
	for _, w := range l.snis {
		if w.certRef.set() {
			if c, ok := certs.get(&ref{kind: refTable, value: w.certRef.value}); ok {
				w.s.Certificate = c
			} else {
				l.dangling(w.certRef, "certificates", "snis", orID(w.s.Name, w.s.ID))
			}
		}
	}
}

// checkPluginScopes rejects two instances of one plugin on the same resolved
// scope that got different ids because their references were written
// differently (nested vs. by name vs. by id): Kong's cache key is unique per
// scope, and at run time only one of them could apply.
func (l *loader) checkPluginScopes() {
	idOf := func(id string, set bool) string {
		if !set {
			return ""
		}
		return id
	}
	seen := make(map[string]*Plugin, len(l.plugins))
	for _, w := range l.plugins {
		p := w.p
		if p.Name == "" {
			continue
		}
		var rid, sid, cid string
		if p.Route != nil {
			rid = idOf(p.Route.ID, true)
		}
		if p.Service != nil {
			sid = idOf(p.Service.ID, true)
		}
		if p.Consumer != nil {
			cid = idOf(p.Consumer.ID, true)
		}
		key := "plugins:" + p.Name + ":" + rid + ":" + sid + ":" + cid + ":"
		first, dup := seen[key]
		if !dup {
			seen[key] = p
			continue
		}
		if first.ID == p.ID {
			continue // already reported as a primary key duplicate
		}
		l.add(p.Path0, "uniqueness violation: 'plugins' entity with cache_key set to '"+key+"' already declared")
	}
}

// collect fills the Config lists in load order.
func (l *loader) collect() {
	c := l.cfg
	c.Services = make([]*Service, len(l.services))
	for i, w := range l.services {
		c.Services[i] = w.s
	}
	c.Routes = make([]*Route, len(l.routes))
	for i, w := range l.routes {
		c.Routes[i] = w.r
	}
	c.Plugins = make([]*Plugin, len(l.plugins))
	for i, w := range l.plugins {
		c.Plugins[i] = w.p
	}
	c.Consumers = make([]*Consumer, len(l.consumers))
	for i, w := range l.consumers {
		c.Consumers[i] = w.c
	}
	c.Upstreams = make([]*Upstream, len(l.upstreams))
	for i, w := range l.upstreams {
		c.Upstreams[i] = w.u
	}
	c.Targets = make([]*Target, len(l.targets))
	for i, w := range l.targets {
		c.Targets[i] = w.t
	}
	c.Certificates = make([]*Certificate, len(l.certificates))
	for i, w := range l.certificates {
		c.Certificates[i] = w.c
	}
	c.SNIs = make([]*SNI, len(l.snis))
	for i, w := range l.snis {
		c.SNIs[i] = w.s
	}
}
