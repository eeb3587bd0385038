package declarative

import "strconv"

var pluginKeys = keySet("id", "name", "instance_name", "config", "service", "route", "consumer",
	"protocols", "enabled", "tags", "created_at", "updated_at")

// plugin validates one plugin. parentKind is "" for a top-level plugin, else
// "service", "route" or "consumer" with parent the wrapper of that entity.
func (l *loader) plugin(r *rec, parentKind string, parent any) {
	r.checkKeys(pluginKeys)
	p := &Plugin{
		Path0:     r.path,
		Enabled:   true,
		Protocols: []string{"grpc", "grpcs", "http", "https"},
		CreatedAt: l.now,
	}
	p.ID = r.id()
	w := &pluginW{p: p, idSet: p.ID != ""}
	if parentKind != "" {
		r.mustBeNull("service", "route", "consumer")
		switch parentKind {
		case "service":
			w.parentSvc = parent.(*svcW)
			p.Service = w.parentSvc.s
		case "route":
			w.parentRoute = parent.(*routeW)
			p.Route = w.parentRoute.r
		case "consumer":
			w.parentCons = parent.(*consumerW)
			p.Consumer = w.parentCons.c
		}
	} else {
		w.svcRef = l.readRef(r, "service")
		w.routeRef = l.readRef(r, "route")
		w.consRef = l.readRef(r, "consumer")
	}
	p.InstanceName = r.name("instance_name")
	if ps, ok := r.strList("protocols", true, func(s string) string {
		if groupOf(s) < 0 {
			return "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"
		}
		return ""
	}); ok {
		if len(ps) == 0 {
			if arr, _ := r.m["protocols"].([]any); len(arr) == 0 {
				r.err("protocols", "length must be at least 1")
			}
		} else {
			p.Protocols = ps
		}
	}
	p.Enabled = r.boolean("enabled", true)
	p.Tags = r.tags()
	p.CreatedAt = r.timestamp("created_at", l.now)
	r.timestamp("updated_at", l.now)

	var cfg map[string]any
	cfgOK := true
	if v, ok := r.m["config"]; ok && v != nil {
		if cfg, ok = v.(map[string]any); !ok {
			r.err("config", "expected a record")
			cfgOK = false
		}
	}
	p.RawConfig = cfg
	l.plugins = append(l.plugins, w)

	name, ok := r.required("name")
	if !ok {
		return
	}
	p.Name = name
	var kind PluginKind
	found := false
	if l.opts.Registry != nil {
		kind, found = l.opts.Registry.Lookup(name)
	}
	if !found {
		r.err("name", "plugin '"+name+"' not enabled; add it to the 'plugins' configuration property")
		return
	}
	if kind.NoConsumer && (parentKind == "consumer" || w.consRef.set()) {
		r.err("consumer", "value must be null")
	}
	if !cfgOK {
		return
	}
	if kind.Schema == nil {
		for k := range cfg {
			l.add(r.at("config")+"."+k, "unknown field")
		}
		return
	}
	env := &PluginEnv{Dir: l.opts.Dir, Name: name, ReadFile: l.readFile}
	typed, errs := l.callSchema(kind.Schema, cfg, env, r.at("config"))
	for _, e := range errs {
		if e == nil {
			continue
		}
		path := r.at("config")
		if e.Path != "" {
			if e.Path[0] == '[' {
				path += e.Path
			} else {
				path += "." + e.Path
			}
		}
		l.add(path, e.Message)
	}
	p.Config = typed
}

// callSchema runs a plugin schema, turning a panic into an error so a buggy
// schema cannot take the loader down.
func (l *loader) callSchema(s PluginSchema, cfg map[string]any, env *PluginEnv, path string) (typed any, errs []*FieldError) {
	defer func() {
		if v := recover(); v != nil {
			typed = nil
			errs = []*FieldError{{Message: "plugin schema failed: " + panicString(v)}}
		}
	}()
	return s.Validate(cfg, env)
}

func panicString(v any) string {
	switch t := v.(type) {
	case error:
		return t.Error()
	case string:
		return t
	case int:
		return strconv.Itoa(t)
	}
	return "unexpected panic"
}
