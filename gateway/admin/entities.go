package admin

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"luagate/declarative"
)

// kindInfo describes one entity collection of the Admin API.
type kindInfo struct {
	plural, singular string
	// key is the endpoint key (the name-like field besides the id).
	key string
	// children are the collections that nest under this one in kong.yml.
	children []string
	// writable: entity writes are supported (DECISIONS row 7).
	writable bool
}

var kinds = map[string]*kindInfo{
	"services":     {plural: "services", singular: "service", key: "name", children: []string{"routes", "plugins"}, writable: true},
	"routes":       {plural: "routes", singular: "route", key: "name", children: []string{"plugins"}, writable: true},
	"plugins":      {plural: "plugins", singular: "plugin", key: "instance_name", writable: true},
	"consumers":    {plural: "consumers", singular: "consumer", key: "username", children: []string{"plugins"}, writable: true},
	"upstreams":    {plural: "upstreams", singular: "upstream", key: "name", children: []string{"targets"}, writable: true},
	"targets":      {plural: "targets", singular: "target", key: "target", writable: true},
	"certificates": {plural: "certificates", singular: "certificate", children: []string{"snis"}},
	"snis":         {plural: "snis", singular: "sni", key: "name"},
}

// nestedLists are the /{parent}/{p}/{child} collections.
var nestedLists = map[[2]string]bool{
	{"services", "routes"}: true, {"services", "plugins"}: true, {"routes", "plugins"}: true,
	{"consumers", "plugins"}: true, {"upstreams", "targets"}: true, {"certificates", "snis"}: true,
}

// entity is one entity of the running config as the Admin API shows it.
type entity struct {
	kind *kindInfo
	id   string
	key  string // endpoint key value, "" when unset
	path string // Path0: its place in kong.yml
	obj  map[string]any
	// parents: ids of the foreign entities by singular name
	// ("service", "route", "consumer", "upstream", "certificate").
	parents map[string]string
}

// index holds every entity of one config, in file order.
type index struct {
	cfg   *declarative.Config
	lists map[string][]*entity
}

// index returns the (cached) index of the running config.
func (h *Handler) index() *index {
	cfg := h.b.Config()
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	if h.idx == nil || h.idxCfg != cfg {
		h.idx, h.idxCfg = buildIndex(cfg), cfg
	}
	return h.idx
}

func buildIndex(cfg *declarative.Config) *index {
	ix := &index{cfg: cfg, lists: map[string][]*entity{}}
	if cfg == nil {
		ix.cfg = &declarative.Config{}
		return ix
	}
	add := func(kind, id, key, path string, obj map[string]any, parents map[string]string) {
		ix.lists[kind] = append(ix.lists[kind], &entity{kind: kinds[kind], id: id, key: key, path: path, obj: obj, parents: parents})
	}
	for _, s := range cfg.Services {
		add("services", s.ID, s.Name, s.Path0, serviceJSON(s), nil)
	}
	for _, r := range cfg.Routes {
		p := map[string]string{}
		if r.Service != nil {
			p["service"] = r.Service.ID
		}
		add("routes", r.ID, r.Name, r.Path0, routeJSON(r), p)
	}
	for _, c := range cfg.Consumers {
		add("consumers", c.ID, c.Username, c.Path0, consumerJSON(c), nil)
	}
	for _, pl := range cfg.Plugins {
		p := map[string]string{}
		if pl.Service != nil {
			p["service"] = pl.Service.ID
		}
		if pl.Route != nil {
			p["route"] = pl.Route.ID
		}
		if pl.Consumer != nil {
			p["consumer"] = pl.Consumer.ID
		}
		add("plugins", pl.ID, pl.InstanceName, pl.Path0, pluginJSON(pl), p)
	}
	for _, u := range cfg.Upstreams {
		add("upstreams", u.ID, u.Name, u.Path0, upstreamJSON(u), nil)
	}
	for _, t := range cfg.Targets {
		p := map[string]string{}
		if t.Upstream != nil {
			p["upstream"] = t.Upstream.ID
		}
		add("targets", t.ID, t.Target, t.Path0, targetJSON(t), p)
	}
	for _, c := range cfg.Certificates {
		add("certificates", c.ID, "", c.Path0, certificateJSON(c), nil)
	}
	for _, s := range cfg.SNIs {
		p := map[string]string{}
		if s.Certificate != nil {
			p["certificate"] = s.Certificate.ID
		}
		add("snis", s.ID, s.Name, s.Path0, sniJSON(s), p)
	}
	return ix
}

// find looks an entity up by id, else by endpoint key (Kong: a UUID is an
// id, anything else the endpoint key; we try both, id first).
func (ix *index) find(kind, idOrKey string) *entity {
	list := ix.lists[kind]
	for _, e := range list {
		if e.id == idOrKey {
			return e
		}
	}
	if kinds[kind].key == "" || idOrKey == "" {
		return nil
	}
	for _, e := range list {
		if e.key == idOrKey {
			return e
		}
	}
	return nil
}

// children lists the entities of kind whose parent (singular) is id.
func (ix *index) children(kind, parent, id string) []*entity {
	var out []*entity
	for _, e := range ix.lists[kind] {
		if e.parents[parent] == id {
			out = append(out, e)
		}
	}
	return out
}

// page answers a list request: {data, next[, offset]} (spec 4.1).
func page(r map[string][]string, base string, list []*entity) (int, any, error) {
	q := url.Values(r)
	size := 100
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, nil, &apiError{400, map[string]any{"code": 9, "name": "invalid size", "message": "size must be a number"}}
		}
		if n < 1 || n > 1000 {
			return 0, nil, &apiError{400, map[string]any{"code": 9, "name": "invalid size", "message": "size must be an integer between 1 and 1000"}}
		}
		size = n
	}
	if tq := q.Get("tags"); tq != "" {
		var err error
		if list, err = filterTags(list, tq); err != nil {
			return 0, nil, err
		}
	}
	start := 0
	if o := q.Get("offset"); o != "" {
		n, err := decodeOffset(o)
		if err != nil {
			return 0, nil, &apiError{400, map[string]any{"code": 7, "name": "invalid offset",
				"message": fmt.Sprintf("'%s' is not a valid offset: %s", o, err)}}
		}
		start = min(n, len(list))
	}
	end := min(start+size, len(list))
	data := make([]any, 0, end-start)
	for _, e := range list[start:end] {
		data = append(data, e.obj)
	}
	body := map[string]any{"data": data, "next": nil}
	if end < len(list) {
		off := encodeOffset(end)
		next := url.Values{"offset": {off}}
		if q.Get("size") != "" {
			next.Set("size", strconv.Itoa(size))
		}
		if tq := q.Get("tags"); tq != "" {
			next.Set("tags", tq)
		}
		body["next"] = base + "?" + next.Encode()
		body["offset"] = off
	}
	return 200, body, nil
}

// filterTags applies Kong's ?tags= filter: "a,b" needs every tag, "a/b"
// any of them.
func filterTags(list []*entity, q string) ([]*entity, error) {
	and, or := strings.Contains(q, ","), strings.Contains(q, "/")
	if and && or {
		return nil, &apiError{400, map[string]any{"code": 11, "name": "invalid options",
			"message": "invalid option (tags: invalid filter syntax)", "options": map[string]any{"tags": "invalid filter syntax"}}}
	}
	want := strings.FieldsFunc(q, func(r rune) bool { return r == ',' || r == '/' })
	var out []*entity
	for _, e := range list {
		have := map[string]bool{}
		if tags, ok := e.obj["tags"].([]any); ok {
			for _, t := range tags {
				if s, ok := t.(string); ok {
					have[s] = true
				}
			}
		}
		n := 0
		for _, w := range want {
			if have[w] {
				n++
			}
		}
		if (or && n > 0) || (!or && n == len(want)) {
			out = append(out, e)
		}
	}
	return out, nil
}

func encodeOffset(n int) string {
	return base64.StdEncoding.EncodeToString([]byte("luagate:" + strconv.Itoa(n)))
}

func decodeOffset(s string) (int, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return 0, fmt.Errorf("bad base64 encoding")
		}
	}
	rest, ok := strings.CutPrefix(string(b), "luagate:")
	n, err := strconv.Atoi(rest)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("bad offset")
	}
	return n, nil
}

// ---- Kong's JSON shapes: every field present, unset ones null, foreign
// keys as {"id": ...}.

func strOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func listOrNull(v []string) any {
	if len(v) == 0 {
		return nil
	}
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func fk(id string) any {
	if id == "" {
		return nil
	}
	return map[string]any{"id": id}
}

func serviceJSON(s *declarative.Service) map[string]any {
	m := map[string]any{
		"id": s.ID, "name": strOrNull(s.Name), "protocol": s.Protocol, "host": s.Host, "port": s.Port,
		"path": strOrNull(s.Path), "retries": s.Retries, "connect_timeout": s.ConnectTimeout,
		"write_timeout": s.WriteTimeout, "read_timeout": s.ReadTimeout, "enabled": s.Enabled,
		"tags": listOrNull(s.Tags), "tls_verify": nil, "tls_verify_depth": nil,
		"ca_certificates": listOrNull(s.CACertificates), "client_certificate": fk(s.ClientCertificate),
		"created_at": s.CreatedAt, "updated_at": s.UpdatedAt,
	}
	if s.TLSVerify != nil {
		m["tls_verify"] = *s.TLSVerify
	}
	if s.TLSVerifyDepth != nil {
		m["tls_verify_depth"] = *s.TLSVerifyDepth
	}
	return m
}

func routeJSON(r *declarative.Route) map[string]any {
	var headers any
	if len(r.Headers) > 0 {
		hm := make(map[string]any, len(r.Headers))
		for k, v := range r.Headers {
			hm[k] = listOrNull(v)
		}
		headers = hm
	}
	svc := ""
	if r.Service != nil {
		svc = r.Service.ID
	}
	return map[string]any{
		"id": r.ID, "name": strOrNull(r.Name), "protocols": listOrNull(r.Protocols),
		"methods": listOrNull(r.Methods), "hosts": listOrNull(r.Hosts), "paths": listOrNull(r.Paths),
		"headers": headers, "snis": listOrNull(r.SNIs), "sources": endpoints(r.Sources),
		"destinations": endpoints(r.Destinations), "https_redirect_status_code": r.HTTPSRedirectStatusCode,
		"regex_priority": r.RegexPriority, "strip_path": r.StripPath, "path_handling": r.PathHandling,
		"preserve_host": r.PreserveHost, "request_buffering": r.RequestBuffering,
		"response_buffering": r.ResponseBuffering, "tags": listOrNull(r.Tags), "service": fk(svc),
		"created_at": r.CreatedAt, "updated_at": r.UpdatedAt,
	}
}

func endpoints(eps []declarative.RouteEndpoint) any {
	if len(eps) == 0 {
		return nil
	}
	out := make([]any, len(eps))
	for i, e := range eps {
		m := map[string]any{"ip": strOrNull(e.IP), "port": nil}
		if e.Port != nil {
			m["port"] = *e.Port
		}
		out[i] = m
	}
	return out
}

func pluginJSON(p *declarative.Plugin) map[string]any {
	var svc, route, cons string
	if p.Service != nil {
		svc = p.Service.ID
	}
	if p.Route != nil {
		route = p.Route.ID
	}
	if p.Consumer != nil {
		cons = p.Consumer.ID
	}
	var cfg any = map[string]any{}
	if p.RawConfig != nil {
		cfg = p.RawConfig
	}
	return map[string]any{
		"id": p.ID, "name": p.Name, "instance_name": strOrNull(p.InstanceName), "config": cfg,
		"enabled": p.Enabled, "protocols": listOrNull(p.Protocols), "tags": listOrNull(p.Tags),
		"service": fk(svc), "route": fk(route), "consumer": fk(cons),
		"created_at": p.CreatedAt, "updated_at": p.CreatedAt,
	}
}

func consumerJSON(c *declarative.Consumer) map[string]any {
	return map[string]any{
		"id": c.ID, "username": strOrNull(c.Username), "custom_id": strOrNull(c.CustomID),
		"tags": listOrNull(c.Tags), "created_at": c.CreatedAt, "updated_at": c.CreatedAt,
	}
}

func upstreamJSON(u *declarative.Upstream) map[string]any {
	var hc any
	if u.Healthchecks != nil {
		hc = u.Healthchecks
	}
	return map[string]any{
		"id": u.ID, "name": u.Name, "algorithm": u.Algorithm, "hash_on": u.HashOn,
		"hash_fallback": u.HashFallback, "hash_on_header": strOrNull(u.HashOnHeader),
		"hash_fallback_header": strOrNull(u.HashFallbackHeader), "hash_on_cookie": strOrNull(u.HashOnCookie),
		"hash_on_cookie_path": u.HashOnCookiePath, "hash_on_query_arg": strOrNull(u.HashOnQueryArg),
		"hash_fallback_query_arg":   strOrNull(u.HashFallbackQueryArg),
		"hash_on_uri_capture":       strOrNull(u.HashOnURICapture),
		"hash_fallback_uri_capture": strOrNull(u.HashFallbackURICapture),
		"slots":                     u.Slots, "healthchecks": hc, "tags": listOrNull(u.Tags),
		"host_header": strOrNull(u.HostHeader), "client_certificate": nil, "use_srv_name": u.UseSRVName,
		"created_at": u.CreatedAt, "updated_at": u.CreatedAt,
	}
}

func targetJSON(t *declarative.Target) map[string]any {
	up := ""
	if t.Upstream != nil {
		up = t.Upstream.ID
	}
	return map[string]any{
		"id": t.ID, "target": t.Target, "weight": t.Weight, "tags": listOrNull(t.Tags),
		"upstream": fk(up), "created_at": t.CreatedAt, "updated_at": t.CreatedAt,
	}
}

func certificateJSON(c *declarative.Certificate) map[string]any {
	return map[string]any{
		"id": c.ID, "cert": c.Cert, "key": c.Key, "cert_alt": strOrNull(c.CertAlt), "key_alt": strOrNull(c.KeyAlt),
		"tags": listOrNull(c.Tags),
	}
}

func sniJSON(s *declarative.SNI) map[string]any {
	cert := ""
	if s.Certificate != nil {
		cert = s.Certificate.ID
	}
	return map[string]any{"id": s.ID, "name": s.Name, "certificate": fk(cert), "tags": listOrNull(s.Tags)}
}
