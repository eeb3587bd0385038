package gateway

import (
	"sort"

	"luagate/declarative"
	"luagate/functions"
	"luagate/gateway/metrics"
)

// registry is the list of plugin kinds luagate knows, in priority order
// (highest first), looked up by name. It is the one place that lists them.
type registry struct {
	kinds  []declarative.PluginKind
	byName map[string]int
}

// Registry returns the plugin kinds for these settings, for
// declarative.Load: the Lua kinds (pre-function, serverless-functions,
// post-function) and aws-lambda from the functions package, prometheus from
// gateway/metrics. Kinds whose schema returns a runner in Plugin.Config
// (aws-lambda, prometheus) are run by the chain like the Lua ones.
func Registry(s Settings) declarative.Registry {
	return newRegistry(functions.Kinds(functionsSettings(s, nil)), metrics.Kinds(), functions.LambdaKinds(lambdaSettings(s)))
}

// lambdaSettings derives the aws-lambda kind's settings (Via as the headers
// setting says, luagate's token).
func lambdaSettings(s Settings) functions.LambdaSettings {
	f, _ := parseHeaderFlags(s.Headers, s.HeadersUpstream)
	return functions.LambdaSettings{ServerToken: serverToken, Via: f.via, ClientBodyBufferSize: s.ClientBodyBufferSize}
}

func newRegistry(kindLists ...[]declarative.PluginKind) *registry {
	r := &registry{byName: make(map[string]int)}
	for _, l := range kindLists {
		r.kinds = append(r.kinds, l...)
	}
	sort.SliceStable(r.kinds, func(i, j int) bool { return r.kinds[i].Priority > r.kinds[j].Priority })
	for i, k := range r.kinds {
		r.byName[k.Name] = i
	}
	return r
}

// Lookup implements declarative.Registry.
func (r *registry) Lookup(name string) (declarative.PluginKind, bool) {
	i, ok := r.byName[name]
	if !ok {
		return declarative.PluginKind{}, false
	}
	return r.kinds[i], true
}

// Kinds lists the registered kinds in priority order (for the Admin API's
// plugins.available_on_server).
func (r *registry) Kinds() []declarative.PluginKind { return r.kinds }

// functionsSettings derives the Lua runtime's settings; rt may be nil when
// only schemas are needed (config validation).
func functionsSettings(s Settings, rt *Runtime) functions.Settings {
	fs := functions.Settings{
		UntrustedLua:       s.UntrustedLua,
		SandboxRequires:    s.UntrustedLuaSandboxRequires,
		SandboxEnvironment: s.UntrustedLuaSandboxEnvironment,
		MaxExecutionTime:   s.LuaMaxExecutionTime,
	}
	if rt != nil {
		fs.Logger = rt.logger
		fs.State = rt.stateOptions()
		fs.Recycler = rt.luaStates
	}
	return fs
}

var _ declarative.Registry = (*registry)(nil)
