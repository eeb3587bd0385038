package declarative

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Marshal emits c as a Kong 3.0 declarative file: `_format_version: "3.0"`,
// `_transform: false`, every field with its value (defaults included, unset
// ones as null), ids kept, and children nested under their parent where they
// were nested in the source (services → routes → plugins, consumers →
// plugins, upstreams → targets, certificates → snis). Entities declared at
// the top level stay there and reference their parents by name, or by id
// when the parent has no name. Loading the output gives the same entities.
func Marshal(c *Config) ([]byte, error) {
	m := &marshaller{}
	root := mapNode()
	addPair(root, "_format_version", strNode("3.0"))
	addPair(root, "_transform", boolNode(false))

	var svcs, routes, plugins, consumers, ups, targets, certs, snis []*yaml.Node
	for _, s := range c.Services {
		svcs = append(svcs, m.service(c, s))
	}
	for _, r := range c.Routes {
		if nestedIn(r.Path0, svcPath(r.Service), "routes") {
			continue
		}
		routes = append(routes, m.route(c, r, true))
	}
	for _, cn := range c.Consumers {
		consumers = append(consumers, m.consumer(c, cn))
	}
	for _, p := range c.Plugins {
		if pluginParent(p) != "" {
			continue
		}
		n, err := m.plugin(p, true)
		if err != nil {
			return nil, err
		}
		plugins = append(plugins, n)
	}
	for _, u := range c.Upstreams {
		ups = append(ups, m.upstream(c, u))
	}
	for _, t := range c.Targets {
		if t.Upstream != nil && nestedIn(t.Path0, t.Upstream.Path0, "targets") {
			continue
		}
		targets = append(targets, m.target(t, true))
	}
	for _, cert := range c.Certificates {
		certs = append(certs, m.certificate(c, cert))
	}
	for _, s := range c.SNIs {
		if s.Certificate != nil && nestedIn(s.Path0, s.Certificate.Path0, "snis") {
			continue
		}
		snis = append(snis, m.sni(s, true))
	}
	if m.err != nil {
		return nil, m.err
	}
	for _, kv := range []struct {
		key   string
		items []*yaml.Node
	}{
		{"certificates", certs}, {"snis", snis}, {"upstreams", ups}, {"targets", targets},
		{"services", svcs}, {"routes", routes}, {"consumers", consumers}, {"plugins", plugins},
	} {
		if len(kv.items) > 0 {
			addPair(root, kv.key, seqNode(kv.items...))
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type marshaller struct {
	err error
}

func svcPath(s *Service) string {
	if s == nil {
		return ""
	}
	return s.Path0
}

// nestedIn reports whether child path is "<parent>.<key>[n]".
func nestedIn(child, parent, key string) bool {
	if parent == "" || child == "" {
		return false
	}
	rest, ok := strings.CutPrefix(child, parent+"."+key+"[")
	return ok && strings.Count(rest, "[") == 0 && strings.HasSuffix(rest, "]")
}

// pluginParent says under which entity a plugin was nested ("" = top level).
func pluginParent(p *Plugin) string {
	n := 0
	for _, set := range []bool{p.Service != nil, p.Route != nil, p.Consumer != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return ""
	}
	switch {
	case p.Service != nil && nestedIn(p.Path0, p.Service.Path0, "plugins"):
		return "service"
	case p.Route != nil && nestedIn(p.Path0, p.Route.Path0, "plugins"):
		return "route"
	case p.Consumer != nil && nestedIn(p.Path0, p.Consumer.Path0, "plugins"):
		return "consumer"
	}
	return ""
}

func (m *marshaller) service(c *Config, s *Service) *yaml.Node {
	n := mapNode()
	addPair(n, "id", optStr(s.ID))
	addPair(n, "name", optStr(s.Name))
	addPair(n, "protocol", strNode(s.Protocol))
	addPair(n, "host", optStr(s.Host))
	addPair(n, "port", intNode(int64(s.Port)))
	addPair(n, "path", optStr(s.Path))
	addPair(n, "retries", intNode(int64(s.Retries)))
	addPair(n, "connect_timeout", intNode(int64(s.ConnectTimeout)))
	addPair(n, "write_timeout", intNode(int64(s.WriteTimeout)))
	addPair(n, "read_timeout", intNode(int64(s.ReadTimeout)))
	addPair(n, "enabled", boolNode(s.Enabled))
	addPair(n, "tags", strList(s.Tags))
	addPair(n, "client_certificate", optStr(s.ClientCertificate))
	if s.TLSVerify != nil {
		addPair(n, "tls_verify", boolNode(*s.TLSVerify))
	} else {
		addPair(n, "tls_verify", nullNode())
	}
	if s.TLSVerifyDepth != nil {
		addPair(n, "tls_verify_depth", intNode(int64(*s.TLSVerifyDepth)))
	} else {
		addPair(n, "tls_verify_depth", nullNode())
	}
	addPair(n, "ca_certificates", strList(s.CACertificates))
	addPair(n, "created_at", intNode(s.CreatedAt))
	addPair(n, "updated_at", intNode(s.UpdatedAt))
	var routes, plugins []*yaml.Node
	for _, r := range c.Routes {
		if r.Service == s && nestedIn(r.Path0, s.Path0, "routes") {
			routes = append(routes, m.route(c, r, false))
		}
	}
	for _, p := range c.Plugins {
		if pluginParent(p) == "service" && p.Service == s {
			plugins = append(plugins, m.mustPlugin(p))
		}
	}
	if len(routes) > 0 {
		addPair(n, "routes", seqNode(routes...))
	}
	if len(plugins) > 0 {
		addPair(n, "plugins", seqNode(plugins...))
	}
	return n
}

func (m *marshaller) mustPlugin(p *Plugin) *yaml.Node {
	n, err := m.plugin(p, false)
	if err != nil && m.err == nil {
		m.err = err
	}
	return n
}

func refName(name, id string) *yaml.Node {
	if name != "" {
		return strNode(name)
	}
	return strNode(id)
}

func (m *marshaller) route(c *Config, r *Route, top bool) *yaml.Node {
	n := mapNode()
	addPair(n, "id", optStr(r.ID))
	addPair(n, "name", optStr(r.Name))
	addPair(n, "protocols", strList(r.Protocols))
	addPair(n, "methods", strList(r.Methods))
	addPair(n, "hosts", strList(r.Hosts))
	addPair(n, "paths", strList(r.Paths))
	if r.Headers != nil {
		h := mapNode()
		keys := make([]string, 0, len(r.Headers))
		for k := range r.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			addPair(h, k, strList(r.Headers[k]))
		}
		addPair(n, "headers", h)
	} else {
		addPair(n, "headers", nullNode())
	}
	addPair(n, "snis", strList(r.SNIs))
	addPair(n, "sources", endpointList(r.Sources))
	addPair(n, "destinations", endpointList(r.Destinations))
	addPair(n, "https_redirect_status_code", intNode(int64(r.HTTPSRedirectStatusCode)))
	addPair(n, "regex_priority", intNode(int64(r.RegexPriority)))
	addPair(n, "strip_path", boolNode(r.StripPath))
	addPair(n, "path_handling", strNode(r.PathHandling))
	addPair(n, "preserve_host", boolNode(r.PreserveHost))
	addPair(n, "request_buffering", boolNode(r.RequestBuffering))
	addPair(n, "response_buffering", boolNode(r.ResponseBuffering))
	addPair(n, "tags", strList(r.Tags))
	if top {
		if r.Service != nil {
			addPair(n, "service", refName(r.Service.Name, r.Service.ID))
		} else {
			addPair(n, "service", nullNode())
		}
	}
	addPair(n, "created_at", intNode(r.CreatedAt))
	addPair(n, "updated_at", intNode(r.UpdatedAt))
	var plugins []*yaml.Node
	for _, p := range c.Plugins {
		if pluginParent(p) == "route" && p.Route == r {
			plugins = append(plugins, m.mustPlugin(p))
		}
	}
	if len(plugins) > 0 {
		addPair(n, "plugins", seqNode(plugins...))
	}
	return n
}

func endpointList(eps []RouteEndpoint) *yaml.Node {
	if eps == nil {
		return nullNode()
	}
	s := seqNode()
	for _, ep := range eps {
		e := mapNode()
		addPair(e, "ip", optStr(ep.IP))
		if ep.Port != nil {
			addPair(e, "port", intNode(int64(*ep.Port)))
		} else {
			addPair(e, "port", nullNode())
		}
		s.Content = append(s.Content, e)
	}
	return s
}

func (m *marshaller) plugin(p *Plugin, top bool) (*yaml.Node, error) {
	n := mapNode()
	addPair(n, "id", optStr(p.ID))
	addPair(n, "name", strNode(p.Name))
	addPair(n, "instance_name", optStr(p.InstanceName))
	cfg, err := valueNode(p.RawConfig)
	if err != nil {
		return nil, fmt.Errorf("plugin %s config: %w", p.Path0, err)
	}
	addPair(n, "config", cfg)
	addPair(n, "protocols", strList(p.Protocols))
	addPair(n, "enabled", boolNode(p.Enabled))
	addPair(n, "tags", strList(p.Tags))
	if top {
		if p.Service != nil {
			addPair(n, "service", refName(p.Service.Name, p.Service.ID))
		} else {
			addPair(n, "service", nullNode())
		}
		if p.Route != nil {
			addPair(n, "route", refName(p.Route.Name, p.Route.ID))
		} else {
			addPair(n, "route", nullNode())
		}
		if p.Consumer != nil {
			addPair(n, "consumer", refName(p.Consumer.Username, p.Consumer.ID))
		} else {
			addPair(n, "consumer", nullNode())
		}
	}
	addPair(n, "created_at", intNode(p.CreatedAt))
	return n, nil
}

func (m *marshaller) consumer(c *Config, cn *Consumer) *yaml.Node {
	n := mapNode()
	addPair(n, "id", optStr(cn.ID))
	addPair(n, "username", optStr(cn.Username))
	addPair(n, "custom_id", optStr(cn.CustomID))
	addPair(n, "tags", strList(cn.Tags))
	addPair(n, "created_at", intNode(cn.CreatedAt))
	var plugins []*yaml.Node
	for _, p := range c.Plugins {
		if pluginParent(p) == "consumer" && p.Consumer == cn {
			plugins = append(plugins, m.mustPlugin(p))
		}
	}
	if len(plugins) > 0 {
		addPair(n, "plugins", seqNode(plugins...))
	}
	return n
}

func (m *marshaller) upstream(c *Config, u *Upstream) *yaml.Node {
	n := mapNode()
	addPair(n, "id", optStr(u.ID))
	addPair(n, "name", strNode(u.Name))
	addPair(n, "algorithm", strNode(u.Algorithm))
	addPair(n, "hash_on", strNode(u.HashOn))
	addPair(n, "hash_fallback", strNode(u.HashFallback))
	addPair(n, "hash_on_header", optStr(u.HashOnHeader))
	addPair(n, "hash_fallback_header", optStr(u.HashFallbackHeader))
	addPair(n, "hash_on_cookie", optStr(u.HashOnCookie))
	addPair(n, "hash_on_cookie_path", strNode(u.HashOnCookiePath))
	addPair(n, "hash_on_query_arg", optStr(u.HashOnQueryArg))
	addPair(n, "hash_fallback_query_arg", optStr(u.HashFallbackQueryArg))
	addPair(n, "hash_on_uri_capture", optStr(u.HashOnURICapture))
	addPair(n, "hash_fallback_uri_capture", optStr(u.HashFallbackURICapture))
	addPair(n, "slots", intNode(int64(u.Slots)))
	addPair(n, "host_header", optStr(u.HostHeader))
	addPair(n, "client_certificate", optStr(u.ClientCertificate))
	addPair(n, "use_srv_name", boolNode(u.UseSRVName))
	hc, err := valueNode(u.Healthchecks)
	if err != nil && m.err == nil {
		m.err = err
	}
	addPair(n, "healthchecks", hc)
	addPair(n, "tags", strList(u.Tags))
	addPair(n, "created_at", intNode(u.CreatedAt))
	var targets []*yaml.Node
	for _, t := range c.Targets {
		if t.Upstream == u && nestedIn(t.Path0, u.Path0, "targets") {
			targets = append(targets, m.target(t, false))
		}
	}
	if len(targets) > 0 {
		addPair(n, "targets", seqNode(targets...))
	}
	return n
}

func (m *marshaller) target(t *Target, top bool) *yaml.Node {
	n := mapNode()
	addPair(n, "id", optStr(t.ID))
	addPair(n, "target", strNode(t.Target))
	addPair(n, "weight", intNode(int64(t.Weight)))
	addPair(n, "tags", strList(t.Tags))
	if top {
		if t.Upstream != nil {
			addPair(n, "upstream", refName(t.Upstream.Name, t.Upstream.ID))
		} else {
			addPair(n, "upstream", nullNode())
		}
	}
	addPair(n, "created_at", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float",
		Value: strconv.FormatFloat(t.CreatedAt, 'f', 3, 64)})
	return n
}

func (m *marshaller) certificate(c *Config, cert *Certificate) *yaml.Node {
	n := mapNode()
	addPair(n, "id", optStr(cert.ID))
	addPair(n, "cert", optStr(cert.Cert))
	addPair(n, "key", optStr(cert.Key))
	addPair(n, "cert_alt", optStr(cert.CertAlt))
	addPair(n, "key_alt", optStr(cert.KeyAlt))
	addPair(n, "tags", strList(cert.Tags))
	var snis []*yaml.Node
	for _, s := range c.SNIs {
		if s.Certificate == cert && nestedIn(s.Path0, cert.Path0, "snis") {
			snis = append(snis, m.sni(s, false))
		}
	}
	if len(snis) > 0 {
		addPair(n, "snis", seqNode(snis...))
	}
	return n
}

func (m *marshaller) sni(s *SNI, top bool) *yaml.Node {
	n := mapNode()
	addPair(n, "id", optStr(s.ID))
	addPair(n, "name", strNode(s.Name))
	addPair(n, "tags", strList(s.Tags))
	if top {
		if s.Certificate != nil {
			addPair(n, "certificate", strNode(s.Certificate.ID))
		} else {
			addPair(n, "certificate", nullNode())
		}
	}
	return n
}

// --- node helpers ---

func mapNode() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func seqNode(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func addPair(m *yaml.Node, k string, v *yaml.Node) {
	m.Content = append(m.Content, strNode(k), v)
}

func nullNode() *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"} }

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func intNode(n int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(n, 10)}
}

// yaml11Words are plain scalars YAML 1.1 parsers (the loader's decoder) read
// as booleans or null, so they must be quoted to stay strings.
var yaml11Words = map[string]bool{
	"y": true, "yes": true, "n": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true, "~": true, "<<": true,
}

func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch {
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
	case s == "" || strings.IndexByte("0123456789+-.~=", s[0]) >= 0 || yaml11Words[strings.ToLower(s)]:
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func optStr(s string) *yaml.Node {
	if s == "" {
		return nullNode()
	}
	return strNode(s)
}

func strList(ss []string) *yaml.Node {
	if ss == nil {
		return nullNode()
	}
	n := seqNode()
	for _, s := range ss {
		n.Content = append(n.Content, strNode(s))
	}
	flowIfScalars(n)
	return n
}

// flowIfScalars writes short lists of single-line scalars as [a, b].
func flowIfScalars(n *yaml.Node) {
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Style == yaml.LiteralStyle {
			return
		}
	}
	n.Style = yaml.FlowStyle
}

// valueNode converts a decoded JSON-like value (maps, lists, json.Number,
// strings, bools, nil) into a node; maps are emitted with sorted keys.
func valueNode(v any) (*yaml.Node, error) {
	switch t := v.(type) {
	case nil:
		return nullNode(), nil
	case map[string]any:
		if t == nil {
			return nullNode(), nil
		}
		n := mapNode()
		for _, k := range sortedKeys(t) {
			c, err := valueNode(t[k])
			if err != nil {
				return nil, err
			}
			addPair(n, k, c)
		}
		return n, nil
	case []any:
		n := seqNode()
		for _, e := range t {
			c, err := valueNode(e)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		flowIfScalars(n)
		return n, nil
	case string:
		return strNode(t), nil
	case bool:
		return boolNode(t), nil
	case json.Number:
		if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: string(t)}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: string(t)}, nil
	case int:
		return intNode(int64(t)), nil
	case int64:
		return intNode(t), nil
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(t, 'g', -1, 64)}, nil
	}
	// Anything else (typed defaults a schema put in): through JSON.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	return valueNode(x)
}
