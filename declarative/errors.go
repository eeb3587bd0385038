package declarative

import (
	"fmt"
	"strings"
)

// FieldError is one validation error with its place in the file.
type FieldError struct {
	// Path is the full path in the file: "services[0].routes[1].paths[0]"
	// (0-based indexes, as users count lines of a YAML list in editors).
	// For a schema's own errors it is relative to the plugin's config.
	Path string
	// Line is the 1-based line in the YAML/JSON text, 0 when unknown.
	Line int
	// Message follows Kong's catalogue: "required field missing".
	Message string

	// kong, when set, is where Kong's error tree keeps this error when that
	// is not the path itself: reference errors and flatten-time uniqueness
	// errors are keyed by the entity's endpoint key or id. A last element
	// "[]" means "append to a list".
	kong []string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationError holds every error found in one load, sorted by place.
type ValidationError struct {
	File   string // the file name as given, "" for text without a file
	Errors []*FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" && fe.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: ", e.File, fe.Line)
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find each FieldError.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		out[i] = fe
	}
	return out
}
