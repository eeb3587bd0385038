package functions

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"luagate/declarative"
)

// LambdaConfig is the validated config of one aws-lambda instance (spec 5.1),
// with Kong's defaults applied. Optional strings are "" when unset.
type LambdaConfig struct {
	Timeout   time.Duration // timeout (ms in the config, default 60000)
	Keepalive time.Duration // keepalive (ms, default 60000)

	AWSKey             string
	AWSSecret          string
	AssumeRoleARN      string // aws_assume_role_arn
	RoleSessionName    string // aws_role_session_name, default "kong"
	STSEndpointURL     string // aws_sts_endpoint_url
	Region             string // aws_region; "" falls back to AWS_REGION, then AWS_DEFAULT_REGION
	FunctionName       string
	Qualifier          string
	InvocationType     string // RequestResponse (default), Event, DryRun
	LogType            string // Tail (default), None
	Host               string
	Port               int // default 443, used even with the default host
	DisableHTTPS       bool
	UnhandledStatus    int // 0 when unset
	ProxyURL           string
	IMDSProtocol       string // aws_imds_protocol_version: v1 (default), v2
	EmptyArraysMode    string // legacy (default), correct
	PayloadVersion     string // awsgateway_compatible_payload_version: "1.0" (default), "2.0"
	IsProxyIntegration bool
	AWSGateway         bool // awsgateway_compatible
	SkipLargeBodies    bool // default true
	Base64EncodeBody   bool // default true

	ForwardMethod, ForwardURI, ForwardHeaders, ForwardBody bool

	// timeoutMS and keepaliveMS keep the numbers as written for the client
	// cache key.
	timeoutMS, keepaliveMS string
}

const (
	msgAllOrNone   = "all or none of these fields must be set: 'config.aws_key', 'config.aws_secret'"
	msgProxyScheme = "proxy_url scheme must be http"
	msgRequired    = "required field missing"
)

// lambdaField is one config field: its kind, default and allowed values.
type lambdaField struct {
	name string
	kind byte // s string, n number, i integer, b boolean, h host, u url, p port
	def  any  // default (nil: none)
	enum []string
	min  int // integer bounds (kind i)
	max  int
}

var lambdaFields = []lambdaField{
	{name: "timeout", kind: 'n', def: json.Number("60000")},
	{name: "keepalive", kind: 'n', def: json.Number("60000")},
	{name: "aws_key", kind: 's'},
	{name: "aws_secret", kind: 's'},
	{name: "aws_assume_role_arn", kind: 's'},
	{name: "aws_role_session_name", kind: 's', def: "kong"},
	{name: "aws_sts_endpoint_url", kind: 'u'},
	{name: "aws_region", kind: 'h'},
	{name: "function_name", kind: 's'},
	{name: "qualifier", kind: 's'},
	{name: "invocation_type", kind: 's', def: "RequestResponse", enum: []string{"RequestResponse", "Event", "DryRun"}},
	{name: "log_type", kind: 's', def: "Tail", enum: []string{"Tail", "None"}},
	{name: "host", kind: 'h'},
	{name: "port", kind: 'p', def: json.Number("443")},
	{name: "disable_https", kind: 'b', def: false},
	{name: "unhandled_status", kind: 'i', min: 100, max: 999},
	{name: "forward_request_method", kind: 'b', def: false},
	{name: "forward_request_uri", kind: 'b', def: false},
	{name: "forward_request_headers", kind: 'b', def: false},
	{name: "forward_request_body", kind: 'b', def: false},
	{name: "is_proxy_integration", kind: 'b', def: false},
	{name: "awsgateway_compatible", kind: 'b', def: false},
	{name: "awsgateway_compatible_payload_version", kind: 's', def: "1.0", enum: []string{"1.0", "2.0"}},
	{name: "proxy_url", kind: 'u'},
	{name: "skip_large_bodies", kind: 'b', def: true},
	{name: "base64_encode_body", kind: 'b', def: true},
	{name: "aws_imds_protocol_version", kind: 's', def: "v1", enum: []string{"v1", "v2"}},
	{name: "empty_arrays_mode", kind: 's', def: "legacy", enum: []string{"legacy", "correct"}},
}

// lambdaSchema validates aws-lambda configs; every Lambda it returns shares
// the kind's runtime (client cache, settings).
type lambdaSchema struct{ rt *lambdaRuntime }

// Validate checks cfg against Kong's aws-lambda schema, fills the defaults
// into cfg and returns a *Lambda (the instance's runner).
func (sc lambdaSchema) Validate(cfg map[string]any, _ *declarative.PluginEnv) (any, []*declarative.FieldError) {
	c, errs := parseLambdaConfig(cfg)
	if len(errs) > 0 {
		return nil, errs
	}
	return newLambda(c, sc.rt), nil
}

// parseLambdaConfig validates a config map (numbers as json.Number, float64
// or int) and fills Kong's defaults into it. Error paths are relative to
// the plugin's config.
func parseLambdaConfig(cfg map[string]any) (LambdaConfig, []*declarative.FieldError) {
	var errs []*declarative.FieldError
	fail := func(path, msg string) {
		errs = append(errs, &declarative.FieldError{Path: path, Message: msg})
	}
	known := make(map[string]bool, len(lambdaFields))
	for _, f := range lambdaFields {
		known[f.name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		if !known[k] {
			fail(k, "unknown field")
		}
	}

	var c LambdaConfig
	str := map[string]string{}
	num := map[string]float64{}
	numText := map[string]string{}
	boolean := map[string]bool{}
	for _, f := range lambdaFields {
		v, present := cfg[f.name]
		if !present || v == nil {
			if f.def == nil {
				continue
			}
			v = f.def
			if cfg != nil {
				cfg[f.name] = v
			}
		}
		switch f.kind {
		case 's', 'h', 'u':
			s, ok := v.(string)
			if !ok {
				fail(f.name, "expected a string")
				continue
			}
			if s == "" {
				fail(f.name, "length must be at least 1")
				continue
			}
			if f.enum != nil && !slices.Contains(f.enum, s) {
				fail(f.name, "expected one of: "+strings.Join(f.enum, ", "))
				continue
			}
			if f.kind == 'h' {
				if msg := hostError(s); msg != "" {
					fail(f.name, msg)
					continue
				}
			}
			if f.kind == 'u' {
				if msg := urlError(s); msg != "" {
					fail(f.name, msg)
					continue
				}
			}
			str[f.name] = s
		case 'n', 'i', 'p':
			n, text, ok := number(v)
			if !ok {
				if f.kind == 'n' {
					fail(f.name, "expected a number")
				} else {
					fail(f.name, "expected an integer")
				}
				continue
			}
			if f.kind != 'n' && n != math.Trunc(n) {
				fail(f.name, "expected an integer")
				continue
			}
			lo, hi := f.min, f.max
			if f.kind == 'p' {
				lo, hi = 0, 65535
			}
			if f.kind != 'n' && (n < float64(lo) || n > float64(hi)) {
				fail(f.name, fmt.Sprintf("value should be between %d and %d", lo, hi))
				continue
			}
			num[f.name], numText[f.name] = n, text
		case 'b':
			b, ok := v.(bool)
			if !ok {
				fail(f.name, "expected a boolean")
				continue
			}
			boolean[f.name] = b
		}
	}

	// Kong: function_name is not required by its schema, but a missing one
	// only fails at request time; luagate rejects it at load.
	if _, ok := cfg["function_name"]; !ok || cfg["function_name"] == nil {
		fail("function_name", msgRequired)
	}
	_, hasKey := str["aws_key"]
	_, hasSecret := str["aws_secret"]
	if hasKey != hasSecret && !hasFieldError(errs, "aws_key", "aws_secret") {
		missing := "aws_secret"
		if !hasKey {
			missing = "aws_key"
		}
		fail(missing, msgAllOrNone)
	}
	if p, ok := str["proxy_url"]; ok {
		if scheme, _, found := strings.Cut(p, "://"); found && scheme != "http" {
			fail("proxy_url", msgProxyScheme)
		}
	}
	if len(errs) > 0 {
		return c, errs
	}

	ms := func(name string) time.Duration { return time.Duration(num[name] * float64(time.Millisecond)) }
	c.Timeout, c.Keepalive = ms("timeout"), ms("keepalive")
	c.timeoutMS, c.keepaliveMS = numText["timeout"], numText["keepalive"]
	c.AWSKey, c.AWSSecret = str["aws_key"], str["aws_secret"]
	c.AssumeRoleARN, c.RoleSessionName = str["aws_assume_role_arn"], str["aws_role_session_name"]
	c.STSEndpointURL, c.Region = str["aws_sts_endpoint_url"], str["aws_region"]
	c.FunctionName, c.Qualifier = str["function_name"], str["qualifier"]
	c.InvocationType, c.LogType = str["invocation_type"], str["log_type"]
	c.Host, c.Port = str["host"], int(num["port"])
	c.DisableHTTPS = boolean["disable_https"]
	c.UnhandledStatus = int(num["unhandled_status"])
	c.ProxyURL, c.IMDSProtocol = str["proxy_url"], str["aws_imds_protocol_version"]
	c.EmptyArraysMode, c.PayloadVersion = str["empty_arrays_mode"], str["awsgateway_compatible_payload_version"]
	c.IsProxyIntegration, c.AWSGateway = boolean["is_proxy_integration"], boolean["awsgateway_compatible"]
	c.SkipLargeBodies, c.Base64EncodeBody = boolean["skip_large_bodies"], boolean["base64_encode_body"]
	c.ForwardMethod, c.ForwardURI = boolean["forward_request_method"], boolean["forward_request_uri"]
	c.ForwardHeaders, c.ForwardBody = boolean["forward_request_headers"], boolean["forward_request_body"]
	return c, nil
}

func hasFieldError(errs []*declarative.FieldError, paths ...string) bool {
	for _, e := range errs {
		if slices.Contains(paths, e.Path) {
			return true
		}
	}
	return false
}

// number reads a config number and its text (for the cache key).
func number(v any) (float64, string, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, "", false
		}
		return f, x.String(), true
	case float64:
		return x, strconv.FormatFloat(x, 'g', -1, 64), true
	case int:
		return float64(x), strconv.Itoa(x), true
	case int64:
		return float64(x), strconv.FormatInt(x, 10), true
	}
	return 0, "", false
}

// hostError is Kong's typedefs.host: a host name or an IP address, no port.
func hostError(h string) string {
	host, hasPort := h, false
	switch {
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "invalid value: " + h
		}
		host = h[1:end]
		rest := h[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "invalid value: " + h
			}
			hasPort = true
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return "invalid value: " + h
		}
	case strings.Count(h, ":") > 1:
		if net.ParseIP(h) == nil {
			return "invalid value: " + h
		}
		return ""
	case strings.Contains(h, ":"):
		host, hasPort = h[:strings.IndexByte(h, ':')], true
		if !validHostname(host) {
			return "invalid value: " + h
		}
	default:
		if !validHostname(host) {
			return "invalid value: " + h
		}
	}
	if hasPort {
		return "must not have a port"
	}
	return ""
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// urlError is Kong's typedefs.url: a URL with a scheme and a host.
func urlError(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "could not parse url. " + err.Error()
	}
	if u.Host == "" {
		return "missing host in url"
	}
	if u.Scheme == "" {
		return "missing scheme in url"
	}
	return ""
}
