package declarative

// Options tell Load where the text came from and which plugins exist.
type Options struct {
	// Filename is used in messages and to pick the decoder by extension
	// (".json" → JSON, ".yml"/".yaml" → YAML; "" → try JSON, then YAML).
	Filename string
	// Dir is the folder relative Lua file paths resolve against
	// (normally filepath.Dir of the kong.yml path).
	Dir string
	// Registry knows the plugin kinds; nil accepts no plugins.
	Registry Registry
}

// Load parses and validates a declarative config. On failure the error is a
// *ValidationError carrying every problem found, each with its path and line.
func Load(data []byte, opts Options) (*Config, error) {
	panic("TODO: implemented by the declarative work")
}

// LoadFile reads path and calls Load with Filename and Dir set from it.
func LoadFile(path string, reg Registry) (*Config, error) {
	panic("TODO: implemented by the declarative work")
}
