// Package admin is luagate's Admin API: Kong's DB-less endpoints (GET on
// every entity, GET/POST /config, GET /status, GET /) plus the entity
// writes of DECISIONS row 7, which edit kong.yml and reload it.
//
// The package knows nothing of the gateway: it talks to a Backend, and is
// a plain net/http Handler.
//
// Reads: /services, /routes, /plugins, /consumers, /upstreams,
// /certificates, /snis, each item by id or endpoint key, and the nested
// lists /services/{s}/routes|plugins, /routes/{r}/plugins,
// /consumers/{c}/plugins, /upstreams/{u}/targets, /certificates/{c}/snis;
// pages of {data, next, offset} with size, offset and tags; entities in
// Kong's JSON shape (every field, nulls, foreign keys as {"id": ...}).
//
// Writes (Options.Writes): POST on a collection or nested collection, PUT,
// PATCH and DELETE on an item, in JSON, form (Kong's dotted and [n] keys)
// or multipart. A write edits the YAML node tree of the running kong.yml:
// a new entity is appended to its parent's list (nested, as kong.yml
// writes it) or to the top level; an update merges records (config,
// healthchecks) and replaces other fields; a delete cascades to plugins and
// targets and refuses a service that routes use. The whole text is then
// validated, written atomically (WriteFileAtomic) and applied through the
// gateway's reload loop before the answer is sent. Only the lines of the
// touched entities change (splice.go). Writes are serialised; If-Match with
// the configuration hash (also sent as ETag) guards against lost updates.
//
// Differences from Kong: POST /config never answers 429 (loads are
// serialised); its configuration_hash is the MD5 of the posted text (plus
// referenced Lua files, DECISIONS row 13) also for a JSON object body.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"luagate/declarative"
)

// Backend is what the Admin API needs from the gateway.
type Backend interface {
	// Config is the configuration serving requests (Hash and Raw set).
	Config() *declarative.Config
	// Info is the GET / document.
	Info() map[string]any
	// Status is the GET /status document for a unit (b, k, m, g) and scale.
	Status(unit string, scale int) (map[string]any, error)
	// Validate loads text as the config file would be loaded, without
	// applying it; the error is a *declarative.ValidationError when the text
	// is invalid.
	Validate(text []byte) (*declarative.Config, error)
	// Write validates text, writes it to kong.yml atomically and applies it;
	// it returns once the new configuration serves requests.
	Write(text []byte) (*declarative.Config, error)
}

// A Backend may also implement Exiting() bool: while it returns true (the
// node is draining) POST /config answers 503 like Kong. And FileText()
// ([]byte, bool), the current content of kong.yml (false: no file): an
// entity write answers 409 while that differs from the running config's
// text, so an edit the watcher has not applied is never overwritten.

// Options configure the Admin API.
type Options struct {
	// Writes enables entity writes and POST /config (KONG_ADMIN_WRITES);
	// when false they answer Kong's DB-less 405 bodies.
	Writes bool
	// Token, when set, is required as "Authorization: Bearer <token>".
	Token string
	// MaxBodySize limits request bodies (0: 10 MiB); larger ones get 413.
	MaxBodySize int64
	// Logger receives the API's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultMaxBodySize is nginx_admin_client_max_body_size's default.
const DefaultMaxBodySize = 10 << 20

// Handler serves the Admin API. Create it with New.
type Handler struct {
	b    Backend
	opts Options
	log  *slog.Logger

	writeMu sync.Mutex // serialises writes: read, edit, validate, write

	idxMu  sync.Mutex
	idxCfg *declarative.Config
	idx    *index
}

// New returns the Admin API over b.
func New(b Backend, opts Options) *Handler {
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{b: b, opts: opts, log: log}
}

// apiError is an error with its HTTP status and Kong's JSON body.
type apiError struct {
	status int
	body   map[string]any
}

func (e *apiError) Error() string {
	if m, ok := e.body["message"].(string); ok {
		return m
	}
	return http.StatusText(e.status)
}

func errMsg(status int, msg string) *apiError {
	return &apiError{status: status, body: map[string]any{"message": msg}}
}

var (
	errNotFound         = errMsg(404, "Not found")
	errMethodNotAllowed = errMsg(405, "Method not allowed")
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Token != "" && !h.authorized(r) {
		writeJSON(w, 401, map[string]any{"message": "Unauthorized"})
		return
	}
	if r.ContentLength > h.opts.MaxBodySize {
		writeJSON(w, 413, map[string]any{"message": "Request body too large"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodySize)
	status, body, err := h.serve(r)
	if err != nil {
		var ae *apiError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &ae):
			status, body = ae.status, ae.body
		case errors.As(err, &mbe):
			status, body = 413, map[string]any{"message": "Request body too large"}
		default:
			h.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			status, body = 500, map[string]any{"message": "An unexpected error occurred"}
		}
	}
	if status < 300 || status == 304 {
		// The configuration this answer reflects, for If-Match on a write.
		w.Header().Set("ETag", `"`+hashOf(h.b.Config())+`"`)
	}
	switch {
	case status == 204 || status == 304:
		w.WriteHeader(status)
	case r.Method == http.MethodHead:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
	default:
		writeJSON(w, status, body)
	}
}

func (h *Handler) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(h.opts.Token)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"message":"An unexpected error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// serve routes a request; it returns the status and body, or an error.
func (h *Handler) serve(r *http.Request) (int, any, error) {
	path := strings.Trim(r.URL.Path, "/")
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(segs) == 0:
		if !get {
			return 0, nil, errMethodNotAllowed
		}
		return 200, h.b.Info(), nil
	case segs[0] == "status" && len(segs) == 1:
		if !get {
			return 0, nil, errMethodNotAllowed
		}
		return h.status(r)
	case segs[0] == "config" && len(segs) == 1:
		switch {
		case get:
			return h.getConfig()
		case r.Method == http.MethodPost:
			return h.postConfig(r)
		}
		return 0, nil, errMethodNotAllowed
	}
	if status, body, ok, err := h.balancerRoutes(r, segs); ok { // health.go
		return status, body, err
	}
	return h.entities(r, segs)
}

func (h *Handler) status(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	unit := "m"
	if u := q.Get("unit"); u != "" {
		unit = strings.ToLower(u)
	}
	scale := 2
	if s := q.Get("scale"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, nil, errMsg(400, "invalid scale "+strconv.Quote(s)+" (expected a non-negative integer)")
		}
		scale = n
	}
	body, err := h.b.Status(unit, scale)
	if err != nil {
		return 0, nil, errMsg(400, err.Error())
	}
	if _, ok := body["configuration_hash"]; !ok {
		body["configuration_hash"] = hashOf(h.b.Config())
	}
	return 200, body, nil
}

// hashOf is the configuration_hash of cfg: 32 zeros when empty.
func hashOf(cfg *declarative.Config) string {
	if cfg == nil || cfg.Hash == "" {
		return declarative.EmptyConfigHash
	}
	return cfg.Hash
}

var _ http.Handler = (*Handler)(nil)
