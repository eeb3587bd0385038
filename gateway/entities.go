package gateway

import "luagate/declarative"

// routeInfo is the Kong-shaped table source of a route
// (kong.router.get_route()).
func routeInfo(r *declarative.Route) map[string]any {
	m := map[string]any{
		"id":                         r.ID,
		"protocols":                  strList(r.Protocols),
		"https_redirect_status_code": r.HTTPSRedirectStatusCode,
		"regex_priority":             r.RegexPriority,
		"strip_path":                 r.StripPath,
		"path_handling":              r.PathHandling,
		"preserve_host":              r.PreserveHost,
		"request_buffering":          r.RequestBuffering,
		"response_buffering":         r.ResponseBuffering,
		"created_at":                 r.CreatedAt,
		"updated_at":                 r.UpdatedAt,
		"ws_id":                      "",
	}
	setStr(m, "name", r.Name)
	setList(m, "methods", r.Methods)
	setList(m, "hosts", r.Hosts)
	setList(m, "paths", r.Paths)
	setList(m, "snis", r.SNIs)
	setList(m, "tags", r.Tags)
	if len(r.Headers) > 0 {
		h := make(map[string]any, len(r.Headers))
		for k, v := range r.Headers {
			h[k] = strList(v)
		}
		m["headers"] = h
	}
	if r.Service != nil {
		m["service"] = map[string]any{"id": r.Service.ID}
	}
	return m
}

// serviceInfo is the Kong-shaped table source of a service
// (kong.router.get_service()).
func serviceInfo(s *declarative.Service) map[string]any {
	m := map[string]any{
		"id":              s.ID,
		"protocol":        s.Protocol,
		"host":            s.Host,
		"port":            s.Port,
		"retries":         s.Retries,
		"connect_timeout": s.ConnectTimeout,
		"write_timeout":   s.WriteTimeout,
		"read_timeout":    s.ReadTimeout,
		"enabled":         s.Enabled,
		"created_at":      s.CreatedAt,
		"updated_at":      s.UpdatedAt,
		"ws_id":           "",
	}
	setStr(m, "name", s.Name)
	setStr(m, "path", s.Path)
	setList(m, "tags", s.Tags)
	if s.TLSVerify != nil {
		m["tls_verify"] = *s.TLSVerify
	}
	return m
}

// consumerInfo is the Kong-shaped table source of a consumer.
func consumerInfo(c *declarative.Consumer) map[string]any {
	m := map[string]any{"id": c.ID, "created_at": c.CreatedAt}
	setStr(m, "username", c.Username)
	setStr(m, "custom_id", c.CustomID)
	setList(m, "tags", c.Tags)
	return m
}

func strList(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func setStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func setList(m map[string]any, k string, v []string) {
	if len(v) > 0 {
		m[k] = strList(v)
	}
}
