package functions

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"luagate/declarative"
)

func TestLambdaSchemaDefaults(t *testing.T) {
	cfg := map[string]any{"function_name": "f"}
	v, errs := lambdaSchema{rt: newLambdaRuntime(LambdaSettings{})}.Validate(cfg, nil)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	c := v.(*Lambda).Config
	want := LambdaConfig{
		Timeout: 60 * time.Second, Keepalive: 60 * time.Second, RoleSessionName: "kong", FunctionName: "f",
		InvocationType: "RequestResponse", LogType: "Tail", Port: 443, ProxyURL: "", IMDSProtocol: "v1",
		EmptyArraysMode: "legacy", PayloadVersion: "1.0", SkipLargeBodies: true, Base64EncodeBody: true,
		timeoutMS: "60000", keepaliveMS: "60000",
	}
	if c != want {
		t.Errorf("config\n got %+v\nwant %+v", c, want)
	}
	// Defaults are written back into the map (what the Admin API shows).
	for k, w := range map[string]any{
		"timeout": json.Number("60000"), "keepalive": json.Number("60000"), "port": json.Number("443"),
		"invocation_type": "RequestResponse", "log_type": "Tail", "aws_role_session_name": "kong",
		"disable_https": false, "skip_large_bodies": true, "base64_encode_body": true, "empty_arrays_mode": "legacy",
		"awsgateway_compatible_payload_version": "1.0", "aws_imds_protocol_version": "v1",
	} {
		if cfg[k] != w {
			t.Errorf("cfg[%s] = %#v, want %#v", k, cfg[k], w)
		}
	}
	if _, ok := cfg["aws_key"]; ok {
		t.Error("unset optional field added to the map")
	}
}

func TestLambdaSchemaValues(t *testing.T) {
	cfg := map[string]any{
		"function_name": "arn:aws:lambda:eu-west-1:123456789012:function:f", "qualifier": "prod",
		"timeout": json.Number("1500.5"), "keepalive": 0.0, "aws_key": "k", "aws_secret": "s",
		"aws_region": "eu-west-1", "host": "127.0.0.1", "port": json.Number("9000"), "disable_https": true,
		"unhandled_status": json.Number("999"), "invocation_type": "Event", "log_type": "None",
		"proxy_url": "http://proxy.internal:3128", "aws_sts_endpoint_url": "https://sts.eu-west-1.amazonaws.com",
		"aws_assume_role_arn": "arn:aws:iam::123456789012:role/r", "empty_arrays_mode": "correct",
		"awsgateway_compatible": true, "awsgateway_compatible_payload_version": "2.0",
		"forward_request_body": true, "is_proxy_integration": true,
	}
	v, errs := lambdaSchema{rt: newLambdaRuntime(LambdaSettings{})}.Validate(cfg, nil)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	c := v.(*Lambda).Config
	if c.Timeout != 1500*time.Millisecond+500*time.Microsecond || c.Keepalive != 0 || c.Port != 9000 ||
		c.UnhandledStatus != 999 || !c.DisableHTTPS || c.Region != "eu-west-1" || c.Qualifier != "prod" ||
		c.PayloadVersion != "2.0" || !c.ForwardBody || !c.IsProxyIntegration || c.InvocationType != "Event" {
		t.Errorf("config %+v", c)
	}
}

func TestLambdaSchemaErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  map[string]any
		want []string // "path: message"
	}{
		{"missing function_name", map[string]any{}, []string{"function_name: required field missing"}},
		{"nil config", nil, []string{"function_name: required field missing"}},
		{"key without secret", map[string]any{"function_name": "f", "aws_key": "k"},
			[]string{"aws_secret: all or none of these fields must be set: 'config.aws_key', 'config.aws_secret'"}},
		{"secret without key", map[string]any{"function_name": "f", "aws_secret": "s"},
			[]string{"aws_key: all or none of these fields must be set: 'config.aws_key', 'config.aws_secret'"}},
		{"https proxy", map[string]any{"function_name": "f", "proxy_url": "https://p:3128"},
			[]string{"proxy_url: proxy_url scheme must be http"}},
		{"proxy without scheme", map[string]any{"function_name": "f", "proxy_url": "p:3128"},
			[]string{"proxy_url: missing host in url"}},
		{"bad invocation type", map[string]any{"function_name": "f", "invocation_type": "Async"},
			[]string{"invocation_type: expected one of: RequestResponse, Event, DryRun"}},
		{"bad log type", map[string]any{"function_name": "f", "log_type": "tail"},
			[]string{"log_type: expected one of: Tail, None"}},
		{"bad payload version", map[string]any{"function_name": "f", "awsgateway_compatible_payload_version": "3.0"},
			[]string{"awsgateway_compatible_payload_version: expected one of: 1.0, 2.0"}},
		{"bad empty_arrays_mode", map[string]any{"function_name": "f", "empty_arrays_mode": "new"},
			[]string{"empty_arrays_mode: expected one of: legacy, correct"}},
		{"unhandled_status too low", map[string]any{"function_name": "f", "unhandled_status": json.Number("99")},
			[]string{"unhandled_status: value should be between 100 and 999"}},
		{"unhandled_status too high", map[string]any{"function_name": "f", "unhandled_status": json.Number("1000")},
			[]string{"unhandled_status: value should be between 100 and 999"}},
		{"unhandled_status fraction", map[string]any{"function_name": "f", "unhandled_status": json.Number("200.5")},
			[]string{"unhandled_status: expected an integer"}},
		{"port out of range", map[string]any{"function_name": "f", "port": json.Number("70000")},
			[]string{"port: value should be between 0 and 65535"}},
		{"timeout as string", map[string]any{"function_name": "f", "timeout": "60s"},
			[]string{"timeout: expected a number"}},
		{"bool as string", map[string]any{"function_name": "f", "disable_https": "yes"},
			[]string{"disable_https: expected a boolean"}},
		{"host with port", map[string]any{"function_name": "f", "host": "localhost:4566"},
			[]string{"host: must not have a port"}},
		{"bad host", map[string]any{"function_name": "f", "host": "local host"},
			[]string{"host: invalid value: local host"}},
		{"bad region", map[string]any{"function_name": "f", "aws_region": "us east"},
			[]string{"aws_region: invalid value: us east"}},
		{"empty string", map[string]any{"function_name": ""},
			[]string{"function_name: length must be at least 1"}},
		{"function_name not a string", map[string]any{"function_name": json.Number("1")},
			[]string{"function_name: expected a string"}},
		{"unknown field", map[string]any{"function_name": "f", "region": "x"},
			[]string{"region: unknown field"}},
		{"several at once", map[string]any{"aws_key": "k", "log_type": "x"},
			[]string{"log_type: expected one of: Tail, None", "function_name: required field missing",
				"aws_secret: all or none of these fields must be set: 'config.aws_key', 'config.aws_secret'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, errs := lambdaSchema{rt: newLambdaRuntime(LambdaSettings{})}.Validate(tc.cfg, nil)
			if v != nil {
				t.Errorf("returned a config with errors")
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Path+": "+e.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// The schema runs through the real declarative loader: paths are prefixed
// with the plugin's path and ".config".
func TestLambdaSchemaThroughLoader(t *testing.T) {
	reg := lambdaRegistry{LambdaKinds(LambdaSettings{})[0]}
	src := `
_format_version: "3.0"
services:
- name: s
  url: http://example.test
  routes:
  - name: r
    paths: [/fn]
    plugins:
    - name: aws-lambda
      config:
        function_name: f
        aws_key: k
`
	_, err := declarative.Load([]byte(src), declarative.Options{Registry: reg})
	if err == nil || !strings.Contains(declarative.FormatText(err), "config.aws_secret") ||
		!strings.Contains(declarative.FormatText(err), msgAllOrNone) {
		t.Fatalf("error = %v", err)
	}
	src = strings.Replace(src, "aws_key: k", "aws_region: us-east-1", 1)
	cfg, err := declarative.Load([]byte(src), declarative.Options{Registry: reg})
	if err != nil {
		t.Fatal(declarative.FormatText(err))
	}
	l, ok := cfg.Plugins[0].Config.(*Lambda)
	if !ok || l.Config.FunctionName != "f" || l.Config.Region != "us-east-1" {
		t.Fatalf("plugin config %#v", cfg.Plugins[0].Config)
	}
	if l.Phases() != 0x10 {
		t.Errorf("phases %v", l.Phases())
	}
}

type lambdaRegistry []declarative.PluginKind

func (r lambdaRegistry) Lookup(name string) (declarative.PluginKind, bool) {
	for _, k := range r {
		if k.Name == name {
			return k, true
		}
	}
	return declarative.PluginKind{}, false
}
