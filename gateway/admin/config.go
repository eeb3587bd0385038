package admin

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"luagate/declarative"
)

// getConfig is GET /config: {"config": "<YAML>"} (spec 4.3).
func (h *Handler) getConfig() (int, any, error) {
	cfg := h.b.Config()
	if cfg == nil {
		cfg = &declarative.Config{}
	}
	text, err := declarative.Marshal(cfg)
	if err != nil {
		return 0, nil, err
	}
	return 200, map[string]any{"config": string(text)}, nil
}

// configText extracts the declarative text of a POST /config body (spec
// 4.2): a JSON object with _format_version is the config itself; a form,
// multipart or JSON field "config" holds it as a string; any other body
// is the text.
func configText(r *http.Request) ([]byte, error) {
	switch mt := mediaType(r); mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		vals, files, err := readForm(r, mt)
		if err != nil {
			return nil, err
		}
		if f, ok := files["config"]; ok {
			return []byte(f), nil
		}
		return []byte(vals.Get("config")), nil
	case "application/json":
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&obj) != nil || obj == nil {
			// not an object: let the loader report what it is
			return raw, nil
		}
		if _, ok := obj["_format_version"]; ok {
			return raw, nil
		}
		switch c := obj["config"].(type) {
		case string:
			return []byte(c), nil
		case map[string]any:
			return json.Marshal(c)
		case nil:
			for k := range obj {
				if kinds[k] != nil {
					return raw, nil // entities without _format_version (DECISIONS row 5)
				}
			}
			return nil, nil
		}
		return raw, nil
	default:
		return io.ReadAll(r.Body)
	}
}

// postConfig is POST /config (spec 4.2): replace the whole configuration.
func (h *Handler) postConfig(r *http.Request) (int, any, error) {
	if !h.opts.Writes {
		return 0, nil, unsupported("cannot load a declarative configuration: Admin API writes are disabled (KONG_ADMIN_WRITES=off)")
	}
	if x, ok := h.b.(interface{ Exiting() bool }); ok && x.Exiting() {
		return 0, nil, errMsg(503, "Kong currently exiting")
	}
	text, err := configText(r)
	if err != nil {
		return 0, nil, err
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return 0, nil, errMsg(400, "expected a declarative configuration")
	}
	q := r.URL.Query()
	flatten := truthy(q.Get("flatten_errors"))

	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if err := h.checkIfMatch(r); err != nil {
		return 0, nil, err
	}
	cur := hashOf(h.b.Config())
	if q.Get("check_hash") == "1" {
		sum := md5.Sum(text)
		if hex.EncodeToString(sum[:]) == cur {
			return 304, nil, nil
		}
		if cfg, err := h.b.Validate(text); err == nil && cfg.Hash == cur {
			return 304, nil, nil
		}
	}
	cfg, err := h.b.Write(text)
	if err != nil {
		var ve *declarative.ValidationError
		if errors.As(err, &ve) {
			return 0, nil, declarativeError(err, flatten, decodeInput(text))
		}
		return 0, nil, err
	}
	h.log.Info("configuration replaced through POST /config", "configuration_hash", hashOf(cfg))
	return 201, flattenedEntities(cfg), nil
}

// checkIfMatch answers 412 when If-Match names another configuration hash.
func (h *Handler) checkIfMatch(r *http.Request) error {
	im := strings.TrimSpace(r.Header.Get("If-Match"))
	if im == "" || im == "*" {
		return nil
	}
	cur := hashOf(h.b.Config())
	for _, tag := range strings.Split(im, ",") {
		tag = strings.TrimSpace(tag)
		tag = strings.TrimPrefix(tag, "W/")
		if strings.Trim(tag, `"`) == cur {
			return nil
		}
	}
	return &apiError{status: 412, body: map[string]any{
		"message": "configuration hash mismatch: If-Match " + im + ", current configuration_hash " + cur,
	}}
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "true", "1", "on", "yes":
		return true
	}
	return false
}

// decodeInput decodes a posted text as the loader does (JSON, else YAML),
// for the entities of flattened errors; nil when it is not an object.
func decodeInput(text []byte) map[string]any {
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		if err := sigsyaml.Unmarshal(text, &v); err != nil {
			return nil
		}
	}
	m, _ := v.(map[string]any)
	return m
}

// flattenedEntities is the 201 body of POST /config: every entity by
// collection and id.
func flattenedEntities(cfg *declarative.Config) map[string]any {
	ix := buildIndex(cfg)
	out := map[string]any{}
	for kind, list := range ix.lists {
		if len(list) == 0 {
			continue
		}
		m := make(map[string]any, len(list))
		for _, e := range list {
			m[e.id] = e.obj
		}
		out[kind] = m
	}
	return out
}
