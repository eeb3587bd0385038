package gateway

import (
	"strings"

	"luagate/lualib"
)

// Serialize is kong.log.serialize()'s table source: request, response,
// route, service, consumer, latencies, tries and client address.
func (r *request) Serialize() map[string]any {
	reqHeaders := map[string]any{}
	for k, v := range r.ctx.Request.Header.All() {
		addHeader(reqHeaders, strings.ToLower(string(k)), string(v))
	}
	respHeaders := map[string]any{}
	for k, v := range r.ctx.Response.Header.All() {
		addHeader(respHeaders, strings.ToLower(string(k)), string(v))
	}
	url := r.lst.scheme + "://" + r.hostHdr + r.rawPath
	uri := r.rawPath
	if r.hasQuery {
		url += "?" + r.rawQuery
		uri += "?" + r.rawQuery
	}
	query := map[string]any{}
	for k, v := range r.ctx.QueryArgs().All() {
		if len(v) == 0 {
			query[string(k)] = true
		} else {
			query[string(k)] = string(v)
		}
	}
	kong, proxy, total := r.Latencies()
	out := map[string]any{
		"request": map[string]any{
			"uri":         uri,
			"url":         url,
			"querystring": query,
			"method":      strings.Clone(r.method),
			"headers":     reqHeaders,
			"size":        r.ctx.Request.Header.ContentLength(),
		},
		"response": map[string]any{
			"status":  r.ctx.Response.StatusCode(),
			"headers": respHeaders,
			"size":    len(r.respBody),
		},
		"latencies": map[string]any{
			"kong":    kong,
			"proxy":   proxy,
			"request": total,
		},
		"client_ip":  r.fwdIP,
		"started_at": r.start.UnixMilli(),
		"source":     sourceName(r.source),
	}
	if r.rs != nil {
		out["route"] = r.rs.info
		if r.rs.svcInfo != nil {
			out["service"] = r.rs.svcInfo
		}
		out["upstream_uri"] = r.UpstreamURI()
	}
	if r.consumer != nil {
		out["consumer"] = r.consumer
	}
	if r.tries > 0 {
		tries := make([]any, r.tries)
		for i := range tries {
			tries[i] = map[string]any{}
		}
		out["tries"] = tries
	}
	return out
}

func addHeader(m map[string]any, k, v string) {
	switch old := m[k].(type) {
	case nil:
		m[k] = v
	case string:
		m[k] = []any{old, v}
	case []any:
		m[k] = append(old, v)
	}
}

func sourceName(s lualib.Source) string {
	switch s {
	case lualib.SourceService:
		return "service"
	case lualib.SourceExit:
		return "exit"
	case lualib.SourceError:
		return "error"
	}
	return ""
}
