// This file is the contract other packages build on: the router and proxy
// read these types, plugin kinds validate their config through PluginSchema.

package declarative

// Config is a whole validated kong.yml. After Load returns it is never
// mutated; a new file gives a new Config.
type Config struct {
	FormatVersion string // always "3.0" after loading (1.1/2.1 paths are converted)

	Services     []*Service
	Routes       []*Route  // every route, nested or top-level, in file order; Route.Service resolved
	Plugins      []*Plugin // every plugin, nested or top-level, in file order; scope pointers resolved
	Consumers    []*Consumer
	Upstreams    []*Upstream
	Targets      []*Target // every target; Target.Upstream resolved
	Certificates []*Certificate
	SNIs         []*SNI

	// Hash is Kong's configuration_hash (DECISIONS row 13): lowercase hex MD5
	// of the raw text, followed by each referenced Lua file's path and
	// contents in order of appearance; 32 zeros when the config is empty.
	Hash string
	// Files lists the absolute paths of every Lua file the config references
	// (for the watcher and the hash), in order of first appearance.
	Files []string
	// Warnings are non-fatal notes (e.g. missing _format_version).
	Warnings []string
	// Raw is the original text.
	Raw []byte
}

// Service is Kong's service entity with defaults applied.
type Service struct {
	ID                string
	Name              string // "" when unset
	Protocol          string // default "http"
	Host              string
	Port              int    // default 80
	Path              string // "" when null
	Retries           int    // default 5
	ConnectTimeout    int    // ms, default 60000
	WriteTimeout      int    // ms, default 60000
	ReadTimeout       int    // ms, default 60000
	Enabled           bool   // default true
	Tags              []string
	TLSVerify         *bool
	TLSVerifyDepth    *int
	CACertificates    []string
	ClientCertificate string // certificate id, "" when null
	CreatedAt         int64
	UpdatedAt         int64

	Path0 string // JSON path of the entity in the file, e.g. "services[0]"
}

// Route is Kong's route entity with defaults applied.
type Route struct {
	ID                      string
	Name                    string
	Protocols               []string // default ["http","https"]
	Methods                 []string
	Hosts                   []string
	Paths                   []string            // 3.0 form: regexes start with "~"
	Headers                 map[string][]string // lowercased names
	SNIs                    []string
	HTTPSRedirectStatusCode int    // default 426
	RegexPriority           int    // default 0
	StripPath               bool   // default true
	PathHandling            string // "v0" (default) or "v1"
	PreserveHost            bool   // default false
	RequestBuffering        bool   // default true
	ResponseBuffering       bool   // default true
	Tags                    []string
	Sources                 []RouteEndpoint // stream routes only
	Destinations            []RouteEndpoint // stream routes only
	Service                 *Service        // nil for a serviceless route
	CreatedAt               int64
	UpdatedAt               int64

	Path0 string // JSON path in the file, e.g. "services[0].routes[1]"
}

// RouteEndpoint is one entry of a stream route's sources or destinations.
type RouteEndpoint struct {
	IP   string // IP or CIDR, "" when unset
	Port *int   // nil when unset
}

// Plugin is one plugin instance.
type Plugin struct {
	ID           string
	Name         string
	InstanceName string
	Enabled      bool     // default true
	Protocols    []string // default ["grpc","grpcs","http","https"]
	Tags         []string
	// RawConfig is the config map as written (after JSON number decoding:
	// numbers are json.Number), with defaults from the schema applied.
	RawConfig map[string]any
	// Config is what the plugin kind's schema returned from Validate (its typed
	// config, e.g. compiled Lua functions). nil for kinds without a schema.
	Config any

	// Scope; nil means "any".
	Service  *Service
	Route    *Route
	Consumer *Consumer

	CreatedAt int64
	Path0     string // e.g. "services[0].plugins[0]"
}

// Consumer is Kong's consumer entity.
type Consumer struct {
	ID        string
	Username  string
	CustomID  string
	Tags      []string
	CreatedAt int64
	Path0     string
}

// Upstream is Kong's upstream entity (healthchecks kept raw with defaults applied).
type Upstream struct {
	ID                     string
	Name                   string
	Algorithm              string // round-robin (default), consistent-hashing, least-connections, latency
	HashOn                 string // default "none"
	HashFallback           string // default "none"
	HashOnHeader           string
	HashFallbackHeader     string
	HashOnCookie           string
	HashOnCookiePath       string // default "/"
	HashOnQueryArg         string
	HashFallbackQueryArg   string
	HashOnURICapture       string
	HashFallbackURICapture string
	Slots                  int // default 10000
	HostHeader             string
	ClientCertificate      string // certificate id, "" when null
	UseSRVName             bool
	Healthchecks           map[string]any
	Tags                   []string
	CreatedAt              int64
	Path0                  string
}

// Target is one balancer target of an upstream.
type Target struct {
	ID        string
	Target    string // host:port; ":8000" appended when the port is missing
	Weight    int    // default 100
	Tags      []string
	Upstream  *Upstream
	CreatedAt float64
	Path0     string
}

// Certificate is a TLS certificate with its key (PEM).
type Certificate struct {
	ID      string
	Cert    string
	Key     string
	CertAlt string
	KeyAlt  string
	Tags    []string
	Path0   string
}

// SNI maps a server name to a certificate.
type SNI struct {
	ID          string
	Name        string
	Certificate *Certificate
	Tags        []string
	Path0       string
}

// PluginSchema validates one plugin kind's config. The loader passes the
// config map as written (numbers as json.Number, nil for a missing config)
// and prefixes every returned error's Path with the plugin's path plus
// ".config" (so a schema returns paths like "access[0]").
type PluginSchema interface {
	// Defaults fills defaults into cfg (which may be empty) in place.
	// Validate returns the value stored in Plugin.Config.
	Validate(cfg map[string]any, env *PluginEnv) (any, []*FieldError)
}

// PluginEnv gives a schema what it needs besides the config itself.
type PluginEnv struct {
	// Dir is the folder of kong.yml; relative Lua file paths resolve against it.
	Dir string
	// Name is the plugin name as written ("pre-function", "serverless-functions", ...).
	Name string
	// ReadFile reads a file referenced by the config (relative to Dir or
	// absolute) and records it in Config.Files; schemas must use it instead
	// of os.ReadFile so the watcher and the hash see every file.
	ReadFile func(path string) ([]byte, error)
}

// PluginKind describes a plugin name the loader accepts.
type PluginKind struct {
	Name     string
	Priority int
	Schema   PluginSchema // nil: config must be empty or absent
	// NoConsumer: the plugin cannot be scoped to a consumer.
	NoConsumer bool
}

// Registry looks plugin kinds up by name. The gateway passes its registry
// to Load; declarative itself knows no plugin.
type Registry interface {
	Lookup(name string) (PluginKind, bool)
}
